//! The authorization code grant (RFC 6749 §4.1.3): an atomic single use of the code, replay
//! detection that revokes what the code produced, `redirect_uri` and PKCE checks.

use serde_json::json;

use super::super::Context;
use super::super::audit::{self, Event, Kind};
use super::super::client_auth::internal;
use super::{Subject, active_profile, persist};
use crate::clock::UnixTime;
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::pkce::{self, Challenge};
use crate::protocol::token::Issued;
use crate::protocol::{Error, secret};
use crate::store::{Take, Tx};

#[allow(clippy::too_many_arguments)]
pub(super) async fn authorization_code(
    mut tx: Tx,
    tenant: &Tenant,
    client: &Client,
    code: &str,
    redirect_uri: Option<String>,
    verifier: Option<String>,
    ctx: &Context,
    now: UnixTime,
) -> Result<(Issued, Option<Subject>), Error> {
    let code_hash = secret::hash(code);
    let bad = || Error::invalid_grant("the authorization code is invalid, expired or already used");
    let row = match tx
        .scope(tenant)
        .code_take(&code_hash, now)
        .await
        .map_err(internal)?
    {
        Take::Unknown => return Err(bad()),
        Take::Replayed(_) => {
            // RFC 6749 §4.1.2 / §10.5: revoke everything this code produced.
            let n = tx
                .scope(tenant)
                .code_tokens_revoke(&code_hash, now)
                .await
                .map_err(internal)?;
            audit::commit(
                tx,
                Event {
                    kind: Kind::CodeReplayed,
                    tenant: Some(tenant.id),
                    target: Some(format!("client:{}", client.client_id)),
                    metadata: json!({ "revoked_tokens": n }),
                    ctx,
                },
                now,
            )
            .await
            .map_err(internal)?;
            return Err(bad());
        }
        Take::Fresh(row) => row,
    };
    // The code is spent from here on, whatever the outcome: commit that even on failure.
    let fail = |tx: Tx, e: Error| async move {
        tx.commit().await.map_err(internal)?;
        Err::<(Issued, Option<Subject>), Error>(e)
    };
    if row.client_id != client.client_id || row.expires_at <= now {
        return fail(tx, bad()).await;
    }
    // RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
    if redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return fail(
            tx,
            Error::invalid_grant("redirect_uri does not match the authorization request"),
        )
        .await;
    }
    let challenge = match (
        row.code_challenge.as_deref(),
        row.code_challenge_method.as_deref(),
    ) {
        (Some(v), Some(m)) => pkce::Method::parse(m).map(|method| Challenge {
            method,
            value: v.to_owned(),
        }),
        _ => None,
    };
    if let Err(e) = pkce::verify(challenge.as_ref(), verifier.as_deref()) {
        return fail(tx, e).await;
    }
    let granted = Scope::parse(&row.scope).map_err(internal)?;
    let Some(profile) = active_profile(&mut tx.scope(tenant), &row.user_id).await? else {
        return fail(tx, Error::invalid_grant("the user is no longer active")).await;
    };
    let with_refresh = client.allows(GrantType::RefreshToken)
        && (granted.contains(scope::OFFLINE_ACCESS)
            || client.first_party
            || !granted.contains(scope::OPENID));
    let subject = Subject {
        user_id: row.user_id.clone(),
        auth_time: row.auth_time,
        sid: row.sid.clone(),
        nonce: row.nonce.clone(),
        profile,
    };
    let family = with_refresh.then(|| uuid::Uuid::now_v7().simple().to_string());
    let issued = persist(
        &mut tx.scope(tenant),
        client,
        &subject,
        &granted,
        &granted,
        family,
        Some(&code_hash),
        now,
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    Ok((issued, Some(subject)))
}
