//! The applications the user consented to: the list (client name, scopes granted, when) and
//! revoking one, which is the operators' rule (`service::manage::consents::forget`): the
//! consent is forgotten and the client's tokens and unredeemed codes for the user end with
//! it, in one transaction; the next authorization asks the user again.

use super::own;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::audit::{self, Event, Kind};
use crate::service::manage::consents::forget;
use crate::service::{Context, Result};

/// A consented application as its user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consented {
    pub client_id: String,
    /// The client's name; `None` when the client is gone (its consent row is then all that
    /// is left, and revoking it still works).
    pub client_name: Option<String>,
    pub scopes: Vec<String>,
    pub granted_at: UnixTime,
    pub expires_at: UnixTime,
}

/// The user's unexpired consents with their clients' names, by client id.
pub async fn list(app: &App, tenant: &Tenant, user: &User) -> Result<Vec<Consented>> {
    let now = app.clock.now();
    let mut tx = app.store.read().await?;
    let mut scope = tx.scope(tenant);
    let rows = scope.consents_of_user(&user.id.to_string(), now).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let client_name = scope.client_get_any(&r.client_id).await?.map(|c| c.name);
        out.push(Consented {
            client_name,
            scopes: r.scope.split_whitespace().map(str::to_owned).collect(),
            client_id: r.client_id,
            granted_at: r.granted_at,
            expires_at: r.expires_at,
        });
    }
    Ok(out)
}

/// Revokes the user's consent to `client_id` and what it let the client obtain (`NotFound`
/// when this user has no consent to that client in this tenant).
pub async fn revoke(
    app: &App,
    tenant: &Tenant,
    user: &User,
    client_id: &str,
    ctx: &Context,
) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let metadata = forget(&mut tx.scope(tenant), user.id, client_id, now).await?;
    let ctx = own(ctx, user);
    let ev = Event {
        kind: Kind::ConsentRevoked,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx: &ctx,
    };
    audit::commit(tx, ev, now).await
}
