//! Email verification pages (issue 13). `GET {issuer}/email/verify/{token}` shows a Confirm
//! button and consumes nothing (mail scanners fetch links); the POST (with CSRF) uses the
//! link. `POST {issuer}/account/verify` is the account page's "Send a verification mail".

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::AppState;
use crate::protocol::limits;
use crate::service::Error;
use crate::service::verify::{self, Confirmed, Requested};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::account::{read_form, see_other, signed_in};
use super::login::{service_error, tenant_path};
use super::{csrf, page_error, render};

#[derive(Template)]
#[template(path = "verify.html")]
struct ConfirmPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "verify_done.html")]
struct DonePage<'a> {
    tenant_name: &'a str,
    email: &'a str,
    signed_up: bool,
    next_link: String,
    request_id: &'a str,
}

#[derive(Deserialize)]
pub struct TokenParam {
    token: String,
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// An unknown, used, expired or other tenant's link: all the same page.
fn invalid(request_id: &str) -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "The confirmation link is unknown, was used already or has expired. Sign in and ask for a new one from your account page.",
        request_id,
    )
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    Path(TokenParam { token }): Path<TokenParam>,
    jar: CookieJar,
) -> Response {
    // Bounded before use (links are 43 characters); `service::links` refuses longer ones too.
    if token.len() > limits::TOKEN {
        return invalid(&req.0);
    }
    match verify::peek(&app, &tenant, &token).await {
        Ok(true) => {}
        Ok(false) => return invalid(&req.0),
        Err(e) => return service_error(e, &req.0),
    }
    let (jar, csrf) = csrf::issue(jar, &app.config, &tenant);
    let page = ConfirmPage {
        tenant_name: &tenant.display_name,
        action: tenant_path(&app.config, &tenant, &format!("email/verify/{token}")),
        csrf: &csrf,
        request_id: &req.0,
    };
    (jar, render(StatusCode::OK, &page)).into_response()
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    Path(TokenParam { token }): Path<TokenParam>,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    if token.len() > limits::TOKEN {
        return invalid(&req.0);
    }
    match verify::confirm(&app, &tenant, &token, &ctx).await {
        Ok(Confirmed::Verified { email, signed_up }) => {
            let page = DonePage {
                tenant_name: &tenant.display_name,
                email: email.as_str(),
                signed_up,
                next_link: tenant_path(
                    &app.config,
                    &tenant,
                    if signed_up { "login" } else { "account" },
                ),
                request_id: &req.0,
            };
            render(StatusCode::OK, &page)
        }
        Ok(Confirmed::Stale) => page_error(
            StatusCode::CONFLICT,
            "This link is for another address",
            "The account's email address changed after this link was sent, so it confirms nothing. Use the link sent to the current address.",
            &req.0,
        ),
        Err(Error::NotFound(_)) => invalid(&req.0),
        Err(e) => service_error(e, &req.0),
    }
}

/// `POST {issuer}/account/verify`: mails a new link to the signed-in user's address.
pub async fn request(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
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
    match verify::request(&app, &tenant, signed.current.user.id).await {
        Ok(Requested::Sent) => see_other(&format!("{here}?notice=verify-sent")),
        Ok(Requested::AlreadyVerified) => see_other(&here),
        Err(Error::NotFound(_)) => page_error(
            StatusCode::NOT_FOUND,
            "Not available",
            "This site sends no mail, so it cannot confirm addresses.",
            &req.0,
        ),
        Err(e) => service_error(e, &req.0),
    }
}

/// The verification routes under `/t/{tenant}`.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/t/{tenant}/email/verify/{token}", get(show).post(submit))
        .route("/t/{tenant}/account/verify", post(request))
}
