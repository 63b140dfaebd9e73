//! A user's remembered consents through the management API: list, and revoke one. Revoking a
//! consent also ends what it let the client obtain for the user (refresh and access tokens,
//! unredeemed codes), in the same transaction: the next authorization asks the user again.

use serde_json::json;

use crate::app::App;
use crate::domain::ids::UserId;
use crate::service::audit::{self, Event, Kind};
use crate::service::authz::Authorized;
use crate::service::authz::grant::{ConsentsRead, ConsentsWrite};
use crate::service::{Error, Result};
use crate::store::TenantScope;
use crate::store::consents::ConsentRow;

/// Longer than any client id this server accepts: not one of ours.
const MAX_CLIENT_ID: usize = 255;

async fn user_exists(scope: &mut TenantScope<'_>, id: UserId) -> Result<()> {
    match scope.user_by_id(id).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound("user")),
    }
}

/// The user's unexpired consents, by client id.
pub async fn list(
    app: &App,
    auth: &Authorized<ConsentsRead>,
    id: UserId,
) -> Result<Vec<ConsentRow>> {
    let now = app.clock.now();
    let mut tx = app.store.read().await?;
    let mut scope = tx.scope(auth.tenant());
    user_exists(&mut scope, id).await?;
    Ok(scope.consents_of_user(&id.to_string(), now).await?)
}

/// Forgets the user's consent to `client_id` and revokes the client's tokens for the user.
pub async fn revoke(
    app: &App,
    auth: &Authorized<ConsentsWrite>,
    id: UserId,
    client_id: &str,
) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(auth.tenant());
    user_exists(&mut scope, id).await?;
    let metadata = forget(&mut scope, id, client_id, now).await?;
    let ev = Event {
        kind: Kind::ConsentRevoked,
        tenant: Some(auth.tenant().id),
        target: Some(format!("user:{id}")),
        metadata,
        ctx: auth.ctx(),
    };
    audit::commit(tx, ev, now).await?;
    Ok(())
}

/// The rule of a revocation, for operators here and for the user's own account page
/// (`service::account::apps`): the consent is forgotten and what it let the client obtain for
/// the user ends with it (refresh and access tokens, unredeemed codes), in the caller's
/// transaction. `NotFound` when the user had no consent to that client. Returns the audit
/// metadata.
pub(crate) async fn forget(
    scope: &mut TenantScope<'_>,
    id: UserId,
    client_id: &str,
    now: crate::clock::UnixTime,
) -> Result<serde_json::Value> {
    if client_id.is_empty()
        || client_id.len() > MAX_CLIENT_ID
        || client_id.chars().any(char::is_control)
    {
        return Err(Error::NotFound("consent"));
    }
    let user = id.to_string();
    if !scope.consent_delete(&user, client_id).await? {
        return Err(Error::NotFound("consent"));
    }
    let r = scope.consent_tokens_revoke(&user, client_id, now).await?;
    Ok(json!({
        "client_id": client_id,
        "refresh_tokens_revoked": r.refresh_tokens,
        "access_tokens_revoked": r.access_tokens,
        "codes_deleted": r.codes,
    }))
}
