//! Adding a passkey on the account page (issue 12): `POST {issuer}/account/passkeys/options`
//! (`{"csrf", "name"}` → the creation options) and `POST {issuer}/account/passkeys`
//! (`{"csrf", "ceremony", "credential"}` → `{"next": url}`), called by the page's script.
//! Like every change on the account page they need a sign-in younger than five minutes;
//! otherwise the answer is 403 `reauthenticate` with the sign-in page to go to. The ceremony
//! is bound to the browser's session and to its user. Removing a passkey is the page's
//! ordinary Remove form.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde_json::json;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::factors::account::Standing;
use crate::service::factors::webauthn::binding;
use crate::service::factors::webauthn_register;
use crate::service::sessions;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::super::login::tenant_path;
use super::super::passkey_json::{self as pj, FinishBody, StartBody};
use super::{Signed, signed_in, with_return};

/// The signed-in browser, fresh enough to change factors, or the JSON refusal: 401 without
/// a session (or before the second step), 403 `reauthenticate` when the sign-in is too old.
async fn fresh(
    app: &App,
    tenant: &Tenant,
    jar: &CookieJar,
    request_id: &str,
) -> Result<Signed, Box<Response>> {
    let here = tenant_path(&app.config, tenant, "account");
    let signed = signed_in(app, tenant, jar, &here, request_id)
        .await
        .map_err(|_| {
            Box::new(pj::error(
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "session: sign in (with your second factor, if you have one) first",
            ))
        })?;
    if signed.standing != Standing::Fresh {
        let next = with_return(app, tenant, "login", &here);
        let body = json!({
            "error": "reauthenticate",
            "message": "session: the last sign-in was more than five minutes ago; sign in again",
            "next": next,
        });
        let mut res = pj::ok(body);
        *res.status_mut() = StatusCode::FORBIDDEN;
        return Err(Box::new(res));
    }
    Ok(signed)
}

/// The longest name field read at all (64 characters of up to 4 bytes each).
const NAME_MAX_BYTES: usize = crate::service::factors::NAME_MAX_CHARS * 4;

/// `POST {issuer}/account/passkeys/options`: starts adding a passkey.
pub async fn options(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body: StartBody = match pj::read_checked(&headers, body, &jar, &app.config, &tenant) {
        Ok(b) => b,
        Err(res) => return *res,
    };
    let signed = match fresh(&app, &tenant, &jar, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let name = body.name.unwrap_or_default();
    if name.len() > NAME_MAX_BYTES {
        return pj::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "name: use 1 to 64 characters",
        );
    }
    let user = &signed.current.user;
    let bound = binding(&signed.token);
    match webauthn_register::begin(&app, &tenant, user, &bound, &name).await {
        Ok(started) => pj::ok(started),
        Err(e) => pj::service_error(e, &req.0),
    }
}

/// `POST {issuer}/account/passkeys`: stores the new passkey. The session counts the
/// ceremony's user verification as a fresh use of the new factor, like a first TOTP code.
pub async fn finish(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body: FinishBody = match pj::read_checked(&headers, body, &jar, &app.config, &tenant) {
        Ok(b) => b,
        Err(res) => return *res,
    };
    let signed = match fresh(&app, &tenant, &jar, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let user = &signed.current.user;
    let bound = binding(&signed.token);
    let added = match webauthn_register::finish(
        &app,
        &tenant,
        user,
        &bound,
        &body.ceremony,
        &body.credential,
        &ctx,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return pj::service_error(e, &req.0),
    };
    if let Err(e) = sessions::step_up(&app, &tenant, &signed.token, &[added.amr]).await {
        return pj::service_error(e, &req.0);
    }
    let account = tenant_path(&app.config, &tenant, "account");
    // A first factor: the page then offers the recovery codes that stand in for it.
    let notice = if added.first {
        "passkey-first"
    } else {
        "passkey-added"
    };
    pj::ok(json!({ "next": format!("{account}?notice={notice}"), "factor": added.factor.id }))
}
