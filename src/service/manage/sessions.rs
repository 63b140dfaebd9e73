//! A user's login sessions through the management API: list the live ones, end one (named by
//! its public `sid`, never by the cookie value or its hash), end all. Ending sessions signs
//! the user out of the OpenID Provider; tokens already issued to clients live on (ending
//! those is what disabling the user or setting a password does).

use serde_json::json;

use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::tenant::Tenant;
use crate::service::audit::{self, Event, Kind};
use crate::service::authz::Authorized;
use crate::service::authz::grant::{SessionsRead, SessionsWrite};
use crate::service::{Error, Result};
use crate::store::TenantScope;
use crate::store::sessions::SessionInfo;

/// Longer than any `sid` this server makes (32 hex digits): not one of ours.
const MAX_SID: usize = 128;

async fn user_exists(scope: &mut TenantScope<'_>, id: UserId) -> Result<()> {
    match scope.user_by_id(id).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound("user")),
    }
}

/// The user's live sessions (not past their absolute or idle timeout), oldest first.
pub async fn list(
    app: &App,
    auth: &Authorized<SessionsRead>,
    id: UserId,
) -> Result<Vec<SessionInfo>> {
    let now = app.clock.now();
    let idle = app.config.identity.session_idle_timeout.as_secs() as i64;
    let mut tx = app.store.read().await?;
    let mut scope = tx.scope(auth.tenant());
    user_exists(&mut scope, id).await?;
    Ok(scope.sessions_of_user(id, now, now - idle).await?)
}

/// Ends every session of the user; how many there were.
pub async fn end_all(app: &App, auth: &Authorized<SessionsWrite>, id: UserId) -> Result<u64> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(auth.tenant());
    user_exists(&mut scope, id).await?;
    let n = scope.sessions_delete_for_user(id).await?;
    let ev = event(auth.tenant(), id, json!({ "sessions_ended": n }), auth);
    audit::commit(tx, ev, now).await?;
    Ok(n)
}

/// Ends the session `sid` of the user (`NotFound` if the user has no such session).
pub async fn end_one(
    app: &App,
    auth: &Authorized<SessionsWrite>,
    id: UserId,
    sid: &str,
) -> Result<()> {
    if sid.is_empty() || sid.len() > MAX_SID || sid.chars().any(char::is_control) {
        return Err(Error::NotFound("session"));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(auth.tenant());
    user_exists(&mut scope, id).await?;
    if !scope.session_delete_by_sid(id, sid).await? {
        return Err(Error::NotFound("session"));
    }
    // The sid is public (it is in ID tokens); the logout event records it the same way.
    let ev = event(
        auth.tenant(),
        id,
        json!({ "sid": sid, "sessions_ended": 1 }),
        auth,
    );
    audit::commit(tx, ev, now).await?;
    Ok(())
}

fn event<'a>(
    tenant: &Tenant,
    id: UserId,
    metadata: serde_json::Value,
    auth: &'a Authorized<SessionsWrite>,
) -> Event<'a> {
    Event {
        kind: Kind::SessionEnded,
        tenant: Some(tenant.id),
        target: Some(format!("user:{id}")),
        metadata,
        ctx: auth.ctx(),
    }
}
