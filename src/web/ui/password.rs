//! `{issuer}/password/forgot` (ask for a reset link by mail), `{issuer}/password/reset/{token}`
//! and `{issuer}/invite/{token}` (choose a password through a link: the same page with two
//! wordings). Opening a link consumes nothing (mail scanners fetch links); the POST redeems
//! it. Every form carries the CSRF token; the link's token travels in the form too.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::domain::user::NewPassword;
use crate::service::links::Purpose;
use crate::service::{Error, mail, reset};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::account::read_form;
use super::login::{service_error, tenant_path};
use super::{csrf, render};

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    login_link: String,
    request_id: &'a str,
}

/// A page with a message and at most one link onward. It carries no request id and nothing
/// else that changes per request: the forgot-password answer must be byte-for-byte the same
/// for every address.
#[derive(Template)]
#[template(path = "password_message.html")]
struct MessagePage<'a> {
    tenant_name: &'a str,
    title: &'a str,
    message: &'a str,
    link: Option<(String, &'a str)>,
}

#[derive(Template)]
#[template(path = "password_new.html")]
struct NewPasswordPage<'a> {
    tenant_name: &'a str,
    heading: &'static str,
    intro: &'static str,
    button: &'static str,
    email: &'a str,
    action: String,
    csrf: &'a str,
    token: &'a str,
    error: Option<&'a str>,
    request_id: &'a str,
}

/// What the page says for each kind of link.
struct Wording {
    heading: &'static str,
    intro: &'static str,
    button: &'static str,
    done_title: &'static str,
    done_message: &'static str,
    /// Where the form posts (under the issuer).
    page: &'static str,
}

fn wording(purpose: Purpose) -> Wording {
    match purpose {
        Purpose::Invite => Wording {
            heading: "Welcome",
            intro: "You were invited. Choose the password you will sign in with.",
            button: "Set password",
            done_title: "Your password is set",
            done_message: "Your account is ready. Sign in with your email address and the \
                           password you just chose.",
            page: "invite",
        },
        _ => Wording {
            heading: "Choose a new password",
            intro: "Choose a new password for your account. You will be signed out \
                    everywhere, and you sign in again with the new one.",
            button: "Change password",
            done_title: "Your password was changed",
            done_message: "You were signed out everywhere. Sign in with your new password.",
            page: "password/reset",
        },
    }
}

fn message(
    status: StatusCode,
    tenant: &Tenant,
    title: &str,
    text: &str,
    link: Option<(String, &str)>,
) -> Response {
    let page = MessagePage {
        tenant_name: &tenant.display_name,
        title,
        message: text,
        link,
    };
    render(status, &page)
}

/// Mail is off: nothing here can send a link, so the pages say so (and the login page offers
/// no link to them).
fn unavailable(app: &App, tenant: &Tenant) -> Response {
    message(
        StatusCode::NOT_FOUND,
        tenant,
        "Password reset is not available",
        "Password reset is not available here. Ask the administrator of this service to set \
         a new password for you.",
        Some((tenant_path(&app.config, tenant, "login"), "Back to sign in")),
    )
}

/// The one answer for a link that does not work, whatever the reason (unknown, used,
/// expired, another tenant's): nothing tells them apart.
fn invalid_link(app: &App, tenant: &Tenant) -> Response {
    let again = mail::enabled(app).then(|| {
        (
            tenant_path(&app.config, tenant, "password/forgot"),
            "Ask for a new link",
        )
    });
    message(
        StatusCode::GONE,
        tenant,
        "This link is no longer valid",
        "This link is no longer valid: links work once and for a limited time. Ask for a new \
         one, or ask the administrator of this service.",
        again,
    )
}

/// A service failure as a page: a throttled request gets a neutral 429 with `Retry-After`
/// (it says nothing about the address); the rest as every page renders them.
fn failure(e: Error, request_id: &str) -> Response {
    match e {
        Error::RateLimited { retry_after } => {
            let mut res = super::page_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                "There were too many requests. Wait a moment and try again.",
                request_id,
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        other => service_error(other, request_id),
    }
}

fn show_forgot(
    app: &App,
    tenant: &Tenant,
    jar: CookieJar,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    request_id: &str,
) -> Response {
    let (jar, token) = csrf::issue(jar, &app.config, tenant);
    let page = ForgotPage {
        tenant_name: &tenant.display_name,
        action: tenant_path(&app.config, tenant, "password/forgot"),
        csrf: &token,
        email,
        error,
        login_link: tenant_path(&app.config, tenant, "login"),
        request_id,
    };
    (jar, render(status, &page)).into_response()
}

/// `GET {issuer}/password/forgot`: the form asking for the address.
pub async fn forgot_show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
) -> Response {
    if !mail::enabled(&app) {
        return unavailable(&app, &tenant);
    }
    show_forgot(&app, &tenant, jar, StatusCode::OK, "", None, &req.0)
}

#[derive(Deserialize, Default)]
pub struct ForgotForm {
    csrf: Option<String>,
    email: Option<String>,
}

