//! The admin console (issue 11): server-rendered pages on the admin plane under `/console/`,
//! never on the auth plane (like `/api/`). It signs in through the tenant's own OpenID
//! Provider (`signin`), keeps its own session (`session`) and authorizes every page through
//! `service::authz` with the session's access token, as an API call with it would be.

/// The value of a console step that either yields (`Ok`) or has already decided the answer
/// (`Err(page)`: a sign-in round trip, the not-found page, a refusal): the handler returns that
/// page. Defined before the modules so that every page module can use it.
macro_rules! or_page {
    ($step:expr) => {
        match $step {
            Ok(value) => value,
            Err(page) => return page,
        }
    };
}

pub mod api_tokens;
pub mod audit;
pub mod chart;
pub mod clients;
pub mod forms;
pub mod keys;
pub mod pages;
pub mod session;
pub mod signin;
pub mod tenants;
pub mod users;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::{App, AppState};

/// Console routes; `web::router` mounts them on a listener that serves the admin plane when
/// `ConsoleConfig::served_at` says the console is on there.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(to_platform))
        .route("/console/", get(to_platform))
        .route("/console/t/{slug}", get(pages::slash))
        .route("/console/t/{slug}/", get(pages::dashboard))
        .route("/console/t/{slug}/whoami", get(pages::whoami))
        .route("/console/t/{slug}/audit", get(audit::list))
        .route("/console/t/{slug}/audit/export", get(audit::export))
        .route(
            "/console/t/{slug}/tenants",
            get(tenants::list).post(tenants::create),
        )
        .route(
            "/console/t/{slug}/tenants/{target}/disable",
            post(tenants::disable),
        )
        .route(
            "/console/t/{slug}/tenants/{target}/enable",
            post(tenants::enable),
        )
        .merge(users::routes())
        .merge(clients::routes())
        .route("/console/t/{slug}/callback", get(signin::callback))
        .route("/console/t/{slug}/signout", post(signin::signout))
        .route("/console/t/{slug}/signed-out", get(signin::signed_out))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
        .merge(keys::routes())
        .merge(api_tokens::routes())
        .route("/console/{*rest}", get(not_found_route))
}

/// The path prefix of the admin plane's public URL (`""` at the root).
pub fn base_path(app: &App) -> String {
    app.config
        .console
        .base(&app.config.public_url)
        .path()
        .trim_end_matches('/')
        .to_owned()
}

/// A console page's path for a tenant.
pub fn tenant_path(app: &App, slug: &str, page: &str) -> String {
    format!("{}/console/t/{slug}/{page}", base_path(app))
}

/// Platform operators sign in at `/console/`: the `platform` tenant's console.
async fn to_platform(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    secure(Redirect::to(&tenant_path(&app, crate::domain::tenant::PLATFORM, "")).into_response())
}

/// Scripts only from this binary, no inline script or style (`script-src 'self'`); the rest
/// as on the login pages (`web::ui`), including no `form-action` (the sign-out form's redirect
/// chain ends at the tenant's `/logout`, then back here).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The login pages' security headers (`no-store` included), with the console's CSP.
pub fn secure(res: Response) -> Response {
    let mut res = crate::web::ui::secure(res);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => secure((status, axum::response::Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "console template rendering failed");
            secure((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub struct Message<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: &'a str,
    pub link: Option<(&'a str, String)>,
    pub base: String,
}

/// A plain console page with a message (errors, refusals, signed out).
pub fn message(
    app: &App,
    status: StatusCode,
    title: &str,
    text: &str,
    request_id: &str,
    link: Option<(&str, String)>,
) -> Response {
    render(
        status,
        &Message {
            title,
            message: text,
            request_id,
            link,
            base: base_path(app),
        },
    )
}

/// The "not found" page: unknown tenants, and every tenant outside the session's scope.
pub fn not_found(app: &App, request_id: &str) -> Response {
    message(
        app,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it is not yours to see.",
        request_id,
        None,
    )
}

async fn not_found_route(
    axum::extract::State(app): axum::extract::State<AppState>,
    axum::Extension(req): axum::Extension<crate::web::middleware::RequestId>,
) -> Response {
    not_found(&app, &req.0)
}

/// A service failure as a page (never a JSON body or a trace).
pub fn failure(app: &App, e: &crate::service::Error, request_id: &str) -> Response {
    use crate::service::Error;
    match e {
        Error::NotFound(_) => not_found(app, request_id),
        Error::Forbidden(m) => message(
            app,
            StatusCode::FORBIDDEN,
            "Not allowed",
            m,
            request_id,
            None,
        ),
        Error::Unavailable(_) => crate::web::error::service_failure(e, true, request_id),
        other => {
            tracing::error!(error = %other, request_id, "console request failed");
            message(
                app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete the request.",
                request_id,
                None,
            )
        }
    }
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
