//! `/api/v1/tenants/{slug}/clients`: a tenant's OAuth clients with RFC 7591 field names.
//! Viewers read them (never a secret or its hash); admins register, change, disable, delete
//! them and rotate secrets (each new secret is in that one answer only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Caller, Json, Query};
use super::problem::Problem;
use super::tenants::PageParams;
use crate::app::AppState;
use crate::domain::client::Client;
use crate::domain::tenant::Status;
use crate::service::authz::{self, grant};
use crate::service::clients::{ClientChanges, NewClient};
use crate::service::manage::clients;

/// A registered client (RFC 7591 §2 names), without any secret.
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// The scopes the client may ask for, space-separated.
    #[schema(example = "openid profile email offline_access")]
    pub scope: String,
    /// `client_secret_basic`, `client_secret_post`, or `none` (a public client).
    pub token_endpoint_auth_method: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: String,
    /// Skips the consent page.
    pub first_party: bool,
    pub require_pkce: bool,
    pub allow_plain_pkce: bool,
    pub claims_in_id_token: bool,
    /// May introspect other clients' access tokens (a resource server, RFC 7662).
    pub introspection: bool,
    /// Every login for this client needs a second factor (`acr` `urn:opentrusty:mfa`).
    pub require_mfa: bool,
    /// Seconds.
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub id_token_ttl: i64,
    /// `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    pub created_at: i64,
    /// The new secret, only in the answers of create and rotate: store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> ClientView {
        let strings = |v: &[crate::domain::client::RedirectUri]| {
            v.iter().map(|u| u.as_str().to_owned()).collect()
        };
        ClientView {
            redirect_uris: strings(&c.redirect_uris),
            post_logout_redirect_uris: strings(&c.post_logout_redirect_uris),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scope: c.scopes.to_string(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            id_token_signed_response_alg: c.id_token_alg.as_str().to_owned(),
            first_party: c.first_party,
            require_pkce: c.pkce_required(),
            allow_plain_pkce: c.allow_plain_pkce,
            claims_in_id_token: c.claims_in_id_token,
            introspection: c.introspection,
            require_mfa: c.require_mfa,
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            id_token_ttl: c.id_token_ttl,
            status: c.status.as_str().to_owned(),
            created_at: c.created_at,
            client_id: c.client_id,
            client_name: c.name,
            client_secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClientPage {
    pub items: Vec<ClientView>,
    pub next_cursor: Option<String>,
}

/// A client to register. `token_endpoint_auth_method: "none"` registers a public client (an
/// SPA or a native app: no secret, PKCE required); otherwise it is confidential and gets a
/// secret. Omitted settings take the CLI's defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    pub client_name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: `authorization_code`, `refresh_token`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Space-separated (default: `openid profile email offline_access`). Include
    /// `opentrusty:admin` for a client that calls the management API for its users.
    pub scope: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post` or `none` (public).
    pub token_endpoint_auth_method: Option<String>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub require_pkce: bool,
    #[serde(default)]
    pub allow_plain_pkce: bool,
    #[serde(default)]
    pub claims_in_id_token: bool,
    #[serde(default)]
    pub introspection: bool,
    /// Every login for this client needs a second factor.
    #[serde(default)]
    pub require_mfa: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub id_token_ttl: Option<i64>,
}

impl From<NewClientBody> for NewClient {
    fn from(b: NewClientBody) -> NewClient {
        NewClient {
            name: b.client_name,
            redirect_uris: b.redirect_uris,
            post_logout_redirect_uris: b.post_logout_redirect_uris,
            public: b.token_endpoint_auth_method.as_deref() == Some("none"),
            grant_types: b.grant_types,
            scopes: b.scope,
            id_token_alg: b.id_token_signed_response_alg,
            auth_method: b.token_endpoint_auth_method,
            first_party: b.first_party,
            allow_plain_pkce: b.allow_plain_pkce,
            require_pkce: b.require_pkce,
            claims_in_id_token: b.claims_in_id_token,
            introspection: b.introspection,
            require_mfa: b.require_mfa,
            access_token_ttl: b.access_token_ttl,
            refresh_token_ttl: b.refresh_token_ttl,
            id_token_ttl: b.id_token_ttl,
        }
    }
}

/// Changes to a client; absent fields stay as they are. `status: "disabled"` disables it and
/// ends its tokens and unredeemed codes; `"active"` enables it again.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchBody {
    pub client_name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scope: Option<String>,
    /// Within the client's kind: `client_secret_basic` or `client_secret_post` for a
    /// confidential client, `none` for a public one.
    pub token_endpoint_auth_method: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    pub allow_plain_pkce: Option<bool>,
    pub claims_in_id_token: Option<bool>,
    pub introspection: Option<bool>,
    pub require_mfa: Option<bool>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub id_token_ttl: Option<i64>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

impl ClientPatchBody {
    fn split(self) -> Result<(ClientChanges, Option<Status>), Problem> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(
                Status::parse(s)
                    .ok_or_else(|| Problem::invalid("status must be active or disabled"))?,
            ),
        };
        let changes = ClientChanges {
            name: self.client_name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scopes: self.scope,
            auth_method: self.token_endpoint_auth_method,
            id_token_alg: self.id_token_signed_response_alg,
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            allow_plain_pkce: self.allow_plain_pkce,
            claims_in_id_token: self.claims_in_id_token,
            introspection: self.introspection,
            require_mfa: self.require_mfa,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            id_token_ttl: self.id_token_ttl,
        };
        Ok((changes, status))
    }
}

/// The new secret of a confidential client (shown once).
#[derive(Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// List the tenant's clients.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/clients", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"), PageParams),
    responses((status = 200, description = "A page of clients, oldest first", body = ClientPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<ClientPage>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let page = clients::list(&app, &auth, &page.into()).await?;
    Ok(Json(ClientPage {
        items: page.items.into_iter().map(ClientView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Register a client; a confidential client's `client_secret` is in this answer only.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/clients", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 201, description = "The client, with its secret (shown once)", body = ClientView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<NewClientBody>,
) -> Result<(StatusCode, Json<ClientView>), Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let created = clients::create(&app, &auth, &body.into()).await?;
    let mut view = ClientView::from(created.client);
    view.client_secret = created.secret;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Read a client.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/clients/{client_id}", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"),
           ("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client", body = ClientView)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, client_id)): Path<(String, String)>,
) -> Result<Json<ClientView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    Ok(Json(clients::get(&app, &auth, &client_id).await?.into()))
}

/// Change a client's settings or status (`{"status": "disabled"}` disables it and ends its
/// tokens).
#[utoipa::path(patch, path = "/api/v1/tenants/{slug}/clients/{client_id}", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"),
           ("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client as changed", body = ClientView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, client_id)): Path<(String, String)>,
    Json(body): Json<ClientPatchBody>,
) -> Result<Json<ClientView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let (changes, status) = body.split()?;
    let c = clients::update(&app, &auth, &client_id, &changes, status).await?;
    Ok(Json(c.into()))
}

/// Delete a client with its codes, tokens and consents.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/clients/{client_id}", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"),
           ("client_id" = String, Path, description = "The client's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    clients::delete(&app, &auth, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate a confidential client's secret: the new one is in this answer only, and the old
/// one stops working at once.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/clients/{client_id}/secret", tag = "clients",
    params(("slug" = String, Path, description = "The tenant's slug"),
           ("client_id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The new secret (shown once)", body = ClientSecret)))]
pub async fn rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, client_id)): Path<(String, String)>,
) -> Result<Json<ClientSecret>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ClientsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let client_secret = clients::rotate_secret(&app, &auth, &client_id).await?;
    Ok(Json(ClientSecret {
        client_id,
        client_secret,
    }))
}
