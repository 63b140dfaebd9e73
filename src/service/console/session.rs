//! Signing in to the console and its sessions. The console is a relying party of the tenant's
//! own OpenID Provider: [`begin`] keeps state, nonce and the PKCE verifier (RFC 7636, S256)
//! server-side behind a short-lived pre-login cookie and sends the browser to `/authorize`;
//! [`finish`] checks the state, redeems the code in process and opens a console session whose
//! tokens are stored sealed with the key-encryption key. [`current`] turns the session cookie
//! back into a [`Principal`] through `authz::authenticate` with the stored access token, the
//! same path an API call with that token takes, so every console action is authorized by the
//! one authorization path, and a removed role or a disabled user ends console access at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{CLIENT_ID, SCOPES, redirect_uri};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::AuthMethod;
use crate::domain::tenant::Tenant;
use crate::protocol::token::TokenRequest;
use crate::service::authz::{self, Actor, Principal};
use crate::service::client_auth::Presented;
use crate::service::sessions::{hash_token, random_token};
use crate::service::{Context, Error, Result};
use crate::store::console::{ConsoleSessionRow, LoginRow};

/// A sign-in must come back from `/authorize` within this long.
pub const LOGIN_TTL: i64 = 600;
/// A console session unused for this long ends (idle limit).
pub const IDLE_TIMEOUT: i64 = 30 * 60;
/// A console session ends this long after sign-in whatever its use (absolute limit).
pub const LIFETIME: i64 = super::ACCESS_TOKEN_TTL;
/// `last_seen` is written at most this often (one write a minute per session).
const TOUCH_EVERY: i64 = 60;
/// Sensitive actions need an authentication younger than this (`max_age`, OIDC Core §3.1.2.1).
pub const RECENT_AUTH: i64 = 300;

/// A started sign-in: the pre-login cookie's value and where to send the browser.
pub struct Started {
    pub cookie: String,
    pub authorize_url: String,
}

/// Starts a sign-in at `tenant`; `return_to` is a console path to show afterwards, and
/// `max_age` asks the OP for a fresh authentication (recent-auth round trip).
pub async fn begin(
    app: &App,
    tenant: &Tenant,
    return_to: &str,
    max_age: Option<i64>,
) -> Result<Started> {
    super::reconcile_tenant(app, tenant).await?;
    let now = app.clock.now();
    let cookie = random_token();
    let row = LoginRow {
        state: random_token(),
        nonce: random_token(),
        verifier: random_token(),
        return_to: return_to.to_owned(),
        expires_at: now + LOGIN_TTL,
    };
    let challenge = {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, row.verifier.as_bytes());
        URL_SAFE_NO_PAD.encode(d.as_ref())
    };
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    scope.console_prune(now).await?;
    scope
        .console_login_insert(&hash_token(&cookie), &row, now)
        .await?;
    tx.commit().await?;
    let mut url = url::Url::parse(&format!(
        "{}{}",
        tenant.issuer(&app.config.public_url),
        crate::protocol::endpoints::AUTHORIZE
    ))
    .map_err(|e| Error::Internal(e.to_string()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &redirect_uri(&app.config, tenant))
            .append_pair("scope", SCOPES)
            .append_pair("state", &row.state)
            .append_pair("nonce", &row.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(age) = max_age {
            q.append_pair("max_age", &age.to_string());
        }
    }
    Ok(Started {
        cookie,
        authorize_url: url.into(),
    })
}

/// Why a callback did not open a session.
#[derive(Debug)]
pub enum Refused {
    /// No sign-in in progress for this browser, a wrong state, or an expired one.
    Stale,
    /// The OP answered with an error (the user cancelled, the client is unknown ...).
    Provider(String),
    /// Signed in, but the user holds no role in the tenant (or the token does not work).
    NoRole,
    Service(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Service(e)
    }
}

/// An opened console session: the cookie value and where to go.
pub struct Opened {
    pub cookie: String,
    pub return_to: String,
    pub max_age: i64,
}

/// What the session row keeps sealed.
#[derive(Serialize, Deserialize)]
struct Tokens {
    access_token: String,
    id_token: Option<String>,
}

