//! `GET/POST {issuer}/account/totp[?return_to=]`: adding an authenticator app. The page shows
//! the key URI as a QR code (inline SVG) and the secret as text; the first code from the app
//! confirms it. The pending enrolment's id travels in the form but is looked up only among
//! the signed-in user's own rows. With `return_to` (an authorization request that needs a
//! second factor) the session is stepped up and the browser goes back there.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::factors::{self, account, recovery, totp};
use crate::service::{Context, Error};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::super::login::{service_error, tenant_path, valid_return_to};
use super::super::{csrf, page_error, render};
use super::{Signed, codes_page, qr, read_form, require_fresh, see_other, signed_in};

/// The name a new authenticator app gets unless the user types another.
const DEFAULT_NAME: &str = "Authenticator app";
/// The longest name field read at all (64 characters of up to 4 bytes each).
const NAME_MAX_BYTES: usize = factors::NAME_MAX_CHARS * 4;

#[derive(Template)]
#[template(path = "account/totp.html")]
struct EnrolPage<'a> {
    tenant_name: &'a str,
    action: &'a str,
    csrf: &'a str,
    factor_id: &'a str,
    qr_svg: Option<String>,
    secret_groups: String,
    name: &'a str,
    error: Option<&'a str>,
    return_to: Option<&'a str>,
    back_link: String,
    request_id: &'a str,
}

/// The secret in groups of four, as apps that take it typed show it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// This page's own address, with its `return_to` (for coming back after signing in again).
fn here(app: &App, tenant: &Tenant, return_to: Option<&str>) -> String {
    let page = tenant_path(&app.config, tenant, "account/totp");
    match return_to {
        Some(r) => {
            let enc: String = url::form_urlencoded::byte_serialize(r.as_bytes()).collect();
            format!("{page}?return_to={enc}")
        }
        None => page,
    }
}

fn bad_return_to(request_id: &str) -> Response {
    page_error(
        StatusCode::BAD_REQUEST,
        "Invalid request",
        "return_to: the page to return to is not allowed.",
        request_id,
    )
}

/// `return_to` from a query or form: absent, or valid for this tenant.
fn parse_return_to(app: &App, tenant: &Tenant, raw: Option<&str>) -> Result<Option<String>, ()> {
    match raw.filter(|s| !s.is_empty()) {
        Some(r) => valid_return_to(&app.config, tenant, r).map(Some).ok_or(()),
        None => Ok(None),
    }
}

struct Shown<'a> {
    factor_id: &'a str,
    secret: &'a str,
    uri: &'a str,
    name: &'a str,
}

/// What every rendering of the enrolment page shares within one request.
struct View<'a> {
    app: &'a App,
    tenant: &'a Tenant,
    csrf: &'a str,
    return_to: Option<&'a str>,
    request_id: &'a str,
}