/// `POST {issuer}/password/forgot`: the same answer for every well-formed address, sent after
/// the link and its mail (if any) are committed.
pub async fn forgot_submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(_, ip): RequestContext,
    jar: CookieJar,
    form: Result<Form<ForgotForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !mail::enabled(&app) {
        return unavailable(&app, &tenant);
    }
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let email = form.email.unwrap_or_default();
    match reset::request(&app, &tenant, &email, ip).await {
        Ok(()) => message(
            StatusCode::OK,
            &tenant,
            "Check your mail",
            "If an account with this address exists here, a link to choose a new password is \
             on its way to it. The link works once, for 30 minutes.",
            Some((
                tenant_path(&app.config, &tenant, "login"),
                "Back to sign in",
            )),
        ),
        Err(Error::Invalid(why)) => {
            let shown: String = email.chars().take(254).collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            show_forgot(&app, &tenant, jar, status, shown.trim(), Some(&why), &req.0)
        }
        Err(e) => failure(e, &req.0),
    }
}

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The choose-a-password form for a working link, or the invalid-link page.
#[allow(clippy::too_many_arguments)]
async fn show_link(
    app: &App,
    tenant: &Tenant,
    jar: CookieJar,
    purpose: Purpose,
    raw: &str,
    status: StatusCode,
    error: Option<&str>,
    request_id: &str,
) -> Response {
    let link = match reset::check(app, tenant, purpose, raw).await {
        Ok(Some(link)) => link,
        Ok(None) => return invalid_link(app, tenant),
        Err(e) => return failure(e, request_id),
    };
    let w = wording(purpose);
    let (jar, token) = csrf::issue(jar, &app.config, tenant);
    let page = NewPasswordPage {
        tenant_name: &tenant.display_name,
        heading: w.heading,
        intro: w.intro,
        button: w.button,
        email: &link.email,
        action: tenant_path(&app.config, tenant, w.page),
        csrf: &token,
        token: raw,
        error,
        request_id,
    };
    (jar, render(status, &page)).into_response()
}

async fn open(
    app: AppState,
    tenant: Tenant,
    jar: CookieJar,
    purpose: Purpose,
    raw: &str,
    request_id: &str,
) -> Response {
    show_link(
        &app,
        &tenant,
        jar,
        purpose,
        raw,
        StatusCode::OK,
        None,
        request_id,
    )
    .await
}

/// `GET {issuer}/password/reset/{token}`.
pub async fn reset_path(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Path(p): Path<TokenPath>,
) -> Response {
    open(app, tenant, jar, Purpose::Reset, &p.token, &req.0).await
}

/// `GET {issuer}/password/reset?token=...`.
pub async fn reset_query(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Response {
    let raw = q.token.unwrap_or_default();
    open(app, tenant, jar, Purpose::Reset, &raw, &req.0).await
}

/// `GET {issuer}/invite/{token}`.
pub async fn invite_path(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Path(p): Path<TokenPath>,
) -> Response {
    open(app, tenant, jar, Purpose::Invite, &p.token, &req.0).await
}

/// `GET {issuer}/invite?token=...`.
pub async fn invite_query(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Response {
    let raw = q.token.unwrap_or_default();
    open(app, tenant, jar, Purpose::Invite, &raw, &req.0).await
}

#[derive(Deserialize, Default)]
pub struct NewPasswordForm {
    csrf: Option<String>,
    token: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

/// The POST of either link page: both passwords equal and within the rules, then the link is
/// redeemed and the password set (everything of the old one ends).
async fn choose(
    app: AppState,
    tenant: Tenant,
    req: RequestId,
    ctx: crate::service::Context,
    jar: CookieJar,
    purpose: Purpose,
    form: Result<Form<NewPasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let raw = form.token.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let checked = if Some(&password) != form.confirm.as_ref() {
        Err("confirm: the two passwords are not the same.".to_owned())
    } else {
        NewPassword::parse(&password).map_err(|e| format!("password: {e}."))
    };
    let password = match checked {
        Ok(p) => p,
        Err(error) => {
            // The form again, as long as the link still works; nothing was used up.
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let (app, tenant) = (&app, &tenant);
            return show_link(
                app,
                tenant,
                jar,
                purpose,
                &raw,
                status,
                Some(&error),
                &req.0,
            )
            .await;
        }
    };
    match reset::complete(&app, &tenant, purpose, &raw, &password, &ctx).await {
        Ok(Some(user)) => {
            let w = wording(purpose);
            let hint: String =
                url::form_urlencoded::byte_serialize(user.email.as_str().as_bytes()).collect();
            let login = format!(
                "{}?login_hint={hint}",
                tenant_path(&app.config, &tenant, "login")
            );
            message(
                StatusCode::OK,
                &tenant,
                w.done_title,
                w.done_message,
                Some((login, "Sign in")),
            )
        }
        Ok(None) => invalid_link(&app, &tenant),
        Err(e) => failure(e, &req.0),
    }
}

/// `POST {issuer}/password/reset`.
pub async fn reset_submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<NewPasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    choose(app, tenant, req, ctx, jar, Purpose::Reset, form).await
}

/// `POST {issuer}/invite`.
pub async fn invite_submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<NewPasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    choose(app, tenant, req, ctx, jar, Purpose::Invite, form).await
}

/// The pages under `/t/{tenant}` (auth plane).
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/t/{tenant}/password/forgot",
            get(forgot_show).post(forgot_submit),
        )
        .route(
            "/t/{tenant}/password/reset",
            get(reset_query).post(reset_submit),
        )
        .route("/t/{tenant}/password/reset/{token}", get(reset_path))
        .route("/t/{tenant}/invite", get(invite_query).post(invite_submit))
        .route("/t/{tenant}/invite/{token}", get(invite_path))
}
