//! The refresh token grant (RFC 6749 §6, RFC 9700 §4.14.2): rotation on every use, a grace
//! window for a concurrent retry, family revocation on reuse, scope that only narrows.
//!
//! The grace window (`OPENTRUSTY_REFRESH_REUSE_GRACE`, default 2 s) is a trade-off. Without
//! it, a client whose answer to a rotation was lost (a dropped connection, two tabs refreshing
//! at once) presents the spent token again and loses the whole family: the user is signed out.
//! With it, someone who stole a token and uses it within the window after the client is not
//! detected at once. So the window is short, and a retry within it is answered only once and
//! never forks the family: the retry's new tokens replace everything the first use minted
//! (those are revoked in the same transaction, `store::Claim::Retry`), so the family keeps at
//! most one live refresh token, and a second retry of the same token is reuse.

use serde_json::json;

use super::super::Context;
use super::super::audit::{self, Event, Kind};
use super::super::client_auth::internal;
use super::{Grant, Subject, active_profile, mint};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::scope::Scope;
use crate::domain::tenant::Tenant;
use crate::protocol::refresh::{self, Verdict};
use crate::protocol::token::Issued;
use crate::protocol::{Error, secret};
use crate::store::{Claim, RefreshRow, WriteSet, Written};

pub(super) async fn refresh_grant(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    token: &str,
    requested: Option<Scope>,
    ctx: &Context,
    now: UnixTime,
) -> Result<(Issued, Option<Subject>), Error> {
    let hash = secret::hash(token);
    let bad = || Error::invalid_grant("the refresh token is invalid, expired or revoked");
    let grace = app.config.oauth.refresh_reuse_grace.as_secs() as i64;
    // A lost claim means a concurrent request moved the token on first: judge it again. Its
    // state only moves forward (fresh, used, retried, revoked), so after a lost rotation and a
    // lost retry the third judgement is final (reuse or dead) and writes nothing.
    for _ in 0..3 {
        let found = {
            let mut tx = app.store.read().await.map_err(internal)?;
            tx.scope(tenant)
                .refresh_with_user(&hash)
                .await
                .map_err(internal)?
        };
        // A token of another client is "invalid" to this one (RFC 6749 §6), nothing more.
        let Some((row, user)) = found.filter(|(r, _)| r.client_id == client.client_id) else {
            return Err(bad());
        };
        let state = refresh::State {
            expires_at: row.expires_at,
            used_at: row.used_at,
            retried: row.retried_at.is_some(),
            revoked: row.revoked_at.is_some(),
        };
        let set = WriteSet::new(tenant, now);
        let set = match refresh::judge(state, now, grace) {
            Verdict::Dead => return Err(bad()),
            Verdict::Reuse => {
                reused(app, tenant, client, &row, ctx, now).await?;
                return Err(bad());
            }
            Verdict::Rotate => set.claim(Claim::Refresh(hash.clone())),
            Verdict::GraceRetry => set.claim(Claim::Retry {
                hash: hash.clone(),
                family: row.family_id.clone(),
                generation: row.generation,
            }),
        };
        let granted = Scope::parse(&row.scope).map_err(internal)?;
        let scope = refresh::narrow(&granted, requested.as_ref())?;
        let Some(profile) = active_profile(user) else {
            return Err(Error::invalid_grant("the user is no longer active"));
        };
        let subject = Subject {
            user_id: row.user_id.clone(),
            auth_time: row.auth_time,
            sid: row.sid.clone(),
            nonce: None,
            profile,
            amr: row.amr.clone(),
        };
        // RFC 6749 §6: a narrowed request narrows the access token; the new refresh token
        // keeps exactly the scope of the one presented.
        let (issued, set) = mint(
            Grant {
                client,
                subject: &subject,
                granted: &scope,
                refresh_scope: &granted,
                family: Some(row.family_id.clone()),
                generation: row.generation + 1,
                // Only the code's own tokens carry its hash: a replayed code finds the family
                // through them and revokes the whole family, rotated tokens included. Leaving
                // it off here keeps rotations out of the code indexes.
                code_hash: None,
                now,
            },
            set,
        );
        match app.writes.write(set).await.map_err(internal)? {
            Written::Done => return Ok((issued, Some(subject))),
            Written::ClaimLost => continue,
        }
    }
    Err(bad())
}

/// RFC 9700 §4.14.2: a used token presented again means it leaked; end the family and audit.
async fn reused(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    row: &RefreshRow,
    ctx: &Context,
    now: UnixTime,
) -> Result<(), Error> {
    let mut tx = app.store.begin().await.map_err(internal)?;
    let n = tx
        .scope(tenant)
        .family_revoke(&row.family_id, now)
        .await
        .map_err(internal)?;
    audit::commit(tx, Event {
        kind: Kind::RefreshTokenReused,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", row.user_id)),
        metadata: json!({ "client_id": client.client_id, "family": row.family_id, "revoked_tokens": n }),
        ctx,
    }, now).await.map_err(internal)
}
