//! The admin console's use cases: its built-in client per tenant (this file), sign-in and
//! console sessions (`session`), and what its pages show (`pages`).
//!
//! The console is a relying party of each tenant's own OpenID Provider through the built-in
//! public client [`CLIENT_ID`]. Its redirect URIs depend on `OPENTRUSTY_ADMIN_URL`, which the
//! database cannot know when a migration adds the client to existing tenants. Choice: the
//! client is stored like any other (so `/authorize`, the token endpoint and logout need no
//! special case), tenant creation writes the URIs from the running configuration, and the
//! daemon reconciles every tenant's built-in client with its configuration at start
//! ([`reconcile`]). A per-request override would have to be repeated in every protocol path
//! that reads clients; a start-up reconcile is one place, and a configuration change takes
//! effect on restart, like every other setting. The reserved id is the marker: generated
//! client ids are 22 random characters, so no registered client can take it.

pub mod pages;
pub mod session;

use crate::app::App;
use crate::config::Config;
use crate::domain::client::{AuthMethod, Client, ClientKind, GrantType, RedirectUri, SigningAlg};
use crate::domain::scope::Scope;
use crate::domain::tenant::{Status, Tenant};
use crate::store::Tx;

use super::{Error, Result};

/// The built-in client's id in every tenant.
pub const CLIENT_ID: &str = "opentrusty-console";
/// Its scopes: an id_token for the sign-in, and the management API's scope.
pub const SCOPES: &str = "openid opentrusty:admin";
/// Lifetime of its access tokens, which also bounds a console session (absolute limit).
pub const ACCESS_TOKEN_TTL: i64 = 8 * 3600;

/// Whether `client_id` is the built-in console client (not listed, not deletable).
pub fn is_builtin(client_id: &str) -> bool {
    client_id == CLIENT_ID
}

/// The console's path prefix for a tenant under the admin plane's base URL.
pub fn tenant_base(config: &Config, tenant: &Tenant) -> String {
    format!(
        "{}/console/t/{}",
        config
            .console
            .base(&config.public_url)
            .as_str()
            .trim_end_matches('/'),
        tenant.slug
    )
}

pub fn redirect_uri(config: &Config, tenant: &Tenant) -> String {
    format!("{}/callback", tenant_base(config, tenant))
}

pub fn post_logout_uri(config: &Config, tenant: &Tenant) -> String {
    format!("{}/signed-out", tenant_base(config, tenant))
}

/// The registered URIs for this configuration, or none when the admin URL cannot be a
/// redirect URI (plain http on a host other than loopback: RFC 8252 §8.3, our rule too).
fn uris(config: &Config, tenant: &Tenant) -> (Vec<RedirectUri>, Vec<RedirectUri>) {
    match (
        RedirectUri::parse(&redirect_uri(config, tenant)),
        RedirectUri::parse(&post_logout_uri(config, tenant)),
    ) {
        (Ok(r), Ok(p)) => (vec![r], vec![p]),
        _ => {
            tracing::warn!(
                tenant = %tenant.slug,
                "the console's redirect URI is not allowed (http on a non-loopback host); set OPENTRUSTY_ADMIN_URL to an https URL to sign in to the console"
            );
            (Vec::new(), Vec::new())
        }
    }
}

/// The built-in client of `tenant` as this configuration registers it.
pub fn builtin_client(config: &Config, tenant: &Tenant, now: i64) -> Result<Client> {
    let (redirect_uris, post_logout_redirect_uris) = uris(config, tenant);
    Ok(Client {
        tenant_id: tenant.id,
        client_id: CLIENT_ID.to_owned(),
        name: "OpenTrusty console".to_owned(),
        kind: ClientKind::Public,
        auth_method: AuthMethod::None,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: Scope::parse(SCOPES).map_err(|e| Error::Internal(e.to_string()))?,
        id_token_alg: SigningAlg::RS256,
        access_token_ttl: ACCESS_TOKEN_TTL,
        refresh_token_ttl: 30 * 86_400,
        id_token_ttl: 3600,
        require_pkce: true,
        allow_plain_pkce: false,
        first_party: true,
        claims_in_id_token: false,
        introspection: false,
        // The console asks for the tenant's policy like any first-party client would; its
        // sensitive actions are guarded by a recent authentication instead.
        require_mfa: false,
        status: Status::Active,
        created_at: now,
    })
}

/// Adds the built-in client to a tenant being created, in the creation's transaction.
pub async fn add_to_new_tenant(app: &App, tx: &mut Tx, tenant: &Tenant, now: i64) -> Result<()> {
    let client = builtin_client(&app.config, tenant, now)?;
    tx.scope(tenant).client_insert(&client, None, now).await?;
    Ok(())
}

/// Writes every tenant's built-in client URIs for the running configuration where they
/// differ (daemon start; see the module comment). Returns how many tenants were updated.
pub async fn reconcile(app: &App) -> Result<usize> {
    let tenants = {
        let mut tx = app.store.read().await?;
        tx.tenants_list().await?
    };
    let mut changed = 0;
    for tenant in &tenants {
        if reconcile_tenant(app, tenant).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Brings one tenant's built-in client in line with this configuration; whether it wrote.
/// Also run before each console sign-in, so a tenant made meanwhile by an offline operator
/// command with another environment (its URIs computed from that one) still works here.
pub async fn reconcile_tenant(app: &App, tenant: &Tenant) -> Result<bool> {
    let join = |v: &[RedirectUri]| {
        v.iter()
            .map(RedirectUri::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (r, p) = uris(&app.config, tenant);
    let (r, p) = (join(&r), join(&p));
    {
        let mut tx = app.store.read().await?;
        if let Some((have_r, have_p)) = tx.scope(tenant).console_client_uris(CLIENT_ID).await?
            && have_r == r
            && have_p == p
        {
            return Ok(false);
        }
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    match scope.console_client_uris(CLIENT_ID).await? {
        Some((have_r, have_p)) if have_r == r && have_p == p => return Ok(false),
        Some(_) => {
            scope
                .console_client_set_uris(CLIENT_ID, &r, &p, now)
                .await?
        }
        None => {
            // A tenant created by a build without the console client (or whose row an
            // operator removed by hand): add it.
            let client = builtin_client(&app.config, tenant, now)?;
            scope.client_insert(&client, None, now).await?;
        }
    }
    tx.commit().await?;
    app.clients.invalidate(tenant.id, CLIENT_ID);
    Ok(true)
}

/// Whether the `platform` tenant has a user yet (the first-run line at start).
pub async fn platform_has_user(app: &App) -> Result<bool> {
    let mut tx = app.store.read().await?;
    let Some(platform) = tx.tenant_by_slug(crate::domain::tenant::PLATFORM).await? else {
        return Ok(false);
    };
    let counts = tx
        .scope(&platform)
        .console_counts(CLIENT_ID, app.clock.now())
        .await?;
    Ok(counts.users > 0)
}