impl View<'_> {
    fn page(&self, shown: Shown<'_>, error: Option<&str>, status: StatusCode) -> Response {
        let (config, tenant) = (&self.app.config, self.tenant);
        let action = tenant_path(config, tenant, "account/totp");
        let page = EnrolPage {
            tenant_name: &tenant.display_name,
            action: &action,
            csrf: self.csrf,
            factor_id: shown.factor_id,
            qr_svg: qr::svg(shown.uri),
            secret_groups: grouped(shown.secret),
            name: shown.name,
            error,
            return_to: self.return_to,
            back_link: tenant_path(config, tenant, "account"),
            request_id: self.request_id,
        };
        render(status, &page)
    }

    /// Starts an enrolment and shows it (after any checks the caller made).
    async fn start(&self, user: &User, error: Option<&str>, status: StatusCode) -> Response {
        match totp::begin(self.app, self.tenant, user, DEFAULT_NAME).await {
            Ok(e) => {
                let shown = Shown {
                    factor_id: &e.factor_id,
                    secret: &e.secret,
                    uri: &e.uri,
                    name: DEFAULT_NAME,
                };
                self.page(shown, error, status)
            }
            Err(Error::Conflict(m)) => page_error(
                StatusCode::CONFLICT,
                "Too many factors",
                &m,
                self.request_id,
            ),
            Err(e) => service_error(e, self.request_id),
        }
    }

    /// The same pending enrolment again with an error (a mistyped code keeps the QR code the
    /// phone already scanned); a new one when it expired or was never this user's.
    async fn again(&self, user: &User, factor_id: &str, error: &str, name: &str) -> Response {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        match account::pending(self.app, self.tenant, user, factor_id).await {
            Ok(p) => {
                let shown = Shown {
                    factor_id: &p.factor_id,
                    secret: &p.secret,
                    uri: &p.uri,
                    name,
                };
                self.page(shown, Some(error), status)
            }
            Err(Error::NotFound(_)) => {
                let msg =
                    "That enrolment has expired. Scan this new code and enter its first code.";
                self.start(user, Some(msg), status).await
            }
            Err(e) => service_error(e, self.request_id),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct EnrolQuery {
    return_to: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<EnrolQuery>,
) -> Response {
    let Ok(return_to) = parse_return_to(&app, &tenant, q.return_to.as_deref()) else {
        return bad_return_to(&req.0);
    };
    let here = here(&app, &tenant, return_to.as_deref());
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    if let Some(res) = require_fresh(&app, &tenant, &signed, &here) {
        return res;
    }
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let user = &signed.current.user;
    let view = View {
        app: &app,
        tenant: &tenant,
        csrf: &token,
        return_to: return_to.as_deref(),
        request_id: &req.0,
    };
    let res = view.start(user, None, StatusCode::OK).await;
    (jar, res).into_response()
}

#[derive(Deserialize, Default)]
pub struct EnrolForm {
    csrf: Option<String>,
    factor: Option<String>,
    name: Option<String>,
    code: Option<String>,
    return_to: Option<String>,
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<EnrolForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match read_form(form, &req.0) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let Ok(return_to) = parse_return_to(&app, &tenant, form.return_to.as_deref()) else {
        return bad_return_to(&req.0);
    };
    let here = here(&app, &tenant, return_to.as_deref());
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    if let Some(res) = require_fresh(&app, &tenant, &signed, &here) {
        return res;
    }
    let factor_id = form.factor.unwrap_or_default();
    let name = form.name.unwrap_or_default();
    let code = form.code.unwrap_or_default();
    let user = &signed.current.user;
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let view = View {
        app: &app,
        tenant: &tenant,
        csrf: &token,
        return_to: return_to.as_deref(),
        request_id: &req.0,
    };
    if name.len() > NAME_MAX_BYTES {
        let res = view.again(user, &factor_id, NAME_ERROR, DEFAULT_NAME).await;
        return (jar, res).into_response();
    }
    let res =
        match account::confirm_named(&app, &tenant, user, &factor_id, &name, &code, &ctx).await {
            Ok(_) => {
                return confirmed(&app, &tenant, &signed, return_to.as_deref(), &ctx, &req.0).await;
            }
            Err(Error::Invalid(m)) if m.starts_with("name") => {
                view.again(user, &factor_id, NAME_ERROR, DEFAULT_NAME).await
            }
            Err(Error::Invalid(_)) => view.again(user, &factor_id, CODE_ERROR, name.trim()).await,
            Err(Error::NotFound(_)) => view.again(user, &factor_id, CODE_ERROR, name.trim()).await,
            Err(Error::Forbidden(_)) => page_error(
                StatusCode::FORBIDDEN,
                "Account locked",
                "Too many wrong codes: the account is locked for a while. Try again later.",
                &req.0,
            ),
            Err(e) => service_error(e, &req.0),
        };
    (jar, res).into_response()
}

const NAME_ERROR: &str = "Name: use 1 to 64 characters.";
const CODE_ERROR: &str =
    "Code from the app: that is not the app's current code. Enter the six digits it shows now.";

/// After a confirmed enrolment: the session counts the code it just saw as its second factor;
/// a first factor shows the recovery codes at once; then back to `return_to` or the account.
async fn confirmed(
    app: &App,
    tenant: &Tenant,
    signed: &Signed,
    return_to: Option<&str>,
    ctx: &Context,
    request_id: &str,
) -> Response {
    // The code just typed is a one-time password (RFC 8176 `otp`); `step_up` adds `mfa`.
    if let Err(e) = crate::service::sessions::step_up(app, tenant, &signed.token, &["otp"]).await {
        return service_error(e, request_id);
    }
    let account = tenant_path(&app.config, tenant, "account");
    if signed.factors.is_empty() {
        let next = return_to.map_or(account, str::to_owned);
        return match recovery::create(app, tenant, &signed.current.user, ctx).await {
            Ok(codes) => codes_page(tenant, codes, true, &next),
            Err(e) => service_error(e, request_id),
        };
    }
    match return_to {
        Some(r) => see_other(r),
        None => see_other(&format!("{account}?notice=added")),
    }
}
