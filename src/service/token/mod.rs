//! The token endpoint's use cases: the three grants (RFC 6749 §4.1.3, §4.4, §6). Each is one
//! write transaction with a small, fixed number of statements; id_tokens are signed after the
//! commit with the tenant's cached key.

mod client_credentials;
mod code;
mod refresh;

use super::Context;
use super::client_auth::{Presented, authenticate, internal};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::claims::{self, Profile};
use crate::protocol::token::{Issued, TokenRequest};
use crate::protocol::{Error, secret};
use crate::store::{AccessRow, RefreshRow, TenantScope};

/// Who the tokens are for, and what the id_token needs.
pub(super) struct Subject {
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
    let client = authenticate(app, tenant, presented).await?;
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
    // client_credentials writes one row: no transaction around it. The other grants read and
    // write several rows atomically.
    let tx = match &req {
        TokenRequest::ClientCredentials { .. } => app.store.autocommit().await,
        _ => app.store.begin().await,
    }
    .map_err(internal)?;
    match req {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::client_credentials(tx, tenant, &client, scope, now).await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let (issued, subject) = code::authorization_code(
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
                refresh::refresh_grant(app, tx, tenant, &client, &refresh_token, scope, ctx, now)
                    .await?;
            finish(app, tenant, &client, issued, subject, now).await
        }
    }
}

/// The user behind a code or refresh token, if still active in this tenant.
pub(super) async fn active_profile(
    scope: &mut TenantScope<'_>,
    user_id: &str,
) -> Result<Option<Profile>, Error> {
    let Ok(id) = user_id.parse() else {
        return Ok(None);
    };
    let user = scope.user_by_id(id).await.map_err(internal)?;
    Ok(user.filter(|u| u.is_active()).map(Profile::from))
}

/// Inserts the access token and, with a family, the next refresh token of that family.
#[allow(clippy::too_many_arguments)]
pub(super) async fn persist(
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
