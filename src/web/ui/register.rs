//! `GET/POST {issuer}/register`: the sign-up page (issue 13). Served only where the tenant
//! opened registration and mail is on; otherwise both answer 404 "registration is closed".
//! A sign-up ends on the same "check your inbox" page whether the address was new or taken.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::Error;
use crate::service::register::{self, SignUp};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::account::read_form;
use super::login::{service_error, tenant_path};
use super::{csrf, page_error, render};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf: &'a str,
    email: &'a str,
    name: &'a str,
    error: Option<&'a str>,
    login_link: String,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "register_sent.html")]
struct SentPage<'a> {
    tenant_name: &'a str,
    email: &'a str,
    login_link: String,
    request_id: &'a str,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    csrf: Option<String>,
    email: Option<String>,
    password: Option<String>,
    password_again: Option<String>,
    name: Option<String>,
}

/// The page for a tenant that takes no sign-ups (or has no mail to prove addresses with).
fn closed(request_id: &str) -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "Registration is closed",
        "This site does not take sign-ups. Ask its administrator for an account.",
        request_id,
    )
}

fn form_page<'a>(
    app: &App,
    tenant: &'a Tenant,
    csrf: &'a str,
    request_id: &'a str,
) -> RegisterPage<'a> {
    RegisterPage {
        tenant_name: &tenant.display_name,
        action: tenant_path(&app.config, tenant, "register"),
        csrf,
        email: "",
        name: "",
        error: None,
        login_link: tenant_path(&app.config, tenant, "login"),
        request_id,
    }
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
) -> Response {
    if !register::open(&app, &tenant) {
        return closed(&req.0);
    }
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let page = form_page(&app, &tenant, &token, &req.0);
    (jar, render(StatusCode::OK, &page)).into_response()
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, ip): RequestContext,
    jar: CookieJar,
    form: Result<Form<RegisterForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !register::open(&app, &tenant) {
        return closed(&req.0);
    }
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let email = form.email.unwrap_or_default();
    let name = form.name.unwrap_or_default();
    let sign_up = SignUp {
        email: &email,
        password: form.password.as_deref().unwrap_or_default(),
        password_again: form.password_again.as_deref().unwrap_or_default(),
        name: &name,
        ip,
    };
    match register::sign_up(&app, &tenant, sign_up, &ctx).await {
        Ok(()) => {
            let page = SentPage {
                tenant_name: &tenant.display_name,
                email: email.trim(),
                login_link: tenant_path(&app.config, &tenant, "login"),
                request_id: &req.0,
            };
            render(StatusCode::OK, &page)
        }
        Err(Error::NotFound(_)) => closed(&req.0),
        Err(Error::Invalid(message)) => {
            // The form again with what was typed (never the passwords) and the field named.
            let (jar, token) = csrf::issue(jar, &app.config, &tenant);
            let page = RegisterPage {
                email: email.trim(),
                name: name.trim(),
                error: Some(&message),
                ..form_page(&app, &tenant, &token, &req.0)
            };
            (jar, render(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response()
        }
        Err(e) => service_error(e, &req.0),
    }
}

/// The sign-up routes under `/t/{tenant}`.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/t/{tenant}/register", get(show).post(submit))
}
