//! `POST {issuer}/account/sessions/end` (one of the user's other sessions, named by its
//! public `sid`) and `POST {issuer}/account/sessions/end-others`: the Sessions section's
//! buttons. The `sid` is looked up among this user's sessions in this tenant only.

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
use crate::service::account::sessions;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

#[derive(Deserialize, Default)]
pub struct EndForm {
    csrf: Option<String>,
    sid: Option<String>,
}

pub async fn end(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<EndForm>, axum::extract::rejection::FormRejection>,
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
    let sid = form.sid.unwrap_or_default();
    match sessions::end(&app, &tenant, &signed.current, &sid, &ctx).await {
        Ok(()) => see_other(&format!("{here}?notice=session-ended")),
        Err(e) => refused(e, &req.0),
    }
}

#[derive(Deserialize, Default)]
pub struct EndOthersForm {
    csrf: Option<String>,
}

pub async fn end_others(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<EndOthersForm>, axum::extract::rejection::FormRejection>,
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
    match sessions::end_others(&app, &tenant, &signed.current, &ctx).await {
        Ok(0) => see_other(&format!("{here}?notice=no-other-sessions")),
        Ok(_) => see_other(&format!("{here}?notice=sessions-ended")),
        Err(e) => refused(e, &req.0),
    }
}
