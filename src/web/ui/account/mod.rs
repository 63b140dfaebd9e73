//! `{issuer}/account`: the signed-in user's own page (issue 12). It lists the second factors
//! with a Remove button each, links to adding an authenticator app (`totp`), offers adding a
//! passkey (`passkeys`, with the page's script), and creates
//! recovery codes (shown once). Looking needs the tenant's session (with its second factor
//! when the user has one); changing needs a sign-in younger than five minutes, otherwise the
//! browser is sent to sign in again and comes back here. Every form carries the CSRF token.
//! Issue 13 adds the self-service sections (`sections`): the profile (`profile`), a password
//! change (`password`), the live sessions (`sessions`) and the applications (`apps`); the
//! current password or the session itself is their proof, no fresher sign-in.

mod apps;
mod own_sessions;
pub mod passkeys;
mod password;
mod profile;
mod qr;
mod sections;
pub mod totp;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::factors::account::{Standing, standing};
use crate::service::factors::{self, FactorInfo, recovery};
use crate::service::{Error, sessions};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::login::{service_error, tenant_path};
use super::{SCRIPT_PATH, cookies, csrf, page_error, render, secure, with_script};

/// A signed-in browser on an account page.
pub(super) struct Signed {
    pub current: sessions::Current,
    pub token: String,
    pub factors: Vec<FactorInfo>,
    pub standing: Standing,
}

/// A 303 that carries the page security headers (and no-store).
pub(super) fn see_other(to: &str) -> Response {
    secure(Redirect::to(to).into_response())
}

/// `{page}?return_to={here}` for a tenant page.
fn with_return(app: &App, tenant: &Tenant, page: &str, here: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!(
        "{}?return_to={encoded}",
        tenant_path(&app.config, tenant, page)
    )
}

/// The browser's session here, or the redirect that gets one: sign in when there is none,
/// the second-factor step when the user has a factor the session has not seen. `here` is
/// the page to come back to.
pub(super) async fn signed_in(
    app: &App,
    tenant: &Tenant,
    jar: &CookieJar,
    here: &str,
    request_id: &str,
) -> Result<Signed, Box<Response>> {
    let to_login = || see_other(&with_return(app, tenant, "login", here));
    // Only this tenant's cookie is read, and the lookup is scoped to this tenant: another
    // tenant's session never opens this page.
    let Some(token) = cookies::session(jar, &app.config, tenant) else {
        return Err(Box::new(to_login()));
    };
    let current = match sessions::current(app, tenant, &token).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Box::new(to_login())),
        Err(e) => return Err(Box::new(service_error(e, request_id))),
    };
    let factors = factors::list(app, tenant, current.user.id)
        .await
        .map_err(|e| Box::new(service_error(e, request_id)))?;
    let standing = standing(&current.session, !factors.is_empty(), app.clock.now());
    if standing == Standing::NeedsFactor {
        let to = with_return(app, tenant, "login/factor", here);
        return Err(Box::new(see_other(&to)));
    }
    Ok(Signed {
        current,
        token,
        factors,
        standing,
    })
}

/// `None` when the sign-in is recent enough to change factors; otherwise the redirect to sign
/// in again, coming back to `here`.
pub(super) fn require_fresh(
    app: &App,
    tenant: &Tenant,
    signed: &Signed,
    here: &str,
) -> Option<Response> {
    (signed.standing != Standing::Fresh)
        .then(|| see_other(&with_return(app, tenant, "login", here)))
}

/// Reads a posted form: 413 when too large, 400 when unreadable, naming the form.
pub(super) fn read_form<T>(
    form: Result<Form<T>, axum::extract::rejection::FormRejection>,
    request_id: &str,
) -> Result<T, Box<Response>> {
    let res = match form {
        Ok(Form(f)) => return Ok(f),
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => page_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Invalid request",
            "The form was too large.",
            request_id,
        ),
        Err(_) => page_error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form could not be read.",
            request_id,
        ),
    };
    Err(Box::new(res))
}

/// A factor as the page lists it.
struct Row {
    id: String,
    name: String,
    kind: &'static str,
    added: String,
    last_used: String,
}

/// A UTC date and time for the page (`2026-12-02 00:48 UTC`).
pub(super) fn when(t: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| "unknown".into())
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "totp" => "Authenticator app",
        "webauthn" => "Security key or passkey",
        _ => "Other",
    }
}

#[derive(Template)]
#[template(path = "account/overview.html")]
struct Overview<'a> {
    tenant_name: &'a str,
    email: &'a str,
    notice: Option<&'static str>,
    rows: Vec<Row>,
    csrf: &'a str,
    remove_action: String,
    add_link: String,
    codes_action: String,
    codes_left: i64,
    can_add: bool,
    stale: bool,
    reauth_link: String,
    logout_action: String,
    // Email verification (issue 13): the address's state and the "send a mail" form.
    email_verified: bool,
    can_verify: bool,
    verify_action: String,
    request_id: &'a str,
    /// The self-service sections (issue 13): profile, password, sessions, applications.
    own: sections::Own,
    /// Adding a passkey (the block the script shows): `None` where passkeys are unavailable.
    passkey: Option<super::passkey::Block>,
}

