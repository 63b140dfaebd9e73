//! Token introspection (RFC 7662) for authenticated confidential clients of the same tenant.
//! Anything unknown, expired, revoked or of another tenant is simply `{"active": false}`.

use serde_json::{Value, json};

use super::client_auth::{Presented, authenticate, internal};
use crate::app::App;
use crate::domain::client::ClientKind;
use crate::domain::tenant::Tenant;
use crate::protocol::{Error, secret};

pub async fn introspect(
    app: &App,
    tenant: &Tenant,
    presented: &Presented,
    token: &str,
    hint: Option<&str>,
) -> Result<Value, Error> {
    let now = app.clock.now();
    let client = authenticate(app, tenant, presented).await?;
    let mut tx = app.store.read().await.map_err(internal)?;
    let mut scope = tx.scope(tenant);
    // RFC 7662 §2.1: the endpoint is for protected resources; public clients cannot be trusted.
    if client.kind != ClientKind::Confidential {
        return Err(Error::unauthorized_client(
            "introspection needs a confidential client",
        ));
    }
    let inactive = json!({ "active": false });
    let hash = secret::hash(token);
    let issuer = tenant.issuer(&app.config.public_url);
    // token_type_hint only decides the lookup order (RFC 7662 §2.1).
    let refresh_first = hint == Some("refresh_token");
    for pass in 0..2 {
        if (pass == 0) != refresh_first {
            if let Some(a) = scope.access_get(&hash).await.map_err(internal)? {
                if a.revoked_at.is_some() || a.expires_at <= now {
                    return Ok(inactive);
                }
                let mut v = json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": a.scope,
                    "client_id": a.client_id,
                    "aud": a.client_id,
                    "iss": issuer,
                    "exp": a.expires_at,
                    "iat": a.created_at,
                });
                if let Some(u) = a.user_id {
                    v["sub"] = json!(u);
                }
                return Ok(v);
            }
        } else if let Some(r) = scope.refresh_get(&hash).await.map_err(internal)? {
            if r.revoked_at.is_some() || r.used_at.is_some() || r.expires_at <= now {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": r.client_id,
                "sub": r.user_id,
                "iss": issuer,
                "exp": r.expires_at,
                "iat": r.created_at,
            }));
        }
    }
    Ok(inactive)
}
