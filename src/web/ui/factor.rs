//! `GET/POST {issuer}/login/factor`: the second step of a sign-in (issue 12). The user is
//! signed in with a password; a code from the authenticator app, a passkey (the JSON ceremony
//! in `passkey.rs`, run by the page's script) or a recovery code steps the session up, then the browser goes back to `return_to` (validated like the login page's).
//! A user without any factor is sent to enrol one; a session that already has a second factor
//! goes straight on. Recovery codes used are reported on a page after this one.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::domain::tenant::Tenant;
use crate::service::factors::login::{self as step, Answer};
use crate::service::factors::{self, recovery};
use crate::service::sessions::{self, Current};
use crate::service::{Context, Error};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::login::{service_error, tenant_path, valid_return_to};
use super::{cookies, csrf, page_error, render, secure, with_script};

/// What every wrong or replayed code is told (which one it was is the audit trail's).
const WRONG_CODE: &str = "That code is not valid. Check the code and try again.";

#[derive(Template)]
#[template(path = "factor.html")]
struct FactorPage<'a> {
    tenant_name: &'a str,
    email: &'a str,
    action: String,
    csrf: &'a str,
    return_to: &'a str,
    error: Option<&'a str>,
    recovery_left: i64,
    request_id: &'a str,
    /// The user has an authenticator app (its code form is shown).
    has_totp: bool,
    /// The user's passkeys as this step (issue 12), shown by the page's script.
    passkey: Option<super::passkey::Block>,
}

#[derive(Template)]
#[template(path = "factor_notice.html")]
struct NoticePage<'a> {
    tenant_name: &'a str,
    earlier: Vec<String>,
    used_now: bool,
    left: i64,
    continue_to: &'a str,
    account: String,
    request_id: &'a str,
}

