//! The client credentials grant (RFC 6749 §4.4): confidential clients only, an access token
//! without a user, no refresh token and no id_token.

use super::super::client_auth::internal;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::{Client, ClientKind};
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::token::Issued;
use crate::protocol::{Error, refresh, secret};
use crate::store::{AccessRow, WriteSet};

pub(super) async fn client_credentials(
    app: &App,
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
    let row = AccessRow {
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
        generation: None,
        amr: None,
    };
    app.writes
        .write(WriteSet::new(tenant, now).access(row))
        .await
        .map_err(internal)?;
    Ok(Issued {
        access_token: access,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: granted,
        refresh_token: None,
        id_token: None,
    })
}
