//! Token revocation (RFC 7009): access or refresh tokens, only by the client they were issued
//! to; a refresh token takes its whole family along. Unknown tokens are not an error.

use serde_json::json;

use super::Context;
use super::audit::{self, Event, Kind};
use super::client_auth::{Presented, authenticate, internal};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::protocol::{Error, secret};

pub async fn revoke(
    app: &App,
    tenant: &Tenant,
    presented: &Presented,
    token: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let now = app.clock.now();
    let hash = secret::hash(token);
    let client = authenticate(app, tenant, presented).await?;
    let mut tx = app.store.begin().await.map_err(internal)?;
    let mut scope = tx.scope(tenant);
    // Both tables are looked at whatever the hint says (RFC 7009 §2.1: the hint is advisory).
    let (revoked, what) = if let Some(r) = scope.refresh_get(&hash).await.map_err(internal)? {
        if r.client_id != client.client_id {
            return Ok(()); // §2.1: not this client's token; say nothing
        }
        (
            scope
                .family_revoke(&r.family_id, now)
                .await
                .map_err(internal)?,
            "refresh_token",
        )
    } else if let Some(a) = scope.access_get(&hash).await.map_err(internal)? {
        if a.client_id != client.client_id {
            return Ok(());
        }
        // An access token of a refresh family is revoked alone; the family lives on.
        (
            scope.access_revoke(&hash, now).await.map_err(internal)?,
            "access_token",
        )
    } else {
        return Ok(());
    };
    audit::commit(
        tx,
        Event {
            kind: Kind::TokenRevoked,
            tenant: Some(tenant.id),
            target: Some(format!("client:{}", client.client_id)),
            metadata: json!({ "token_type": what, "revoked": revoked }),
            ctx,
        },
        now,
    )
    .await
    .map_err(internal)?;
    Ok(())
}
