//! The authorization code grant (RFC 6749 §4.1.3): an atomic single use of the code, replay
//! detection that revokes what the code produced, `redirect_uri` and PKCE checks.

use serde_json::json;

use super::super::Context;
use super::super::audit::{self, Event, Kind};
use super::super::client_auth::internal;
use super::{Grant, Subject, active_profile, mint};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::pkce::{self, Challenge};
use crate::protocol::token::Issued;
use crate::protocol::{Error, secret};
use crate::store::{Claim, WriteSet, Written};

#[allow(clippy::too_many_arguments)]
pub(super) async fn authorization_code(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    code: &str,
    redirect_uri: Option<String>,
    verifier: Option<String>,
    ctx: &Context,
    now: UnixTime,
) -> Result<(Issued, Option<Subject>), Error> {
    let code_hash = secret::hash(code);

    let found = {
        let mut tx = app.store.read().await.map_err(internal)?;
        tx.scope(tenant)
            .code_with_user(&code_hash)
            .await
            .map_err(internal)?
    };
    let Some((row, user)) = found else {
        return Err(bad_code());
    };
    if row.used_at.is_some() {
        return Err(replayed(app, tenant, client, &code_hash, ctx, now).await);
    }
    let spend = || WriteSet::new(tenant, now).claim(Claim::Code(code_hash.clone()));
    // The code is spent by this redemption whatever its outcome; a failed check spends it
    // with nothing else written.
    let refuse = |e: Error| async {
        match app.writes.write(spend()).await.map_err(internal)? {
            Written::Done => Err(e),
            Written::ClaimLost => Err(replayed(app, tenant, client, &code_hash, ctx, now).await),
        }
    };
    if row.client_id != client.client_id || row.expires_at <= now {
        return refuse(bad_code()).await;
    }
    // RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
    if redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return refuse(Error::invalid_grant(
            "redirect_uri does not match the authorization request",
        ))
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
        return refuse(e).await;
    }
    let granted = Scope::parse(&row.scope).map_err(internal)?;
    let Some(profile) = active_profile(user) else {
        return refuse(Error::invalid_grant("the user is no longer active")).await;
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
        amr: row.amr.clone(),
    };
    let family = with_refresh.then(|| uuid::Uuid::now_v7().simple().to_string());
    let (issued, set) = mint(
        Grant {
            client,
            subject: &subject,
            granted: &granted,
            refresh_scope: &granted,
            family,
            generation: 0,
            code_hash: Some(&code_hash),
            now,
        },
        spend(),
    );
    match app.writes.write(set).await.map_err(internal)? {
        Written::Done => Ok((issued, Some(subject))),
        // A concurrent redemption won: this one is the replay.
        Written::ClaimLost => Err(replayed(app, tenant, client, &code_hash, ctx, now).await),
    }
}

/// RFC 6749 §4.1.2 / §10.5: a code presented again revokes everything it produced. Returns
/// the error for the client (`invalid_grant`, or `server_error` if the revocation failed).
async fn replayed(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    code_hash: &str,
    ctx: &Context,
    now: UnixTime,
) -> Error {
    let revoke = async {
        let mut tx = app.store.begin().await.map_err(internal)?;
        let n = tx
            .scope(tenant)
            .code_tokens_revoke(code_hash, now)
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
        .map_err(internal)
    };
    match revoke.await {
        Ok(()) => bad_code(),
        Err(e) => e,
    }
}

/// What a client learns about any code it cannot redeem (RFC 6749 §5.2), whatever the reason.
fn bad_code() -> Error {
    Error::invalid_grant("the authorization code is invalid, expired or already used")
}