/// The cookie names the home tenant, so the session is looked up inside that tenant's scope
/// (`store::scope`); the whole value is the secret and only its hash is stored.
fn cookie_value(tenant: &Tenant, secret: &str) -> String {
    format!("{}.{secret}", tenant.slug)
}

/// The home tenant's slug named by a console cookie.
/// The longest console cookie value (a slug, a dot and a 256-bit secret) worth a lookup:
/// anything longer is no cookie of ours, answered without hashing it or touching the database.
const MAX_COOKIE: usize = 2 * crate::protocol::limits::TOKEN;

pub fn cookie_tenant(cookie: &str) -> Option<&str> {
    cookie
        .split_once('.')
        .map(|(slug, _)| slug)
        .filter(|s| crate::domain::tenant::Slug::is_valid(s))
}

/// Completes a sign-in: the pre-login row is taken (one use), the state compared in constant
/// time, the code redeemed by the token service in process with the PKCE verifier.
pub async fn finish(
    app: &App,
    tenant: &Tenant,
    pre_login: &str,
    state: &str,
    code: &str,
    ctx: &Context,
) -> std::result::Result<Opened, Refused> {
    use crate::protocol::limits;
    // Bounded before the write transaction that takes the pre-login row: junk from a forged
    // callback costs nothing.
    if pre_login.len() > MAX_COOKIE || state.len() > limits::STATE || code.len() > limits::TOKEN {
        return Err(Refused::Stale);
    }
    let now = app.clock.now();
    let row = {
        let mut tx = app.store.begin().await.map_err(Error::from)?;
        let row = tx
            .scope(tenant)
            .console_login_take(&hash_token(pre_login))
            .await
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        row
    };
    let Some(row) = row.filter(|r| r.expires_at > now) else {
        return Err(Refused::Stale);
    };
    if !bool::from(row.state.as_bytes().ct_eq(state.as_bytes())) {
        return Err(Refused::Stale);
    }
    let presented = Presented {
        client_id: CLIENT_ID.to_owned(),
        secret: None,
        method: AuthMethod::None,
    };
    let req = TokenRequest::AuthorizationCode {
        code: code.to_owned(),
        redirect_uri: Some(redirect_uri(&app.config, tenant)),
        code_verifier: Some(row.verifier.clone()),
    };
    let issued = crate::service::token::exchange(app, tenant, &presented, req, ctx)
        .await
        .map_err(|e| Refused::Provider(e.description.into_owned()))?;
    // The id_token comes straight from our own token service in this process (no network,
    // no other issuer), so its signature needs no check here; its nonce and auth_time are
    // read to tie the answer to this sign-in (OIDC Core §3.1.3.7 step 11) and to know how
    // fresh the authentication is.
    let claims = issued
        .id_token
        .as_deref()
        .and_then(payload)
        .ok_or_else(|| Refused::Provider("no id_token in the token response".into()))?;
    if claims["nonce"].as_str() != Some(row.nonce.as_str()) {
        return Err(Refused::Stale);
    }
    let auth_time = claims["auth_time"].as_i64().unwrap_or(now);
    let Some(principal) = authz::authenticate(app, &issued.access_token).await? else {
        return Err(Refused::NoRole);
    };
    let Actor::User { id, .. } = principal.actor() else {
        return Err(Refused::NoRole);
    };
    let secret = random_token();
    let cookie = cookie_value(tenant, &secret);
    let id_hash = hash_token(&cookie);
    let kek = app.keys.kek(app).await?;
    let tokens = Tokens {
        access_token: issued.access_token.clone(),
        id_token: issued.id_token.clone(),
    };
    let plain = serde_json::to_vec(&tokens).map_err(|e| Error::Internal(e.to_string()))?;
    let expires_at = now + LIFETIME.min(issued.expires_in);
    let session = ConsoleSessionRow {
        user_id: id.to_string(),
        tokens: kek.seal(&plain, &aad(&id_hash))?,
        kek_id: kek.id.clone(),
        auth_time,
        last_seen: now,
        expires_at,
    };
    let mut tx = app.store.begin().await.map_err(Error::from)?;
    tx.scope(tenant)
        .console_session_insert(&id_hash, &session, now)
        .await
        .map_err(Error::from)?;
    tx.commit().await.map_err(Error::from)?;
    Ok(Opened {
        cookie,
        return_to: row.return_to,
        max_age: expires_at - now,
    })
}

