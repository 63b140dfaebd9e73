//! The refresh token grant (RFC 6749 §6, RFC 9700 §4.14.2): rotation on every use, a grace
//! window for a concurrent retry, family revocation on reuse, scope that only narrows.

use serde_json::json;

use super::super::Context;
use super::super::audit::{self, Event, Kind};
use super::super::client_auth::internal;
use super::{Subject, active_profile, persist};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::scope::Scope;
use crate::domain::tenant::Tenant;
use crate::protocol::refresh::{self, Verdict};
use crate::protocol::token::Issued;
use crate::protocol::{Error, secret};
use crate::store::Tx;

#[allow(clippy::too_many_arguments)]
pub(super) async fn refresh_grant(
    app: &App,
    mut tx: Tx,
    tenant: &Tenant,
    client: &Client,
    token: &str,
    requested: Option<Scope>,
    ctx: &Context,
    now: UnixTime,
) -> Result<(Issued, Option<Subject>), Error> {
    let hash = secret::hash(token);
    let bad = || Error::invalid_grant("the refresh token is invalid, expired or revoked");
    let Some(row) = tx
        .scope(tenant)
        .refresh_get(&hash)
        .await
        .map_err(internal)?
    else {
        return Err(bad());
    };
    // A token of another client is "invalid" to this one (RFC 6749 §6), nothing more.
    if row.client_id != client.client_id {
        return Err(bad());
    }
    let state = refresh::State {
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked: row.revoked_at.is_some(),
    };
    let grace = app.config.oauth.refresh_reuse_grace.as_secs() as i64;
    match refresh::judge(state, now, grace) {
        Verdict::Dead => return Err(bad()),
        Verdict::Reuse => {
            // RFC 9700 §4.14.2: a used token presented again means it leaked; end the family.
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
            }, now).await.map_err(internal)?;
            return Err(bad());
        }
        Verdict::Rotate => {
            // Loses only to a concurrent rotation of the same token, which is the grace case.
            let _ = tx
                .scope(tenant)
                .refresh_mark_used(&hash, now)
                .await
                .map_err(internal)?;
        }
        Verdict::GraceRetry => {}
    }
    let granted = Scope::parse(&row.scope).map_err(internal)?;
    let scope = refresh::narrow(&granted, requested.as_ref())?;
    let Some(profile) = active_profile(&mut tx.scope(tenant), &row.user_id).await? else {
        return Err(Error::invalid_grant("the user is no longer active"));
    };
    let subject = Subject {
        user_id: row.user_id.clone(),
        auth_time: row.auth_time,
        sid: row.sid.clone(),
        nonce: None,
        profile,
    };
    // RFC 6749 §6: a narrowed request narrows the access token; the new refresh token keeps
    // exactly the scope of the one presented.
    let issued = persist(
        &mut tx.scope(tenant),
        client,
        &subject,
        &scope,
        &granted,
        Some(row.family_id.clone()),
        row.code_hash.as_deref(),
        now,
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    Ok((issued, Some(subject)))
}
