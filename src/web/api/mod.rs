//! The management REST API under `/api/v1` (admin plane only): one file per resource, thin
//! handlers (authorize → one `service::manage` call → JSON), and the OpenAPI 3.1 document
//! generated from the handlers by utoipa (`openapi.rs`).

pub mod api_tokens;
pub mod audit;
pub mod clients;
pub mod extract;
pub mod factors;
pub mod invitations;
pub mod keys;
pub mod openapi;
pub mod problem;
pub mod sessions;
pub mod tenants;
pub mod users;
pub mod whoami;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Every API route, with its part of the document.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openapi::document))
        .routes(routes!(whoami::whoami))
        .routes(routes!(tenants::bootstrap))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::get, tenants::update))
        .routes(routes!(tenants::disable))
        .routes(routes!(tenants::enable))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::unlock))
        .routes(routes!(users::password))
        .routes(routes!(users::put_role, users::delete_role))
        .routes(routes!(invitations::create))
        .routes(routes!(sessions::list_sessions, sessions::end_sessions))
        .routes(routes!(sessions::end_session))
        .routes(routes!(factors::list, factors::reset))
        .routes(routes!(sessions::list_consents))
        .routes(routes!(sessions::revoke_consent))
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(api_tokens::list, api_tokens::create))
        .routes(routes!(api_tokens::revoke))
        .routes(routes!(audit::tenant))
        .routes(routes!(audit::installation))
}

/// The API's router: its routes, a JSON 404 for any other path under `/api/`, and the
/// request id stamped into every error body.
pub fn routes() -> Router<AppState> {
    let (router, _) = api().split_for_parts();
    router
        .route("/api/{*rest}", axum::routing::any(unknown))
        .route("/api", axum::routing::any(unknown))
        .layer(axum::middleware::from_fn(problem::with_request_id))
}

async fn unknown() -> problem::Problem {
    problem::Problem::not_found("endpoint")
}
