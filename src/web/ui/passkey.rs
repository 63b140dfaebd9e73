//! Passkeys at sign-in (issue 12), the JSON endpoints the page's script calls:
//! `POST {issuer}/login/passkey/options` + `POST {issuer}/login/passkey` sign in with a passkey
//! alone (bound to the pre-login CSRF cookie; the session cookie is set like a password
//! login's), and `POST {issuer}/login/factor/passkey/options` + `POST
//! {issuer}/login/factor/passkey` use one as the second step (bound to the session). Each
//! finish answers `{"next": url}`, the page to go on to (`return_to`, validated like the
//! login form's).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde_json::json;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::factors::login as step;
use crate::service::factors::webauthn::{self, binding};
use crate::service::factors::{webauthn_factor, webauthn_signin};
use crate::service::login::{BAD_CREDENTIALS, Failed};
use crate::service::sessions::{self, Current};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::cookies;
use super::login::{tenant_path, valid_return_to};
use super::passkey_json::{self as pj, FinishBody, StartBody};

/// The validated `return_to` of a finish (default: the login page, as after a password login).
fn next_page(app: &App, tenant: &Tenant, raw: Option<&str>) -> Result<String, Box<Response>> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(tenant_path(&app.config, tenant, "login")),
        Some(r) => valid_return_to(&app.config, tenant, r).ok_or_else(|| {
            Box::new(pj::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "return_to: the page to return to after signing in is not allowed",
            ))
        }),
    }
}

/// A finish's body (JSON, CSRF-checked) and the page to go on to.
fn read_finish(
    app: &App,
    tenant: &Tenant,
    jar: &CookieJar,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(FinishBody, String), Box<Response>> {
    let body: FinishBody = pj::read_checked(headers, body, jar, &app.config, tenant)?;
    let next = next_page(app, tenant, body.return_to.as_deref())?;
    Ok((body, next))
}

/// The pre-login cookie's binding (the CSRF check has already required the cookie).
fn prelogin_binding(app: &App, jar: &CookieJar) -> String {
    binding(&cookies::get(jar, &app.config, cookies::CSRF).unwrap_or_default())
}

/// `POST {issuer}/login/passkey/options`: starts a passkey sign-in.
pub async fn signin_options(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(_, ip): RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(res) = pj::read_checked::<StartBody>(&headers, body, &jar, &app.config, &tenant) {
        return *res;
    }
    let bound = prelogin_binding(&app, &jar);
    match webauthn_signin::begin(&app, &tenant, &bound, ip).await {
        Ok(started) => pj::ok(started),
        Err(e) => pj::service_error(e, &req.0),
    }
}

/// `POST {issuer}/login/passkey`: finishes it; a new session cookie on success.
pub async fn signin_finish(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (body, next) = match read_finish(&app, &tenant, &jar, &headers, body) {
        Ok(read) => read,
        Err(res) => return *res,
    };
    let bound = prelogin_binding(&app, &jar);
    let done = match webauthn_signin::finish(
        &app,
        &tenant,
        &bound,
        &body.ceremony,
        &body.credential,
        &ctx,
    )
    .await
    {
        Ok(done) => done,
        Err(Failed::BadCredentials) => {
            let msg = format!("credential: this passkey was not accepted. {BAD_CREDENTIALS}");
            return pj::error(StatusCode::UNAUTHORIZED, "passkey_refused", &msg);
        }
        Err(Failed::Service(e)) => return pj::service_error(e, &req.0),
    };
    if let Some(previous) = cookies::session(&jar, &app.config, &tenant)
        && let Err(e) = sessions::discard(&app, &tenant, &previous).await
    {
        tracing::warn!(error = %e, "could not drop the replaced session");
    }
    let max_age = app.config.identity.session_lifetime.as_secs() as i64;
    let jar = jar.add(cookies::session_cookie(
        &app.config,
        &tenant,
        done.token,
        max_age,
    ));
    let next = via_notice(&app, &tenant, &done.user, next).await;
    (jar, pj::ok(json!({ "next": next }))).into_response()
}

/// `next`, or the recovery-code notice first when codes were used at earlier sign-ins (a
/// passkey completes a sign-in like the code form, which shows it itself). If that cannot be
/// read now, the notice waits for the next sign-in.
async fn via_notice(app: &App, tenant: &Tenant, user: &User, next: String) -> String {
    match step::has_recovery_news(app, tenant, user).await {
        Ok(true) => super::factor::with_return(app, tenant, "login/factor/notice", &next),
        Ok(false) => next,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the recovery-code notices");
            next
        }
    }
}

