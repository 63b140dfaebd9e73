//! Login sessions: a 256-bit random cookie value, stored only as its SHA-256; idle and
//! absolute timeouts; a new id on every login; `last_seen` written at most once a minute.

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::TenantScope;
use crate::store::sessions::{NewSession, SessionRecord};

use super::audit::{self, Event, Kind};
use super::{Context, Result};

/// `last_seen` is refreshed only when older than this, so reads do not turn into writes.
const TOUCH_EVERY: i64 = 60;

/// 32 random bytes from the OS CSPRNG, base64url without padding (43 characters).
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    // aws-lc-rs reads the OS CSPRNG; failure means the system is unusable for crypto at all.
    aws_lc_rs::rand::fill(&mut bytes).expect("the OS random number generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The at-rest form of a secret token: lowercase hex SHA-256.
pub fn hash_token(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a cookie value could be a session token at all. Ours are 43 characters; a value
/// longer than [`limits::TOKEN`] is no session, without hashing or a lookup.
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= crate::protocol::limits::TOKEN
}

/// A live session with its user, as seen by a request.
#[derive(Clone, Debug)]
pub struct Current {
    pub session: SessionRecord,
    pub user: User,
}

/// Creates a session in `scope` for `user`; returns the cookie value (shown once).
pub async fn create(
    scope: &mut TenantScope<'_>,
    user: &User,
    amr: &[&str],
    ctx: &Context,
    now: UnixTime,
    lifetime: i64,
) -> Result<(String, SessionRecord)> {
    let token = random_token();
    let id_hash = hash_token(&token);
    let sid = uuid::Uuid::now_v7().simple().to_string();
    let new = NewSession {
        id_hash: &id_hash,
        sid: &sid,
        user_id: user.id,
        auth_time: now,
        amr,
        ip: ctx.ip.as_deref(),
        user_agent: ctx.user_agent.as_deref(),
        expires_at: now + lifetime,
    };
    scope.session_insert(&new).await?;
    let record = SessionRecord {
        id_hash,
        sid,
        user_id: user.id,
        auth_time: now,
        amr: amr.iter().map(|s| s.to_string()).collect(),
        last_seen: now,
        expires_at: now + lifetime,
    };
    Ok((token, record))
}

/// The session behind `token` in this tenant, if live and its user is active.
pub async fn current(app: &App, tenant: &Tenant, token: &str) -> Result<Option<Current>> {
    if !plausible(token) {
        return Ok(None);
    }
    let now = app.clock.now();
    let idle = app.config.identity.session_idle_timeout.as_secs() as i64;
    let id_hash = hash_token(token);
    let mut tx = app.store.read().await?;
    let found = tx
        .scope(tenant)
        .session_live(&id_hash, now, now - idle)
        .await?;
    drop(tx);
    let Some((session, user)) = found.filter(|(_, u)| u.is_active()) else {
        return Ok(None);
    };
    if now - session.last_seen >= TOUCH_EVERY {
        let mut tx = app.store.begin().await?;
        tx.scope(tenant).session_touch(&id_hash, now).await?;
        tx.commit().await?;
    }
    Ok(Some(Current { session, user }))
}

/// Drops the session a browser had before it logged in again (the new login is audited; this
/// only keeps a replaced session from living on until it expires).
pub async fn discard(app: &App, tenant: &Tenant, token: &str) -> Result<()> {
    if !plausible(token) {
        return Ok(());
    }
    let mut tx = app.store.begin().await?;
    tx.scope(tenant).session_delete(&hash_token(token)).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends the session behind `token` (if any) and audits it.
pub async fn logout(app: &App, tenant: &Tenant, token: &str, ctx: &Context) -> Result<bool> {
    if !plausible(token) {
        return Ok(false);
    }
    let now = app.clock.now();
    let id_hash = hash_token(token);
    let mut tx = app.store.begin().await?;
    let idle_since = now - app.config.identity.session_idle_timeout.as_secs() as i64;
    let live = tx
        .scope(tenant)
        .session_live(&id_hash, now, idle_since)
        .await?;
    let existed = tx.scope(tenant).session_delete(&id_hash).await?;
    let recorded = match live {
        Some((s, _)) if existed => Some(
            audit::record(
                &mut tx,
                Event {
                    kind: Kind::Logout,
                    tenant: Some(tenant.id),
                    target: Some(format!("user:{}", s.user_id)),
                    metadata: serde_json::json!({ "sid": s.sid }),
                    ctx,
                },
                now,
            )
            .await?,
        ),
        _ => None,
    };
    tx.commit().await?;
    if let Some(r) = recorded {
        r.emit();
    }
    Ok(existed)
}
