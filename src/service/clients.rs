//! Client registration use cases (CLI, later the admin API): create, list, update, rotate the
//! secret, disable, enable, delete. Secrets are 256-bit random values shown once and stored as
//! SHA-256.

use base64::Engine;
use serde_json::json;

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};
use crate::app::App;
use crate::domain::client::{AuthMethod, Client, ClientKind, GrantType, RedirectUri, SigningAlg};
use crate::domain::scope::Scope;
use crate::domain::tenant::{Status, Tenant};
use crate::protocol::{keyring, secret};
use crate::store::Holder;

mod change;

pub use change::{ClientChanges, change};

/// What an operator asks for; every field is validated here.
#[derive(Debug, Default, Clone)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty means `authorization_code refresh_token`.
    pub grant_types: Vec<String>,
    /// None means `openid profile email offline_access`.
    pub scopes: Option<String>,
    pub id_token_alg: Option<String>,
    pub auth_method: Option<String>,
    pub first_party: bool,
    pub allow_plain_pkce: bool,
    pub require_pkce: bool,
    pub claims_in_id_token: bool,
    /// May introspect other clients' access tokens (a resource server).
    pub introspection: bool,
    /// Every login for this client needs a second factor (issue 12), whatever the tenant's
    /// policy and whether or not the user enrolled one.
    pub require_mfa: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub id_token_ttl: Option<i64>,
}

pub struct Created {
    pub client: Client,
    /// The secret of a confidential client, shown once.
    pub secret: Option<String>,
}

fn invalid(s: impl Into<String>) -> Error {
    Error::Invalid(s.into())
}

/// 128 random bits, base64url. An id that would begin with `-` is drawn again (one in 64): it
/// reads as an option to every command line that names it.
fn new_client_id() -> String {
    loop {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b).expect("the OS random number generator failed");
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn build(tenant: &Tenant, n: &NewClient, now: i64) -> Result<Client> {
    let name = n.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("client_name must be 1 to 200 characters"));
    }
    // Messages name the field as the API (RFC 7591) and the CLI's `--json` spell it.
    let uris = |list: &[String], field: &str| -> Result<Vec<RedirectUri>> {
        list.iter()
            .map(|u| RedirectUri::parse(u).map_err(|e| invalid(format!("{field}: {e}"))))
            .collect()
    };
    let grant_types: Vec<GrantType> = if n.grant_types.is_empty() {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        n.grant_types
            .iter()
            .map(|g| {
                GrantType::parse(g)
                    .ok_or_else(|| invalid(format!("grant_types: unknown grant type {g:?}")))
            })
            .collect::<Result<_>>()?
    };
    let kind = if n.public {
        ClientKind::Public
    } else {
        ClientKind::Confidential
    };
    let auth_method = match (kind, n.auth_method.as_deref()) {
        (ClientKind::Public, None | Some("none")) => AuthMethod::None,
        (ClientKind::Public, Some(m)) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method: a public client has no secret; {m:?} is impossible"
            )));
        }
        (ClientKind::Confidential, None) => AuthMethod::ClientSecretBasic,
        (ClientKind::Confidential, Some(m)) => match AuthMethod::parse(m) {
            Some(AuthMethod::None) | None => {
                return Err(invalid(
                    "token_endpoint_auth_method: a confidential client authenticates with client_secret_basic or client_secret_post",
                ));
            }
            Some(m) => m,
        },
    };
    if kind == ClientKind::Public && n.introspection {
        return Err(invalid(
            "introspection: needs a confidential client (RFC 7662 §2.1)",
        ));
    }
    if kind == ClientKind::Public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(invalid(
            "grant_types: client_credentials needs a confidential client",
        ));
    }
    let redirect_uris = uris(&n.redirect_uris, "redirect_uris")?;
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uris: the authorization_code grant needs at least one redirect URI",
        ));
    }
    let scopes = Scope::parse(
        n.scopes
            .as_deref()
            .unwrap_or("openid profile email offline_access"),
    )
    .map_err(|e| invalid(format!("scope: {e}")))?;
    let id_token_alg = match n.id_token_alg.as_deref() {
        None => SigningAlg::RS256,
        Some(a) => SigningAlg::parse(a).ok_or_else(|| {
            invalid(format!(
                "id_token_signed_response_alg must be RS256, ES256 or EdDSA, not {a:?}"
            ))
        })?,
    };
    let ttl = |v: Option<i64>, default: i64, max: i64, what: &str| -> Result<i64> {
        let v = v.unwrap_or(default);
        if (1..=max).contains(&v) {
            Ok(v)
        } else {
            Err(invalid(format!("{what} must be 1 to {max} seconds")))
        }
    };
    Ok(Client {
        tenant_id: tenant.id,
        client_id: new_client_id(),
        name: name.to_owned(),
        kind,
        auth_method,
        redirect_uris,
        post_logout_redirect_uris: uris(&n.post_logout_redirect_uris, "post_logout_redirect_uris")?,
        grant_types,
        scopes,
        id_token_alg,
        access_token_ttl: ttl(n.access_token_ttl, 3600, 86_400, "access_token_ttl")?,
        refresh_token_ttl: ttl(
            n.refresh_token_ttl,
            30 * 86_400,
            365 * 86_400,
            "refresh_token_ttl",
        )?,
        // Capped so a retired signing key can be dropped after this long (protocol::keyring).
        id_token_ttl: ttl(
            n.id_token_ttl,
            3600,
            keyring::MAX_SIGNED_LIFETIME,
            "id_token_ttl",
        )?,
        require_pkce: n.require_pkce || n.public,
        allow_plain_pkce: n.allow_plain_pkce,
        first_party: n.first_party,
        claims_in_id_token: n.claims_in_id_token,
        introspection: n.introspection,
        require_mfa: n.require_mfa,
        status: Status::Active,
        created_at: now,
    })
}