#[derive(Deserialize, Default)]
pub struct FactorQuery {
    return_to: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct FactorForm {
    csrf: Option<String>,
    return_to: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// A 303 that no cache keeps.
fn see_other(to: &str) -> Response {
    secure(Redirect::to(to).into_response())
}

/// `page?return_to=...` under this tenant.
pub(super) fn with_return(app: &App, tenant: &Tenant, page: &str, return_to: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{q}", tenant_path(&app.config, tenant, page))
}

/// The validated `return_to` (default: the login page, as after a login without one; the
/// page's form carries that default back).
fn return_to(app: &App, tenant: &Tenant, raw: Option<&str>) -> Option<String> {
    let login = tenant_path(&app.config, tenant, "login");
    match raw.filter(|r| !r.is_empty()) {
        None => Some(login),
        Some(r) if r == login => Some(login),
        Some(r) => valid_return_to(&app.config, tenant, r),
    }
}

fn no_return(req: &str) -> Response {
    page_error(
        StatusCode::BAD_REQUEST,
        "Invalid request",
        "The page to return to after signing in is not allowed.",
        req,
    )
}

/// Where this request goes instead of the factor form, if anywhere: no session → the login
/// page; already stepped up → on; no factor to ask for → enrolment.
async fn elsewhere(
    app: &App,
    tenant: &Tenant,
    current: Option<&Current>,
    back: &str,
) -> Result<Option<Response>, Error> {
    let Some(c) = current else {
        return Ok(Some(see_other(&with_return(app, tenant, "login", back))));
    };
    if sessions::has_second_factor(&c.session) {
        return Ok(Some(see_other(back)));
    }
    if !factors::enrolled(app, tenant, c.user.id).await? {
        return Ok(Some(see_other(&with_return(
            app,
            tenant,
            "account/totp",
            back,
        ))));
    }
    Ok(None)
}

async fn session(
    app: &App,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<Option<(String, Current)>, Error> {
    let Some(token) = cookies::session(jar, &app.config, tenant) else {
        return Ok(None);
    };
    Ok(sessions::current(app, tenant, &token)
        .await?
        .map(|c| (token, c)))
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    app: &App,
    tenant: &Tenant,
    jar: CookieJar,
    current: &Current,
    back: &str,
    error: Option<&str>,
    status: StatusCode,
    req: &str,
) -> Response {
    let left = match recovery::left(app, tenant, &current.user).await {
        Ok(n) => n,
        Err(e) => return service_error(e, req),
    };
    let kinds = match factors::list(app, tenant, current.user.id).await {
        Ok(list) => list,
        Err(e) => return service_error(e, req),
    };
    let passkey = kinds
        .iter()
        .any(|f| f.kind == "webauthn")
        .then(|| super::passkey::block(app, tenant, "login/factor/passkey"))
        .flatten();
    let scripted = passkey.is_some();
    let (jar, token) = csrf::issue(jar, &app.config, tenant);
    let page = FactorPage {
        tenant_name: &tenant.display_name,
        email: current.user.email.as_str(),
        action: tenant_path(&app.config, tenant, "login/factor"),
        csrf: &token,
        return_to: back,
        error,
        recovery_left: left,
        request_id: req,
        has_totp: kinds.iter().any(|f| f.kind == "totp"),
        passkey,
    };
    let res = render(status, &page);
    let res = if scripted { with_script(res) } else { res };
    (jar, res).into_response()
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<FactorQuery>,
) -> Response {
    let Some(back) = return_to(&app, &tenant, q.return_to.as_deref()) else {
        return no_return(&req.0);
    };
    let current = match session(&app, &tenant, &jar).await {
        Ok(c) => c,
        Err(e) => return service_error(e, &req.0),
    };
    match elsewhere(&app, &tenant, current.as_ref().map(|(_, c)| c), &back).await {
        Err(e) => service_error(e, &req.0),
        Ok(Some(res)) => res,
        Ok(None) => {
            let Some((_, c)) = current else {
                return service_error(Error::Internal("session vanished".into()), &req.0);
            };
            form_page(&app, &tenant, jar, &c, &back, None, StatusCode::OK, &req.0).await
        }
    }
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, _): RequestContext,
    jar: CookieJar,
    form: Result<Form<FactorForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page_error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form could not be read.",
            &req.0,
        );
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let Some(back) = return_to(&app, &tenant, form.return_to.as_deref()) else {
        return no_return(&req.0);
    };
    let current = match session(&app, &tenant, &jar).await {
        Ok(c) => c,
        Err(e) => return service_error(e, &req.0),
    };
    match elsewhere(&app, &tenant, current.as_ref().map(|(_, c)| c), &back).await {
        Err(e) => return service_error(e, &req.0),
        Ok(Some(res)) => return res,
        Ok(None) => {}
    }
    let Some((token, current)) = current else {
        return service_error(Error::Internal("session vanished".into()), &req.0);
    };
    let code = form.code.unwrap_or_default();
    let recovery_code = form.recovery_code.unwrap_or_default();
    let answer = match (code.trim(), recovery_code.trim()) {
        ("", "") => {
            let msg = "Enter the code from your authenticator app.";
            return form_page(
                &app,
                &tenant,
                jar,
                &current,
                &back,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
                &req.0,
            )
            .await;
        }
        (c, "") => Answer::Totp(c),
        (_, r) => Answer::Recovery(r),
    };
    passed(
        &app, &tenant, jar, &current, &token, answer, &back, &ctx, &req.0,
    )
    .await
}

/// `GET {issuer}/login/factor/notice?return_to=...`: where a sign-in completed with a passkey
/// goes on when recovery codes were used at earlier sign-ins (the code form's answer tells
/// this itself). Shown once; with nothing to tell, or a session not through both steps,
/// the browser goes on (or back to the second step).
pub async fn notice(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<FactorQuery>,
) -> Response {
    let Some(back) = return_to(&app, &tenant, q.return_to.as_deref()) else {
        return no_return(&req.0);
    };
    let current = match session(&app, &tenant, &jar).await {
        Ok(Some((_, c))) if sessions::has_second_factor(&c.session) => c,
        Ok(_) => return see_other(&with_return(&app, &tenant, "login/factor", &back)),
        Err(e) => return service_error(e, &req.0),
    };
    let (earlier, left) = match step::recovery_news(&app, &tenant, &current.user).await {
        Ok(news) => news,
        Err(e) => return service_error(e, &req.0),
    };
    if earlier.is_empty() {
        return see_other(&back);
    }
    notice_page(&app, &tenant, &earlier, false, left, &back, &req.0)
}

/// The recovery-code notice: uses at `earlier` sign-ins, whether this one used one, and how
/// many codes are left.
fn notice_page(
    app: &App,
    tenant: &Tenant,
    earlier: &[crate::clock::UnixTime],
    used_now: bool,
    left: i64,
    back: &str,
    req: &str,
) -> Response {
    let page = NoticePage {
        tenant_name: &tenant.display_name,
        earlier: earlier
            .iter()
            .map(|t| crate::web::console::pages::when(*t))
            .collect(),
        used_now,
        left,
        continue_to: back,
        account: tenant_path(&app.config, tenant, "account"),
        request_id: req,
    };
    render(StatusCode::OK, &page)
}

#[allow(clippy::too_many_arguments)]
async fn passed(
    app: &App,
    tenant: &Tenant,
    jar: CookieJar,
    current: &Current,
    token: &str,
    answer: Answer<'_>,
    back: &str,
    ctx: &Context,
    req: &str,
) -> Response {
    let done = match step::verify(app, tenant, current, token, answer, ctx).await {
        Ok(Some(done)) => done,
        Ok(None) => {
            return form_page(
                app,
                tenant,
                jar,
                current,
                back,
                Some(WRONG_CODE),
                StatusCode::UNPROCESSABLE_ENTITY,
                req,
            )
            .await;
        }
        Err(Error::Forbidden(_)) => {
            let msg = "This account is locked after too many failed attempts. Try again later.";
            return form_page(
                app,
                tenant,
                jar,
                current,
                back,
                Some(msg),
                StatusCode::FORBIDDEN,
                req,
            )
            .await;
        }
        Err(e) => return service_error(e, req),
    };
    if done.recovery_left.is_none() && done.earlier_recovery_uses.is_empty() {
        return see_other(back);
    }
    let left = match done.recovery_left {
        Some(n) => n,
        None => match recovery::left(app, tenant, &current.user).await {
            Ok(n) => n,
            Err(e) => return service_error(e, req),
        },
    };
    notice_page(
        app,
        tenant,
        &done.earlier_recovery_uses,
        done.recovery_left.is_some(),
        left,
        back,
        req,
    )
}