#[derive(Deserialize, Default)]
pub struct OverviewQuery {
    notice: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let here = tenant_path(&app.config, &tenant, "account");
    let signed = match signed_in(&app, &tenant, &jar, &here, &req.0).await {
        Ok(s) => s,
        Err(res) => return *res,
    };
    let user = &signed.current.user;
    let codes_left = if signed.factors.is_empty() {
        0
    } else {
        match recovery::left(&app, &tenant, user).await {
            Ok(n) => n,
            Err(e) => return service_error(e, &req.0),
        }
    };
    // Only fixed messages: the query names one, it never supplies the text.
    let notice = match q.notice.as_deref() {
        Some("added") => Some("The authenticator app was added."),
        Some("removed") => Some("The factor was removed."),
        Some("passkey-added") => Some("The passkey was added."),
        Some("passkey-first") => Some(
            "The passkey was added. Create recovery codes below: they sign you in if you lose it.",
        ),
        Some("verify-sent") => Some("A verification mail is on its way. Open the link in it."),
        other => sections::notice(other),
    };
    let own = match sections::build(&app, &tenant, &signed).await {
        Ok(o) => o,
        Err(e) => return service_error(e, &req.0),
    };
    let rows = signed
        .factors
        .iter()
        .map(|f| Row {
            id: f.id.clone(),
            name: f.name.clone(),
            kind: kind_label(&f.kind),
            added: when(f.created_at),
            last_used: f.last_used_at.map_or_else(|| "never".into(), when),
        })
        .collect();
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let can_add = signed.factors.len() < factors::MAX_FACTORS;
    let stale = signed.standing != Standing::Fresh;
    let passkey = (can_add && !stale)
        .then(|| super::passkey::block(&app, &tenant, "account/passkeys"))
        .flatten();
    let scripted = passkey.is_some();
    let page = Overview {
        tenant_name: &tenant.display_name,
        email: user.email.as_str(),
        notice,
        rows,
        csrf: &token,
        remove_action: tenant_path(&app.config, &tenant, "account/remove"),
        add_link: tenant_path(&app.config, &tenant, "account/totp"),
        codes_action: tenant_path(&app.config, &tenant, "account/recovery-codes"),
        codes_left,
        can_add,
        stale,
        reauth_link: with_return(&app, &tenant, "login", &here),
        logout_action: tenant_path(&app.config, &tenant, "logout"),
        email_verified: user.email_verified,
        can_verify: crate::service::mail::enabled(&app),
        verify_action: tenant_path(&app.config, &tenant, "account/verify"),
        request_id: &req.0,
        own,
        passkey,
    };
    let res = render(StatusCode::OK, &page);
    let res = if scripted { with_script(res) } else { res };
    (jar, res).into_response()
}

#[derive(Deserialize, Default)]
pub struct RemoveForm {
    csrf: Option<String>,
    factor: Option<String>,
}

/// `POST {issuer}/account/remove`: removes one of the user's own factors.
pub async fn remove(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<RemoveForm>, axum::extract::rejection::FormRejection>,
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
    if let Some(res) = require_fresh(&app, &tenant, &signed, &here) {
        return res;
    }
    let factor = form.factor.unwrap_or_default();
    // `remove` looks the id up among this user's own factors only (bounded there too).
    match factors::remove(&app, &tenant, signed.current.user.id, &factor, &ctx).await {
        Ok(()) => see_other(&format!("{here}?notice=removed")),
        Err(Error::NotFound(_)) => page_error(
            StatusCode::NOT_FOUND,
            "Not found",
            "factor: this account has no such factor (it may have been removed already).",
            &req.0,
        ),
        Err(e) => service_error(e, &req.0),
    }
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub(super) struct CodesPage<'a> {
    pub tenant_name: &'a str,
    pub codes: Vec<String>,
    pub all_codes: String,
    pub first_factor: bool,
    pub continue_link: &'a str,
    pub script: &'static str,
}

/// The page that shows a new set of codes, once.
pub(super) fn codes_page(tenant: &Tenant, codes: Vec<String>, first: bool, next: &str) -> Response {
    let page = CodesPage {
        tenant_name: &tenant.display_name,
        all_codes: codes.join("\n"),
        codes,
        first_factor: first,
        continue_link: next,
        script: SCRIPT_PATH,
    };
    // The copy button runs the pages' script, our own file (no inline script).
    with_script(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
pub struct CodesForm {
    csrf: Option<String>,
}

/// `POST {issuer}/account/recovery-codes`: a new set replaces the old one (which stops
/// working), shown on this response only.
pub async fn create_codes(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<CodesForm>, axum::extract::rejection::FormRejection>,
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
    if let Some(res) = require_fresh(&app, &tenant, &signed, &here) {
        return res;
    }
    if signed.factors.is_empty() {
        return page_error(
            StatusCode::CONFLICT,
            "No second factor yet",
            "Recovery codes stand in for a second factor: add an authenticator app first.",
            &req.0,
        );
    }
    match recovery::create(&app, &tenant, &signed.current.user, &ctx).await {
        Ok(codes) => codes_page(&tenant, codes, false, &here),
        Err(e) => service_error(e, &req.0),
    }
}

/// The account pages under `/t/{tenant}` (the auth plane, next to the login pages).
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/t/{tenant}/account", get(show))
        .route("/t/{tenant}/account/remove", post(remove))
        .route("/t/{tenant}/account/recovery-codes", post(create_codes))
        .route(
            "/t/{tenant}/account/totp",
            get(totp::show).post(totp::submit),
        )
        .route(
            "/t/{tenant}/account/profile",
            get(profile::show).post(profile::submit),
        )
        .route(
            "/t/{tenant}/account/password",
            get(password::show).post(password::submit),
        )
        .route("/t/{tenant}/account/sessions/end", post(own_sessions::end))
        .route(
            "/t/{tenant}/account/sessions/end-others",
            post(own_sessions::end_others),
        )
        .route("/t/{tenant}/account/apps/revoke", post(apps::revoke))
        .route(
            "/t/{tenant}/account/passkeys/options",
            post(passkeys::options),
        )
        .route("/t/{tenant}/account/passkeys", post(passkeys::finish))
}
