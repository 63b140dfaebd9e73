//! The token endpoint's use cases: the three grants (RFC 6749 §4.1.3, §4.4, §6). Each is one
//! write transaction with a small, fixed number of statements; id_tokens are signed after the
//! commit with the tenant's cached key.

use serde_json::json;

use super::Context;
use super::audit::{self, Event, Kind};
use super::client_auth::{Presented, authenticate, internal};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::{Client, ClientKind, GrantType};
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::claims::{self, Profile};
use crate::protocol::pkce::{self, Challenge};
use crate::protocol::refresh::{self, Verdict};
use crate::protocol::token::{Issued, TokenRequest};
use crate::protocol::{Error, secret};
use crate::store::{AccessRow, RefreshRow, Take, TenantScope, Tx};

/// Who the tokens are for, and what the id_token needs.
struct Subject {
    user_id: String,
    auth_time: UnixTime,
    sid: Option<String>,
    nonce: Option<String>,
    profile: Profile,
}

pub async fn exchange(
    app: &App,
    tenant: &Tenant,
    presented: &Presented,
    req: TokenRequest,
    ctx: &Context,
) -> Result<Issued, Error> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await.map_err(internal)?;
    let client = authenticate(&mut tx.scope(tenant), presented).await?;
    let grant = match &req {
        TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
        TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
        TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
    };
    if !client.allows(grant) {
        return Err(Error::unauthorized_client(format!(
            "this client may not use the {} grant",
            grant.as_str()
        )));
    }
    match req {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials(tx, tenant, &client, scope, now).await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let (issued, subject) = authorization_code(
                tx,
                tenant,
                &client,
                &code,
                redirect_uri,
                code_verifier,
                ctx,
                now,
            )
            .await?;
            finish(app, tenant, &client, issued, subject, now).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            let (issued, subject) =
                refresh_grant(app, tx, tenant, &client, &refresh_token, scope, ctx, now).await?;
            finish(app, tenant, &client, issued, subject, now).await
        }
    }
}

async fn client_credentials(
    mut tx: Tx,
    tenant: &Tenant,
    client: &Client,
    requested: Option<Scope>,
    now: UnixTime,
) -> Result<Issued, Error> {
    if client.kind != ClientKind::Confidential {
        return Err(Error::unauthorized_client(
            "client_credentials needs a confidential client",
        ));
    }
    // User-bound OIDC scopes make no sense without a user (RFC 6749 §4.4).
    let allowed = [
        scope::OPENID,
        scope::PROFILE,
        scope::EMAIL,
        scope::OFFLINE_ACCESS,
    ]
    .iter()
    .fold(client.scopes.clone(), |s, t| s.without(t));
    let granted = refresh::narrow(&allowed, requested.as_ref()).map_err(|_| {
        Error::invalid_scope("scope not allowed for this client's client_credentials grant")
    })?;
    let access = secret::generate();
    let mut scope = tx.scope(tenant);
    scope
        .access_insert(&AccessRow {
            token_hash: secret::hash(&access),
            client_id: client.client_id.clone(),
            user_id: None,
            scope: granted.to_string(),
            family_id: None,
            code_hash: None,
            auth_time: None,
            sid: None,
            expires_at: now + client.access_token_ttl,
            revoked_at: None,
            created_at: now,
        })
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Issued {
        access_token: access,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: granted,
        refresh_token: None,
        id_token: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn authorization_code(
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
            let rec = audit::record(
                &mut tx,
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
            tx.commit().await.map_err(internal)?;
            rec.emit();
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

#[allow(clippy::too_many_arguments)]
async fn refresh_grant(
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
            let rec = audit::record(&mut tx, Event {
                kind: Kind::RefreshTokenReused,
                tenant: Some(tenant.id),
                target: Some(format!("user:{}", row.user_id)),
                metadata: json!({ "client_id": client.client_id, "family": row.family_id, "revoked_tokens": n }),
                ctx,
            }, now).await.map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            rec.emit();
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

/// The user behind a code or refresh token, if still active in this tenant.
async fn active_profile(
    scope: &mut TenantScope<'_>,
    user_id: &str,
) -> Result<Option<Profile>, Error> {
    let Ok(id) = user_id.parse() else {
        return Ok(None);
    };
    let user = scope.user_by_id(id).await.map_err(internal)?;
    Ok(user.filter(|u| u.is_active()).map(|u| Profile {
        sub: u.id.to_string(),
        email: Some(u.email.as_str().to_owned()),
        email_verified: u.email_verified,
        name: u.profile.name,
        given_name: u.profile.given_name,
        family_name: u.profile.family_name,
        nickname: u.profile.nickname,
        picture: u.profile.picture,
        locale: u.profile.locale,
        zoneinfo: u.profile.zoneinfo,
    }))
}

/// Inserts the access token and, with a family, the next refresh token of that family.
#[allow(clippy::too_many_arguments)]
async fn persist(
    scope: &mut TenantScope<'_>,
    client: &Client,
    s: &Subject,
    granted: &Scope,
    refresh_scope: &Scope,
    family: Option<String>,
    code_hash: Option<&str>,
    now: UnixTime,
) -> Result<Issued, Error> {
    let access = secret::generate();
    scope
        .access_insert(&AccessRow {
            token_hash: secret::hash(&access),
            client_id: client.client_id.clone(),
            user_id: Some(s.user_id.clone()),
            scope: granted.to_string(),
            family_id: family.clone(),
            code_hash: code_hash.map(str::to_owned),
            auth_time: Some(s.auth_time),
            sid: s.sid.clone(),
            expires_at: now + client.access_token_ttl,
            revoked_at: None,
            created_at: now,
        })
        .await
        .map_err(internal)?;
    let refresh = match family {
        None => None,
        Some(family_id) => {
            let r = secret::generate();
            scope
                .refresh_insert(&RefreshRow {
                    token_hash: secret::hash(&r),
                    client_id: client.client_id.clone(),
                    user_id: s.user_id.clone(),
                    family_id,
                    scope: refresh_scope.to_string(),
                    auth_time: s.auth_time,
                    sid: s.sid.clone(),
                    code_hash: code_hash.map(str::to_owned),
                    expires_at: now + client.refresh_token_ttl,
                    used_at: None,
                    revoked_at: None,
                    created_at: now,
                })
                .await
                .map_err(internal)?;
            Some(r)
        }
    };
    Ok(Issued {
        access_token: access,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: granted.clone(),
        refresh_token: refresh,
        id_token: None,
    })
}

/// Signs the id_token (only for `openid` grants) after the transaction committed.
async fn finish(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    mut issued: Issued,
    subject: Option<Subject>,
    now: UnixTime,
) -> Result<Issued, Error> {
    let Some(s) = subject.filter(|_| issued.scope.contains(scope::OPENID)) else {
        return Ok(issued);
    };
    let key = super::keys::signer(app, tenant, client.id_token_alg)
        .await
        .map_err(internal)?;
    let issuer = tenant.issuer(&app.config.public_url);
    let claims = claims::id_token(&claims::IdToken {
        issuer: &issuer,
        client_id: &client.client_id,
        profile: &s.profile,
        scope: &issued.scope,
        now,
        ttl: client.id_token_ttl,
        auth_time: s.auth_time,
        nonce: s.nonce.as_deref(),
        access_token: Some(&issued.access_token),
        sid: s.sid.as_deref(),
        alg: client.id_token_alg,
        with_profile: client.claims_in_id_token,
    });
    issued.id_token = Some(key.sign_jwt(&claims).map_err(internal)?);
    Ok(issued)
}
