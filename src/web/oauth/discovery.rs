//! `/.well-known/openid-configuration` and `/jwks.json`: public, cacheable documents.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::protocol::discovery;
use crate::web::extract::TenantCtx;

/// Metadata changes only with a new release, so caches may keep it for an hour.
const DISCOVERY_MAX_AGE: &str = "public, max-age=3600";
/// Far below `keyring::PUBLISH_LEAD`, so relying parties see a next key before it signs.
const JWKS_MAX_AGE: &str = "public, max-age=300";

fn json(body: String, cache: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

pub async fn document(State(app): State<AppState>, TenantCtx(tenant): TenantCtx) -> Response {
    let issuer = tenant.issuer(&app.config.public_url);
    json(
        discovery::document(&issuer).to_string(),
        DISCOVERY_MAX_AGE,
        "application/json",
    )
}

pub async fn jwks(State(app): State<AppState>, TenantCtx(tenant): TenantCtx) -> Response {
    match app.keys.for_tenant(&app, &tenant).await {
        Ok(keys) => json(keys.jwks.clone(), JWKS_MAX_AGE, "application/jwk-set+json"),
        Err(e) => {
            tracing::error!(error = %e, tenant = %tenant.slug, "cannot load signing keys");
            crate::web::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "signing keys are not available",
            )
            .into_response()
        }
    }
}
