//! `GET/POST {issuer}/account/password`: the user changes their own password. The current
//! password is the proof (no fresher sign-in is asked for); a wrong one counts like a failed
//! login. A refusal shows the form again, empty, with the error naming the field (422); a
//! change goes back to the account page, this browser still signed in.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::super::login::tenant_path;
use super::super::{csrf, render};
use super::sections::refused;
use super::{read_form, see_other, signed_in};
use crate::app::AppState;
use crate::domain::user::PASSWORD_MIN_CHARS;
use crate::service::Error;
use crate::service::account::password::{self, Change};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage<'a> {
    tenant_name: &'a str,
    email: &'a str,
    action: String,
    csrf: &'a str,
    min_chars: usize,
    error: Option<String>,
    /// The field the error is about (marked `aria-invalid`).
    error_field: &'a str,
    back_link: String,
    request_id: &'a str,
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
) -> Response {
    let here = tenant_path(&app.config, &tenant, "account/password");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let page = PasswordPage {
        tenant_name: &tenant.display_name,
        email: signed.current.user.email.as_str(),
        action: here,
        csrf: &token,
        min_chars: PASSWORD_MIN_CHARS,
        error: None,
        error_field: "",
        back_link: tenant_path(&app.config, &tenant, "account"),
        request_id: &req.0,
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    csrf: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
    new_password_repeat: Option<String>,
}

/// The page's words for a refused field (the service names the field first).
fn message(m: &str) -> (&'static str, String) {
    let (field, rest) = m.split_once(": ").unwrap_or(("", m));
    match field {
        "current_password" => ("current_password", format!("Current password: {rest}.")),
        "new_password" => ("new_password", format!("New password: {rest}.")),
        "new_password_repeat" => (
            "new_password_repeat",
            format!("New password again: {rest}."),
        ),
        _ => ("", m.to_owned()),
    }
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, ip): RequestContext,
    jar: CookieJar,
    form: Result<Form<PasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let here = tenant_path(&app.config, &tenant, "account/password");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let new = form.new_password.unwrap_or_default();
    let repeat = form.new_password_repeat.unwrap_or_default();
    let change = Change {
        current: form.current_password.unwrap_or_default(),
        new: &new,
        repeat: &repeat,
    };
    let account = tenant_path(&app.config, &tenant, "account");
    match password::change(&app, &tenant, &signed.current, change, ip, &ctx).await {
        Ok(_) => see_other(&format!("{account}?notice=password")),
        Err(Error::Invalid(m)) => {
            let (jar, token) = csrf::issue(jar, &app.config, &tenant);
            let (error_field, text) = message(&m);
            let page = PasswordPage {
                tenant_name: &tenant.display_name,
                email: signed.current.user.email.as_str(),
                action: here,
                csrf: &token,
                min_chars: PASSWORD_MIN_CHARS,
                error: Some(text),
                error_field,
                back_link: account,
                request_id: &req.0,
            };
            (jar, render(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response()
        }
        Err(e) => refused(e, &req.0),
    }
}
