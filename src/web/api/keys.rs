//! `/api/v1/tenants/{slug}/keys`: a tenant's signing keys, public parts only (viewers), and
//! their rotation (admins; the same rotation as the CLI's `keys rotate`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Caller, Json, parse};
use super::problem::Problem;
use crate::app::AppState;
use crate::service::authz::{self, grant};
use crate::service::keys::KeyInfo;
use crate::service::manage::keys;

/// A signing key: never its private part.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Rotation count of this alg in the tenant (1 for the first key).
    pub generation: i64,
    /// `next` (published, not signing yet), `active`, `retired` (published for tokens it
    /// signed, no longer signing) or `expired` (unpublished).
    #[schema(example = "active")]
    pub state: String,
    /// When it signs (or started signing).
    pub activates_at: i64,
    pub created_at: i64,
    /// The public JWK as published in the tenant's JWKS; `null` once unpublished.
    #[schema(value_type = Option<Object>)]
    pub jwk: Option<serde_json::Value>,
}

impl From<KeyInfo> for KeyView {
    fn from(k: KeyInfo) -> KeyView {
        KeyView {
            alg: k.meta.alg.as_str().to_owned(),
            kid: k.meta.kid,
            generation: k.meta.generation,
            state: k.state.to_owned(),
            activates_at: k.meta.activates_at,
            created_at: k.created_at,
            jwk: k.jwk,
        }
    }
}

/// The tenant's keys (all of them: a tenant has a handful, so this list has one page).
#[derive(Serialize, ToSchema)]
pub struct KeyPage {
    pub items: Vec<KeyView>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}

/// What to rotate (the body is optional: RS256, signing in an hour).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub alg: Option<String>,
    /// Seconds until the new key signs (default 3600, so caches fetch it first; at most 30
    /// days).
    pub activate_in: Option<i64>,
}

/// The new key.
#[derive(Serialize, ToSchema)]
pub struct RotatedKey {
    pub kid: String,
    pub alg: String,
    pub generation: i64,
    pub activates_at: i64,
}

/// List the tenant's signing keys.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/keys", tag = "keys",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant's signing keys, oldest first", body = KeyPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<KeyPage>, Problem> {
    let auth =
        authz::authorize_slug::<grant::KeysRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let keys = keys::list(&app, &auth).await?;
    Ok(Json(KeyPage {
        items: keys.into_iter().map(KeyView::from).collect(),
        next_cursor: None,
    }))
}

/// Rotate: add the next key of an alg, published in the JWKS now and signing after
/// `activate_in` seconds.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/keys/rotate", tag = "keys",
    params(("slug" = String, Path, description = "The tenant's slug")),
    request_body(content = Option<RotateKey>, description = "Optional", content_type = "application/json"),
    responses((status = 201, description = "The new key", body = RotatedKey)))]
pub async fn rotate(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RotatedKey>), Problem> {
    let body = body.map_err(|e| {
        Problem::new(
            e.status(),
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "invalid_json"
            },
            e.body_text(),
        )
    })?;
    let auth =
        authz::authorize_slug::<grant::KeysWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let ask: RotateKey = if body.is_empty() {
        RotateKey::default()
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        parse(&body)?
    };
    let k = keys::rotate(&app, &auth, ask.alg.as_deref(), ask.activate_in).await?;
    Ok((
        StatusCode::CREATED,
        Json(RotatedKey {
            kid: k.kid,
            alg: k.alg.as_str().to_owned(),
            generation: k.generation,
            activates_at: k.activates_at,
        }),
    ))
}
