//! The user's own live sessions: the list (with the one of this browser marked), ending one
//! named by its public `sid`, and ending all but this browser's. A `sid` from a form is looked
//! up among this user's sessions in this tenant only, so another user's or tenant's session
//! is "not found" and nothing changes. Ending this browser's own session is signing out,
//! which the page's Sign out button does (with its cookie cleared), not this.

use serde_json::json;

use super::own;
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::service::audit::{self, Event, Kind};
use crate::service::sessions::Current;
use crate::service::{Context, Error, Result};
use crate::store::sessions::SessionInfo;

/// Longer than any `sid` this server makes (32 hex digits): not one of ours.
const MAX_SID: usize = 128;

/// A live session as its owner sees it.
#[derive(Clone, Debug)]
pub struct OwnSession {
    pub info: SessionInfo,
    /// The session of the browser asking.
    pub this_browser: bool,
}

/// The user's live sessions (not past their absolute or idle timeout), oldest first.
pub async fn list(app: &App, tenant: &Tenant, signed: &Current) -> Result<Vec<OwnSession>> {
    let now = app.clock.now();
    let idle = app.config.identity.session_idle_timeout.as_secs() as i64;
    let mut tx = app.store.read().await?;
    let all = tx
        .scope(tenant)
        .sessions_of_user(signed.user.id, now, now - idle)
        .await?;
    Ok(all
        .into_iter()
        .map(|info| OwnSession {
            this_browser: info.sid == signed.session.sid,
            info,
        })
        .collect())
}

/// Ends the user's session `sid` (`NotFound` when the user has no such session here;
/// `Conflict` for this browser's own, which is signed out with Sign out).
pub async fn end(
    app: &App,
    tenant: &Tenant,
    signed: &Current,
    sid: &str,
    ctx: &Context,
) -> Result<()> {
    if sid.is_empty() || sid.len() > MAX_SID || sid.chars().any(char::is_control) {
        return Err(Error::NotFound("session"));
    }
    if sid == signed.session.sid {
        return Err(Error::Conflict(
            "session: this is the session of this browser; use Sign out to end it".into(),
        ));
    }
    let user = &signed.user;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !tx.scope(tenant).session_delete_by_sid(user.id, sid).await? {
        return Err(Error::NotFound("session"));
    }
    // The sid is public (it is in ID tokens); the operators' event records it the same way.
    let ctx = own(ctx, user);
    let ev = event(
        tenant,
        signed,
        json!({ "sid": sid, "sessions_ended": 1 }),
        &ctx,
    );
    audit::commit(tx, ev, now).await?;
    Ok(())
}

/// Ends every session of the user but this browser's; how many ended (an event only when
/// there was any).
pub async fn end_others(
    app: &App,
    tenant: &Tenant,
    signed: &Current,
    ctx: &Context,
) -> Result<u64> {
    let user = &signed.user;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let n = tx
        .scope(tenant)
        .sessions_delete_others(user.id, &signed.session.id_hash)
        .await?;
    if n == 0 {
        tx.commit().await?;
        return Ok(0);
    }
    let ctx = own(ctx, user);
    let meta = json!({ "sessions_ended": n, "kept_sid": signed.session.sid });
    audit::commit(tx, event(tenant, signed, meta, &ctx), now).await?;
    Ok(n)
}

fn event<'a>(
    tenant: &Tenant,
    signed: &Current,
    metadata: serde_json::Value,
    ctx: &'a Context,
) -> Event<'a> {
    Event {
        kind: Kind::SessionEnded,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", signed.user.id)),
        metadata,
        ctx,
    }
}
