//! Changing a registered client's settings (the management API's `PATCH`, the CLI's
//! `client update`): the changed client is checked by the same `build` as a new one, so no
//! registration rule exists twice.

use super::{NewClient, build, invalid};
use crate::app::App;
use crate::domain::client::{Client, ClientKind, RedirectUri};
use crate::domain::tenant::Tenant;
use crate::service::audit::{self, Event, Kind};
use crate::service::{Context, Error, Result};

/// Changes to any setting of a registered client (the management API's `PATCH`); `None`
/// leaves a setting as it is. The kind (public or confidential), the secret and the status
/// have their own use cases.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ClientChanges {
    #[serde(skip_serializing_if = "Option::is_none", rename = "client_name")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "scope")]
    pub scopes: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "token_endpoint_auth_method"
    )]
    pub auth_method: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "id_token_signed_response_alg"
    )]
    pub id_token_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_party: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_plain_pkce: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims_in_id_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_ttl: Option<i64>,
}

/// What `c` would be registered with today: the input that [`build`] validates.
fn as_new(c: &Client) -> NewClient {
    let strings = |uris: &[RedirectUri]| uris.iter().map(|u| u.as_str().to_owned()).collect();
    NewClient {
        name: c.name.clone(),
        redirect_uris: strings(&c.redirect_uris),
        post_logout_redirect_uris: strings(&c.post_logout_redirect_uris),
        public: c.kind == ClientKind::Public,
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        scopes: Some(c.scopes.to_string()),
        id_token_alg: Some(c.id_token_alg.as_str().to_owned()),
        auth_method: Some(c.auth_method.as_str().to_owned()),
        first_party: c.first_party,
        allow_plain_pkce: c.allow_plain_pkce,
        require_pkce: c.require_pkce,
        claims_in_id_token: c.claims_in_id_token,
        introspection: c.introspection,
        require_mfa: c.require_mfa,
        access_token_ttl: Some(c.access_token_ttl),
        refresh_token_ttl: Some(c.refresh_token_ttl),
        id_token_ttl: Some(c.id_token_ttl),
    }
}

/// Applies `ch` to the client: the changed registration passes exactly the rules of
/// [`create`] (one function, [`build`], holds them), so no update can reach a state that a
/// registration could not.
pub async fn change(
    app: &App,
    tenant: &Tenant,
    client_id: &str,
    ch: &ClientChanges,
    ctx: &Context,
) -> Result<Client> {
    super::not_builtin(client_id, "changed")?;
    let metadata = serde_json::to_value(ch).map_err(|e| Error::Internal(e.to_string()))?;
    if metadata.as_object().is_none_or(|m| m.is_empty()) {
        return Err(invalid("nothing to change: give at least one setting"));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let old = scope
        .client_get_any(client_id)
        .await?
        .ok_or(Error::NotFound("client"))?;
    let mut n = as_new(&old);
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &ch.$f { n.$f = v.clone(); } )* };
    }
    set!(
        name,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        first_party,
        allow_plain_pkce,
        require_pkce,
        claims_in_id_token,
        introspection,
        require_mfa
    );
    macro_rules! set_opt {
        ($($f:ident),*) => { $( if ch.$f.is_some() { n.$f = ch.$f.clone(); } )* };
    }
    set_opt!(
        scopes,
        auth_method,
        id_token_alg,
        access_token_ttl,
        refresh_token_ttl,
        id_token_ttl
    );
    let client = Client {
        client_id: old.client_id.clone(),
        status: old.status,
        created_at: old.created_at,
        ..build(tenant, &n, now)?
    };
    scope.client_update(&client, now).await?;
    audit::commit(
        tx,
        Event {
            kind: Kind::ClientUpdated,
            tenant: Some(tenant.id),
            target: Some(format!("client:{client_id}")),
            metadata,
            ctx,
        },
        now,
    )
    .await?;
    app.clients.invalidate(tenant.id, client_id);
    Ok(client)
}
