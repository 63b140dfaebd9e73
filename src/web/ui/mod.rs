//! Server-rendered pages (askama): login, logout, errors. Every page carries the security
//! headers; forms carry a CSRF token bound to a pre-login cookie. Everything works without
//! JavaScript except the WebAuthn ceremonies, which need the one script served from the
//! binary (`/assets/opentrusty.js`), allowed only on the pages that load it.

pub mod account;
pub mod cookies;
pub mod csrf;
pub mod factor;
pub mod login;
pub mod logout;
pub mod passkey;
pub mod passkey_json;
pub mod password;
pub mod register;
pub mod verify;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;

/// Page routes under `/t/{tenant}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/login", get(login::show).post(login::submit))
        .route(
            "/t/{tenant}/login/factor",
            get(factor::show).post(factor::submit),
        )
        .route("/t/{tenant}/login/factor/notice", get(factor::notice))
        .route("/t/{tenant}/logout", post(logout::submit))
        .route(
            "/t/{tenant}/login/passkey/options",
            post(passkey::signin_options),
        )
        .route("/t/{tenant}/login/passkey", post(passkey::signin_finish))
        .route(
            "/t/{tenant}/login/factor/passkey/options",
            post(passkey::factor_options),
        )
        .route(
            "/t/{tenant}/login/factor/passkey",
            post(passkey::factor_finish),
        )
        .route(SCRIPT_PATH, get(script))
        .merge(account::routes())
        .merge(password::routes())
        .merge(register::routes())
        .merge(verify::routes())
        .route("/assets/opentrusty.css", get(stylesheet))
}

/// No inline script or style anywhere, so the policy can be strict. `form-action` is left out
/// on purpose: browsers apply it to the redirect chain after a form post, which would block the
/// final redirect to a client's `redirect_uri`.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// The pages' one script: the recovery codes' copy button and the passkey ceremonies.
pub const SCRIPT_PATH: &str = "/assets/opentrusty.js";

/// What a page that loads [`SCRIPT_PATH`] adds to [`CSP`]: our own script files, and `fetch`
/// to our own origin (the ceremonies' JSON requests). Still no inline script.
const CSP_SCRIPT: &str = "; script-src 'self'; connect-src 'self'";

/// The headers of a page that loads [`SCRIPT_PATH`]: [`secure`]'s, with [`CSP_SCRIPT`].
pub fn with_script(mut res: Response) -> Response {
    let csp = format!("{CSP}{CSP_SCRIPT}");
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// Adds the page security headers; pages hold CSRF tokens, so they are never cached.
pub fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Renders a template with a status and the security headers.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => secure((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            secure((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
    pub tenant_name: Option<&'a str>,
}

/// The neutral error page: what went wrong in plain words, and the request id to quote.
/// Scopes in plain words, as the consent page asks for them and the account page lists what
/// an application was allowed.
pub fn permissions<'a>(scopes: impl Iterator<Item = &'a str>) -> Vec<String> {
    scopes
        .map(|s| match s {
            "openid" => "Know who you are (your account identifier)".to_owned(),
            "profile" => "See your name and profile details".to_owned(),
            "email" => "See your email address".to_owned(),
            "offline_access" => "Keep access while you are not using it".to_owned(),
            other => format!("Use the permission \u{201c}{other}\u{201d}"),
        })
        .collect()
}

pub fn page_error(status: StatusCode, title: &str, message: &str, request_id: &str) -> Response {
    render(
        status,
        &ErrorPage {
            title,
            message,
            request_id,
            tenant_name: None,
        },
    )
}

/// The page for a database outage (503; the caller adds `Retry-After`): nothing is wrong
/// with the request, so the browser is told to try again shortly.
pub fn unavailable_page(request_id: &str) -> Response {
    page_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The service cannot complete requests right now. Please try again in a moment.",
        request_id,
    )
}

/// The page for a failed OAuth use case: the outage page for `temporarily_unavailable`, the
/// neutral 500 page for anything else (already logged where it happened).
pub fn protocol_failure_page(e: &crate::protocol::Error, request_id: &str) -> Response {
    if e.code == crate::protocol::Code::TemporarilyUnavailable {
        crate::web::error::unavailable(true, request_id)
    } else {
        page_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete the request.",
            request_id,
        )
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("templates/opentrusty.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("templates/opentrusty.js"),
    )
        .into_response()
}
