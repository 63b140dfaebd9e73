//! The token endpoint's use cases: the three grants (RFC 6749 §4.1.3, §4.4, §6). Each reads
//! what it needs, then writes one `WriteSet` (the spent code or refresh token and the new tokens,
//! atomically) through group commit (`store::group`); id_tokens are signed after the commit with
//! the tenant's cached key.

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
use crate::domain::user::User;
use crate::protocol::claims::{self, Profile};
use crate::protocol::token::{Issued, TokenRequest};
use crate::protocol::{Error, secret};
use crate::store::{AccessRow, RefreshRow, WriteSet};

/// Who the tokens are for, and what the id_token needs.
pub(super) struct Subject {
    user_id: String,
    auth_time: UnixTime,
    sid: Option<String>,
    nonce: Option<String>,
    profile: Profile,
    /// How the user signed in (RFC 8176), carried from the code to every token of the grant.
    amr: Option<String>,
}

impl Subject {
    /// The sign-in's methods as a list (`None`: not recorded).
    fn amr_list(&self) -> Option<Vec<String>> {
        self.amr
            .as_deref()
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
    }
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
    match req {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::client_credentials(app, tenant, &client, scope, now).await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let (issued, subject) = code::authorization_code(
                app,
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
                refresh::refresh_grant(app, tenant, &client, &refresh_token, scope, ctx, now)
                    .await?;
            finish(app, tenant, &client, issued, subject, now).await
        }
    }
}

/// The profile of the user behind a code or refresh token, if the user is still active.
pub(super) fn active_profile(user: User) -> Option<Profile> {
    user.is_active().then(|| Profile::from(user))
}

/// New tokens for a user: the access token and, with a family, the next refresh token of that
/// family, added to `set` (written by the caller through the group writer).
pub(super) struct Grant<'a> {
    pub client: &'a Client,
    pub subject: &'a Subject,
    pub granted: &'a Scope,
    pub refresh_scope: &'a Scope,
    pub family: Option<String>,
    /// The new refresh token's place in its family (0 for a code's, +1 per rotation).
    pub generation: i64,
    pub code_hash: Option<&'a str>,
    pub now: UnixTime,
}

pub(super) fn mint(g: Grant<'_>, set: WriteSet) -> (Issued, WriteSet) {
    let (client, s, now) = (g.client, g.subject, g.now);
    let access = secret::generate();
    let set = set.access(AccessRow {
        token_hash: secret::hash(&access),
        client_id: client.client_id.clone(),
        user_id: Some(s.user_id.clone()),
        scope: g.granted.to_string(),
        family_id: g.family.clone(),
        code_hash: g.code_hash.map(str::to_owned),
        auth_time: Some(s.auth_time),
        sid: s.sid.clone(),
        expires_at: now + client.access_token_ttl,
        revoked_at: None,
        created_at: now,
        generation: g.family.is_some().then_some(g.generation),
        amr: s.amr.clone(),
    });
    let (refresh, set) = match g.family {
        None => (None, set),
        Some(family_id) => {
            let r = secret::generate();
            let set = set.refresh(RefreshRow {
                token_hash: secret::hash(&r),
                client_id: client.client_id.clone(),
                user_id: s.user_id.clone(),
                family_id,
                scope: g.refresh_scope.to_string(),
                auth_time: s.auth_time,
                sid: s.sid.clone(),
                code_hash: g.code_hash.map(str::to_owned),
                expires_at: now + client.refresh_token_ttl,
                used_at: None,
                revoked_at: None,
                created_at: now,
                generation: g.generation,
                retried_at: None,
                amr: s.amr.clone(),
            });
            (Some(r), set)
        }
    };
    let issued = Issued {
        access_token: access,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: g.granted.clone(),
        refresh_token: refresh,
        id_token: None,
    };
    (issued, set)
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
    let amr = s.amr_list();
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
        amr: amr.as_deref(),
        alg: client.id_token_alg,
        with_profile: client.claims_in_id_token,
    });
    issued.id_token = Some(key.sign_jwt(&claims).map_err(internal)?);
    Ok(issued)
}