/// The sealed tokens are bound to their row.
fn aad(id_hash: &str) -> String {
    format!("console_session:{id_hash}")
}

/// The claims of a compact JWS, unverified (see the caller for why that is enough).
fn payload(jws: &str) -> Option<serde_json::Value> {
    let part = jws.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A live console session: the caller as the API would see its access token.
pub struct Live {
    pub principal: Principal,
    pub home: Tenant,
    pub auth_time: UnixTime,
}

/// The console session behind a cookie, or `None` (unknown, idle or past its lifetime, or its
/// access token no longer authenticates: revoked, role removed, user or tenant disabled).
pub async fn current(app: &App, cookie: &str) -> Result<Option<Live>> {
    if cookie.len() > MAX_COOKIE {
        return Ok(None);
    }
    let Some(slug) = cookie_tenant(cookie) else {
        return Ok(None);
    };
    let Some(home) = app
        .tenants
        .get(&app.store, slug)
        .await?
        .filter(Tenant::is_active)
    else {
        return Ok(None);
    };
    let now = app.clock.now();
    let id_hash = hash_token(cookie);
    let row = {
        let mut tx = app.store.read().await?;
        tx.scope(&home).console_session_get(&id_hash).await?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    if row.expires_at <= now || now - row.last_seen >= IDLE_TIMEOUT {
        return Ok(None);
    }
    let Some(tokens) = open(app, &row, &id_hash).await? else {
        return Ok(None);
    };
    let Some(principal) = authz::authenticate(app, &tokens.access_token).await? else {
        return Ok(None);
    };
    if now - row.last_seen >= TOUCH_EVERY {
        let mut tx = app.store.begin().await?;
        tx.scope(&home).console_session_touch(&id_hash, now).await?;
        tx.commit().await?;
    }
    Ok(Some(Live {
        principal,
        home,
        auth_time: row.auth_time,
    }))
}

async fn open(app: &App, row: &ConsoleSessionRow, id_hash: &str) -> Result<Option<Tokens>> {
    let kek = app.keys.kek(app).await?;
    if row.kek_id != kek.id {
        // Sealed under another key-encryption key: the session cannot be used; sign in again.
        return Ok(None);
    }
    let plain = kek.open(&row.tokens, &aad(id_hash))?;
    Ok(serde_json::from_slice(&plain).ok())
}

/// Ends the console session behind `cookie` and revokes its access token (RFC 7009, as the
/// relying party it is); returns the home tenant and the id_token (the RP-initiated logout's
/// `id_token_hint`) when there was a session.
pub async fn end(
    app: &App,
    cookie: &str,
    ctx: &Context,
) -> Result<Option<(Tenant, Option<String>)>> {
    if cookie.len() > MAX_COOKIE {
        return Ok(None);
    }
    let Some(slug) = cookie_tenant(cookie) else {
        return Ok(None);
    };
    let Some(home) = app.tenants.get(&app.store, slug).await? else {
        return Ok(None);
    };
    let id_hash = hash_token(cookie);
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(&home);
    let Some(row) = scope.console_session_get(&id_hash).await? else {
        return Ok(None);
    };
    scope.console_session_delete(&id_hash).await?;
    tx.commit().await?;
    let Some(tokens) = open(app, &row, &id_hash).await.ok().flatten() else {
        return Ok(Some((home, None)));
    };
    let presented = Presented {
        client_id: CLIENT_ID.to_owned(),
        secret: None,
        method: AuthMethod::None,
    };
    let revoked =
        crate::service::revoke::revoke(app, &home, &presented, &tokens.access_token, ctx).await;
    if let Err(e) = revoked {
        // The session is gone either way; the token then lives until it expires.
        tracing::warn!(error = %e.description, "could not revoke the console's access token");
    }
    Ok(Some((home, tokens.id_token)))
}

/// Whether the session's authentication is recent enough for a sensitive action.
pub fn recent(app: &App, live: &Live) -> bool {
    app.clock.now() - live.auth_time < RECENT_AUTH
}