/// The browser's live session here, or the JSON 401.
async fn signed_in(
    app: &App,
    tenant: &Tenant,
    jar: &CookieJar,
    request_id: &str,
) -> Result<(String, Current), Box<Response>> {
    let not_signed_in = || {
        Box::new(pj::error(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "session: sign in with your password first",
        ))
    };
    let token = cookies::session(jar, &app.config, tenant).ok_or_else(not_signed_in)?;
    match sessions::current(app, tenant, &token).await {
        Ok(Some(c)) => Ok((token, c)),
        Ok(None) => Err(not_signed_in()),
        Err(e) => Err(Box::new(pj::service_error(e, request_id))),
    }
}

/// `POST {issuer}/login/factor/passkey/options`: starts the second step with a passkey.
pub async fn factor_options(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(res) = pj::read_checked::<StartBody>(&headers, body, &jar, &app.config, &tenant) {
        return *res;
    }
    let (token, current) = match signed_in(&app, &tenant, &jar, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    match webauthn_factor::begin(&app, &tenant, &current.user, &binding(&token)).await {
        Ok(started) => pj::ok(started),
        Err(e) => pj::service_error(e, &req.0),
    }
}

/// `POST {issuer}/login/factor/passkey`: checks the answer and steps the session up.
pub async fn factor_finish(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (body, next) = match read_finish(&app, &tenant, &jar, &headers, body) {
        Ok(read) => read,
        Err(res) => return *res,
    };
    let (token, current) = match signed_in(&app, &tenant, &jar, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let outcome = webauthn_factor::finish(
        &app,
        &tenant,
        &current,
        &token,
        &binding(&token),
        &body.ceremony,
        &body.credential,
        &ctx,
    )
    .await;
    match outcome {
        Ok(webauthn_factor::Outcome::Passed(_)) => {
            let next = via_notice(&app, &tenant, &current.user, next).await;
            pj::ok(json!({ "next": next }))
        }
        Ok(webauthn_factor::Outcome::Refused) => pj::error(
            StatusCode::UNAUTHORIZED,
            "passkey_refused",
            "credential: this passkey was not accepted. Try again or use another factor.",
        ),
        Ok(webauthn_factor::Outcome::CloneSuspected) => pj::error(
            StatusCode::UNAUTHORIZED,
            "passkey_refused",
            "credential: this passkey was refused because it may have been copied. \
             Use another factor and remove this passkey from your account.",
        ),
        Err(e) => pj::service_error(e, &req.0),
    }
}

/// What a page's passkey block needs: the ceremony's two endpoints and the script.
pub struct Block {
    pub options: String,
    pub finish: String,
    pub script: &'static str,
}

/// The passkey block of a page whose ceremony is at `{issuer}/{finish}` (and
/// `{finish}/options`); `None` where passkeys are unavailable (a public URL without a domain
/// name cannot be a WebAuthn RP id).
pub fn block(app: &App, tenant: &Tenant, finish: &str) -> Option<Block> {
    webauthn::relying_party(app, tenant).ok()?;
    Some(Block {
        options: tenant_path(&app.config, tenant, &format!("{finish}/options")),
        finish: tenant_path(&app.config, tenant, finish),
        script: super::SCRIPT_PATH,
    })
}
