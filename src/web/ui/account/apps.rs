//! `POST {issuer}/account/apps/revoke`: the Applications section's Revoke button. The client
//! id is looked up among this user's consents in this tenant only; revoking ends the client's
//! tokens for the user too (`service::account::apps`).

use axum::Extension;
use axum::extract::{Form, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::super::csrf;
use super::super::login::tenant_path;
use super::sections::refused;
use super::{read_form, see_other, signed_in};
use crate::app::AppState;
use crate::service::account::apps;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

#[derive(Deserialize, Default)]
pub struct RevokeForm {
    csrf: Option<String>,
    client: Option<String>,
}

pub async fn revoke(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<RevokeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let here = tenant_path(&app.config, &tenant, "account");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let client = form.client.unwrap_or_default();
    match apps::revoke(&app, &tenant, &signed.current.user, &client, &ctx).await {
        Ok(()) => see_other(&format!("{here}?notice=app-revoked")),
        Err(e) => refused(e, &req.0),
    }
}
