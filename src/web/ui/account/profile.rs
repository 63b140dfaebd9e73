//! `GET/POST {issuer}/account/profile`: the user edits their own profile claims (names,
//! nickname, language, time zone). A refused field shows the form again with what was typed
//! and the error naming the field (422); a saved one goes back to the account page.

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
use crate::service::Error;
use crate::service::account::profile::{self, ProfileInput};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage<'a> {
    tenant_name: &'a str,
    email: &'a str,
    action: String,
    csrf: &'a str,
    v: ProfileInput,
    error: Option<String>,
    /// The field the error is about (marked `aria-invalid`).
    error_field: String,
    back_link: String,
    request_id: &'a str,
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
) -> Response {
    let here = tenant_path(&app.config, &tenant, "account/profile");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let user = &signed.current.user;
    let page = ProfilePage {
        tenant_name: &tenant.display_name,
        email: user.email.as_str(),
        action: here,
        csrf: &token,
        v: ProfileInput::of(user),
        error: None,
        error_field: String::new(),
        back_link: tenant_path(&app.config, &tenant, "account"),
        request_id: &req.0,
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

#[derive(Deserialize, Default)]
pub struct ProfileForm {
    csrf: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    locale: Option<String>,
    zoneinfo: Option<String>,
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<ProfileForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let here = tenant_path(&app.config, &tenant, "account/profile");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let user = &signed.current.user;
    // A field the form does not send stays as it is.
    let stored = ProfileInput::of(user);
    let input = ProfileInput {
        given_name: form.given_name.unwrap_or(stored.given_name),
        family_name: form.family_name.unwrap_or(stored.family_name),
        name: form.name.unwrap_or(stored.name),
        nickname: form.nickname.unwrap_or(stored.nickname),
        locale: form.locale.unwrap_or(stored.locale),
        zoneinfo: form.zoneinfo.unwrap_or(stored.zoneinfo),
    };
    let account = tenant_path(&app.config, &tenant, "account");
    match profile::update(&app, &tenant, user, &input, &ctx).await {
        Ok(changed) if changed.is_empty() => {
            see_other(&format!("{account}?notice=profile-unchanged"))
        }
        Ok(_) => see_other(&format!("{account}?notice=profile")),
        Err(Error::Invalid(m)) => {
            let (jar, token) = csrf::issue(jar, &app.config, &tenant);
            let error_field = m.split_whitespace().next().unwrap_or_default().to_owned();
            let page = ProfilePage {
                tenant_name: &tenant.display_name,
                email: user.email.as_str(),
                action: here,
                csrf: &token,
                v: input,
                error: Some(m),
                error_field,
                back_link: account,
                request_id: &req.0,
            };
            (jar, render(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response()
        }
        Err(e) => refused(e, &req.0),
    }
}
