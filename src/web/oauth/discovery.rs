//! `/.well-known/openid-configuration` and `/jwks.json`: public, cacheable documents, served
//! from bytes rendered once (per tenant) rather than per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::domain::ids::TenantId;
use crate::domain::tenant::{Slug, Tenant};
use crate::protocol::discovery;
use crate::web::extract::TenantCtx;

/// Metadata changes only with a new release, so caches may keep it for an hour.
const DISCOVERY_MAX_AGE: &str = "public, max-age=3600";
/// Far below `keyring::PUBLISH_LEAD`, so relying parties see a next key before it signs.
const JWKS_MAX_AGE: &str = "public, max-age=300";

fn json(body: Bytes, cache: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

/// An `Arc<str>` as a body: the response shares the cached text, it does not copy it.
struct Shared(Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The rendered discovery document per tenant. It depends on the issuer only, i.e. on the
/// public URL (fixed for the process) and the tenant's slug, which is stored with the bytes:
/// a renamed tenant is rendered again. Bounded by the number of tenants, since only a tenant
/// that exists and is active gets here (`TenantCtx`).
#[derive(Default)]
pub struct DiscoveryCache {
    by_tenant: RwLock<HashMap<TenantId, (Slug, Bytes)>>,
}

impl DiscoveryCache {
    fn get(&self, app: &AppState, tenant: &Tenant) -> Bytes {
        if let Ok(map) = self.by_tenant.read()
            && let Some((slug, bytes)) = map.get(&tenant.id)
            && *slug == tenant.slug
        {
            return bytes.clone();
        }
        let issuer = tenant.issuer(&app.config.public_url);
        let bytes = Bytes::from(discovery::document(&issuer).to_string());
        if let Ok(mut map) = self.by_tenant.write() {
            map.insert(tenant.id, (tenant.slug.clone(), bytes.clone()));
        }
        bytes
    }

    /// Forgets every rendered document (SIGHUP).
    pub fn clear(&self) {
        if let Ok(mut map) = self.by_tenant.write() {
            map.clear();
        }
    }
}

pub async fn document(State(app): State<AppState>, TenantCtx(tenant): TenantCtx) -> Response {
    json(
        app.discovery.get(&app, &tenant),
        DISCOVERY_MAX_AGE,
        "application/json",
    )
}

pub async fn jwks(State(app): State<AppState>, TenantCtx(tenant): TenantCtx) -> Response {
    match app.keys.for_tenant(&app, &tenant).await {
        Ok(keys) => json(
            Bytes::from_owner(Shared(keys.jwks.clone())),
            JWKS_MAX_AGE,
            "application/jwk-set+json",
        ),
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