pub async fn create(app: &App, tenant: &Tenant, n: &NewClient, ctx: &Context) -> Result<Created> {
    let now = app.clock.now();
    let client = build(tenant, n, now)?;
    let secret = (client.kind == ClientKind::Confidential).then(secret::generate);
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
        .client_insert(&client, secret.as_deref().map(secret::hash).as_deref(), now)
        .await?;
    audit::commit(
        tx,
        Event {
            kind: Kind::ClientCreated,
            tenant: Some(tenant.id),
            target: Some(format!("client:{}", client.client_id)),
            metadata: json!({
                "name": client.name, "kind": client.kind, "require_mfa": client.require_mfa,
            }),
            ctx,
        },
        now,
    )
    .await?;
    app.clients.invalidate(tenant.id, &client.client_id);
    Ok(Created { client, secret })
}

/// The tenant's registered clients; the admin console's built-in client is not one of them.
pub async fn list(app: &App, tenant: &Tenant) -> Result<Vec<Client>> {
    let mut tx = app.store.read().await?;
    let mut all = tx.scope(tenant).clients_list().await?;
    all.retain(|c| !super::console::is_builtin(&c.client_id));
    Ok(all)
}

pub async fn get(app: &App, tenant: &Tenant, client_id: &str) -> Result<Client> {
    let mut tx = app.store.read().await?;
    tx.scope(tenant)
        .client_get_any(client_id)
        .await?
        .ok_or(Error::NotFound("client"))
}

/// Changes to a registered client; `None` leaves a setting as it is (the CLI's `client update`).
#[derive(Debug, Default, Clone)]
pub struct ClientPatch {
    pub introspection: Option<bool>,
}

pub async fn update(
    app: &App,
    tenant: &Tenant,
    client_id: &str,
    patch: &ClientPatch,
    ctx: &Context,
) -> Result<Client> {
    let changes = ClientChanges {
        introspection: patch.introspection,
        ..ClientChanges::default()
    };
    change(app, tenant, client_id, &changes, ctx).await
}

