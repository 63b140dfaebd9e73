//! OAuth clients of a tenant: viewers read them (never a secret), admins register, change,
//! disable, delete them and rotate their secrets. Every rule lives in `service::clients`,
//! which the CLI calls too.
//!
//! A client may be registered for `opentrusty:admin` (`authz::ADMIN_SCOPE`) by anyone holding
//! `clients:write`, with no higher permission: the scope lets the client *carry* a user's
//! management access, never widen it. Its access tokens act with the role the signed-in user
//! holds in the tenant, read at each request (`authz::authenticate`), so an admin who
//! registers such a client gains nothing they (or that user) did not already have.

use super::{Page, PageRequest};
use crate::app::App;
use crate::domain::client::Client;
use crate::domain::tenant::Status;
use crate::service::authz::Authorized;
use crate::service::authz::grant::{ClientsRead, ClientsWrite};
use crate::service::clients::{self, ClientChanges, Created, NewClient};
use crate::service::{Error, Result};

/// The keyset cursor of a client: `<created_at>.<client_id>` (client ids are random, so the
/// creation time orders them, and the id breaks ties).
fn cursor(c: &Client) -> String {
    format!("{}.{}", c.created_at, c.client_id)
}

fn parse_cursor(c: &str) -> Result<(i64, &str)> {
    c.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id)))
        .ok_or_else(|| Error::Invalid("cursor is not one this server gave out".into()))
}

pub async fn list(
    app: &App,
    auth: &Authorized<ClientsRead>,
    page: &PageRequest,
) -> Result<Page<Client>> {
    let (limit, after) = page.checked()?;
    let after = after.map(parse_cursor).transpose()?;
    let rows = clients::page(app, auth.tenant(), after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, cursor))
}

pub async fn get(app: &App, auth: &Authorized<ClientsRead>, client_id: &str) -> Result<Client> {
    clients::get(app, auth.tenant(), client_id).await
}

pub async fn create(
    app: &App,
    auth: &Authorized<ClientsWrite>,
    new: &NewClient,
) -> Result<Created> {
    clients::create(app, auth.tenant(), new, auth.ctx()).await
}

/// Changes settings and/or the status. Disabling ends the client's tokens and unredeemed codes
/// (as the CLI's `client disable`); settings are applied first, so one request that changes
/// both either fails before anything changed or leaves the client as asked.
pub async fn update(
    app: &App,
    auth: &Authorized<ClientsWrite>,
    client_id: &str,
    changes: &ClientChanges,
    status: Option<Status>,
) -> Result<Client> {
    let (t, ctx) = (auth.tenant(), auth.ctx());
    let has_changes = serde_json::to_value(changes)
        .ok()
        .and_then(|v| v.as_object().map(|m| !m.is_empty()))
        .unwrap_or(false);
    let mut client = match (has_changes, status) {
        (false, Some(_)) => clients::get(app, t, client_id).await?,
        _ => clients::change(app, t, client_id, changes, ctx).await?,
    };
    match status {
        Some(s) if s != client.status => {
            client = match s {
                Status::Disabled => clients::disable(app, t, client_id, ctx).await?,
                Status::Active => clients::enable(app, t, client_id, ctx).await?,
            }
        }
        _ => {}
    }
    Ok(client)
}

/// A new secret for a confidential client, returned once; the old one stops working at once.
pub async fn rotate_secret(
    app: &App,
    auth: &Authorized<ClientsWrite>,
    client_id: &str,
) -> Result<String> {
    clients::rotate_secret(app, auth.tenant(), client_id, auth.ctx()).await
}

pub async fn delete(app: &App, auth: &Authorized<ClientsWrite>, client_id: &str) -> Result<()> {
    clients::delete(app, auth.tenant(), client_id, auth.ctx()).await
}
