//! Login sessions: a 256-bit random cookie value, stored only as its SHA-256; idle and
//! absolute timeouts; a new id on every login; `last_seen` written at most once a minute.

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::TenantScope;
use crate::store::sessions::{NewSession, SessionRecord};

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};

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
        mfa_at: None,
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

/// The RFC 8176 `amr` values that only a second factor puts into a session.
const SECOND_FACTOR_AMR: [&str; 4] = ["otp", "hwk", "swk", "mfa"];

/// Whether the session has seen a second factor (its `amr` names one, or it was stepped up).
pub fn has_second_factor(session: &SessionRecord) -> bool {
    session.mfa_at.is_some()
        || session
            .amr
            .iter()
            .any(|m| SECOND_FACTOR_AMR.contains(&m.as_str()))
}

/// The `amr` after a step-up: what the session had, then the new methods, then `mfa`
/// (RFC 8176 §2: more than one factor), each once and in that order, e.g. `pwd otp mfa`.
fn stepped_up_amr<'a>(had: &'a [String], added: &[&'a str]) -> Vec<&'a str> {
    let mut amr: Vec<&str> = Vec::with_capacity(had.len() + added.len() + 1);
    for m in had.iter().map(String::as_str).chain(added.iter().copied()) {
        if m != "mfa" && !amr.contains(&m) {
            amr.push(m);
        }
    }
    amr.push("mfa");
    amr
}

/// Steps the live session behind `session_token` up after a second factor was verified
/// (`amr_added`: its RFC 8176 values, `otp` for a TOTP or recovery code, `hwk`/`swk` for a
/// passkey). The session is updated in place, not replaced: the cookie, `sid` and
/// `auth_time` stay; `amr` gains the methods and `mfa`, and `mfa_at` becomes now. The factor
/// check itself is audited by `service::factors`, so this writes no event of its own.
/// Returns the updated session; `NotFound("session")` when it is not live in this tenant.
pub async fn step_up(
    app: &App,
    tenant: &Tenant,
    session_token: &str,
    amr_added: &[&str],
) -> Result<SessionRecord> {
    if !plausible(session_token) {
        return Err(Error::NotFound("session"));
    }
    if amr_added.is_empty() || amr_added.iter().any(|m| m.is_empty() || m.contains(' ')) {
        return Err(Error::Internal(format!(
            "step-up with unusable amr values {amr_added:?}"
        )));
    }
    let now = app.clock.now();
    let idle_since = now - app.config.identity.session_idle_timeout.as_secs() as i64;
    let id_hash = hash_token(session_token);
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let Some((mut session, user)) = scope.session_live(&id_hash, now, idle_since).await? else {
        return Err(Error::NotFound("session"));
    };
    if !user.is_active() {
        return Err(Error::NotFound("session"));
    }
    let amr = stepped_up_amr(&session.amr, amr_added);
    if !scope.session_step_up(&id_hash, &amr, now).await? {
        return Err(Error::NotFound("session"));
    }
    tx.commit().await?;
    session.amr = amr.into_iter().map(str::to_owned).collect();
    session.mfa_at = Some(now);
    session.last_seen = now;
    Ok(session)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_appends_the_factor_and_mfa_once() {
        let had = vec!["pwd".to_owned()];
        assert_eq!(stepped_up_amr(&had, &["otp"]), ["pwd", "otp", "mfa"]);
        let again: Vec<String> = ["pwd", "otp", "mfa"].map(String::from).to_vec();
        assert_eq!(stepped_up_amr(&again, &["otp"]), ["pwd", "otp", "mfa"]);
        assert_eq!(
            stepped_up_amr(&again, &["hwk"]),
            ["pwd", "otp", "hwk", "mfa"]
        );
    }
}