/// Up to `limit` clients after the keyset `after` = (created_at, client_id), in creation order.
pub async fn page(
    app: &App,
    tenant: &Tenant,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<Client>> {
    let mut tx = app.store.read().await?;
    // The admin console's built-in client is not an ordinary client: never listed.
    Ok(tx
        .scope(tenant)
        .clients_page(after, limit, super::console::CLIENT_ID)
        .await?)
}

/// Disables the client: it can no longer authenticate or start a flow, and its tokens and
/// unredeemed codes are revoked in the same transaction (enabling it again revives none).
pub async fn disable(app: &App, tenant: &Tenant, client_id: &str, ctx: &Context) -> Result<Client> {
    set_status(app, tenant, client_id, Status::Disabled, ctx).await
}

pub async fn enable(app: &App, tenant: &Tenant, client_id: &str, ctx: &Context) -> Result<Client> {
    set_status(app, tenant, client_id, Status::Active, ctx).await
}

async fn set_status(
    app: &App,
    tenant: &Tenant,
    client_id: &str,
    status: Status,
    ctx: &Context,
) -> Result<Client> {
    not_builtin(client_id, "disabled or enabled")?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let client = scope
        .client_get_any(client_id)
        .await?
        .ok_or(Error::NotFound("client"))?;
    scope.client_set_status(client_id, status, now).await?;
    let kind = match status {
        Status::Disabled => Kind::ClientDisabled,
        Status::Active => Kind::ClientEnabled,
    };
    // Enabling a disabled client revokes again what a node minted while its client cache
    // still held the client as active (up to the cache's TTL after the disable).
    let metadata = if status == Status::Disabled || !client.is_active() {
        let r = scope.holder_revoke(Holder::Client(client_id), now).await?;
        super::admin::ended(None, r)
    } else {
        json!({})
    };
    audit::commit(
        tx,
        Event {
            kind,
            tenant: Some(tenant.id),
            target: Some(format!("client:{client_id}")),
            metadata,
            ctx,
        },
        now,
    )
    .await?;
    app.clients.invalidate(tenant.id, client_id);
    Ok(Client { status, ..client })
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn rotate_secret(
    app: &App,
    tenant: &Tenant,
    client_id: &str,
    ctx: &Context,
) -> Result<String> {
    not_builtin(client_id, "given a secret")?;
    let now = app.clock.now();
    let s = secret::generate();
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
        .client_set_secret(client_id, &secret::hash(&s), now)
        .await
        .map_err(|e| match e {
            crate::store::Error::NotFound => Error::NotFound("confidential client"),
            e => e.into(),
        })?;
    audit::commit(
        tx,
        Event {
            kind: Kind::ClientSecretRotated,
            tenant: Some(tenant.id),
            target: Some(format!("client:{client_id}")),
            metadata: json!({}),
            ctx,
        },
        now,
    )
    .await?;
    app.clients.invalidate(tenant.id, client_id);
    Ok(s)
}

/// Refuses a change to the admin console's built-in client: the daemon keeps it as the
/// configuration says (its own reconciliation writes through the store, not through here), and
/// an administrator who changed or disabled it would lock everyone out of the console.
pub(super) fn not_builtin(client_id: &str, what: &str) -> Result<()> {
    if super::console::is_builtin(client_id) {
        return Err(Error::Conflict(format!(
            "client {client_id} is the admin console's built-in client and cannot be {what}"
        )));
    }
    Ok(())
}

/// Deletes the client and, through the foreign keys, its codes, tokens and consents.
pub async fn delete(app: &App, tenant: &Tenant, client_id: &str, ctx: &Context) -> Result<()> {
    not_builtin(client_id, "deleted")?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
        .client_delete(client_id)
        .await
        .map_err(|e| match e {
            crate::store::Error::NotFound => Error::NotFound("client"),
            e => e.into(),
        })?;
    audit::commit(
        tx,
        Event {
            kind: Kind::ClientDeleted,
            tenant: Some(tenant.id),
            target: Some(format!("client:{client_id}")),
            metadata: json!({}),
            ctx,
        },
        now,
    )
    .await?;
    app.clients.invalidate(tenant.id, client_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_ids_never_read_as_an_option() {
        for _ in 0..2000 {
            let id = super::new_client_id();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'), "{id}");
        }
    }
}
