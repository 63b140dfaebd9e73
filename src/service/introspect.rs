//! Token introspection (RFC 7662) for authenticated confidential clients of the same tenant.
//!
//! A client may introspect the tokens issued to itself. Access tokens of other clients need
//! the registered `introspection` permission (a resource server, RFC 7662 §4: the server
//! decides who may ask); refresh tokens are shown only to their own client, permission or
//! not. Anything the caller may not see — unknown, expired, revoked, of another tenant, of a
//! disabled user or client — is simply `{"active": false}` (§2.2: nothing more is said).

use serde_json::{Value, json};

use super::client_auth::{Presented, authenticate, internal};
use crate::app::App;
use crate::domain::client::{Client, ClientKind};
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
    // RFC 7662 §2.1: the endpoint is for protected resources; public clients cannot be trusted.
    if client.kind != ClientKind::Confidential {
        return Err(Error::unauthorized_client(
            "introspection needs a confidential client",
        ));
    }
    let mut tx = app.store.read().await.map_err(internal)?;
    let mut scope = tx.scope(tenant);
    let inactive = json!({ "active": false });
    let hash = secret::hash(token);
    let issuer = tenant.issuer(&app.config.public_url);
    // token_type_hint only decides the lookup order (RFC 7662 §2.1).
    let refresh_first = hint == Some("refresh_token");
    for pass in 0..2 {
        if (pass == 0) != refresh_first {
            if let Some((a, holders_active)) =
                scope.access_with_holders(&hash).await.map_err(internal)?
            {
                if !holders_active
                    || !may_see_access(&client, &a.client_id)
                    || a.revoked_at.is_some()
                    || a.expires_at <= now
                {
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
        } else if let Some((r, holders_active)) =
            scope.refresh_with_holders(&hash).await.map_err(internal)?
        {
            // A refresh token is a credential of its client alone (RFC 6749 §10.4).
            if !holders_active
                || r.client_id != client.client_id
                || r.revoked_at.is_some()
                || r.used_at.is_some()
                || r.expires_at <= now
            {
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

/// Its own access tokens, or any with the registered permission.
fn may_see_access(caller: &Client, token_client: &str) -> bool {
    caller.client_id == token_client || caller.introspection
}
