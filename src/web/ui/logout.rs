//! `POST {issuer}/logout` from our own pages: ends the session (CSRF-checked) and shows the
//! signed-out page.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::sessions;
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::login::{service_error, tenant_path};
use super::{cookies, csrf, render};

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOut<'a> {
    tenant_name: &'a str,
    login_link: String,
}

#[derive(Deserialize, Default)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let submitted = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
    if !csrf::verify(&jar, &app.config, &tenant, submitted) {
        return csrf::rejected(&req.0);
    }
    if let Some(token) = cookies::get(&jar, &app.config, cookies::SESSION)
        && let Err(e) = sessions::logout(&app, &tenant, &token, &ctx).await
    {
        return service_error(e, &req.0);
    }
    let jar = jar.add(cookies::removal(&app.config, cookies::SESSION));
    let page = SignedOut {
        tenant_name: &tenant.display_name,
        login_link: tenant_path(&app.config, &tenant, "login"),
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}
