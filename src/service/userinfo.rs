//! The UserInfo endpoint (OIDC Core §5.3): the claims the access token's scope releases.

use serde_json::{Map, Value};

use super::client_auth::internal;
use crate::app::App;
use crate::domain::scope::{self, Scope};
use crate::domain::tenant::Tenant;
use crate::protocol::claims::{self, Profile};
use crate::protocol::secret;

/// Why a bearer token was refused (RFC 6750 §3.1).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    InvalidToken,
    InsufficientScope,
    Internal,
    /// A database outage: 503 with `Retry-After`.
    Unavailable,
}

/// Logs `e` (see [`internal`]) and says whether it was an outage or a bug.
fn failed(e: impl std::fmt::Display + 'static) -> Refused {
    match internal(e).code {
        crate::protocol::Code::TemporarilyUnavailable => Refused::Unavailable,
        _ => Refused::Internal,
    }
}

pub async fn userinfo(
    app: &App,
    tenant: &Tenant,
    token: &str,
) -> Result<Map<String, Value>, Refused> {
    // Every token we issue is 43 characters; a longer one is unknown without a lookup.
    if token.len() > crate::protocol::limits::TOKEN {
        return Err(Refused::InvalidToken);
    }
    let now = app.clock.now();
    let mut tx = app.store.read().await.map_err(failed)?;
    let mut scope = tx.scope(tenant);
    let found = scope
        .access_with_holders(&secret::hash(token))
        .await
        .map_err(failed)?;
    let Some((at, holders_active)) = found else {
        return Err(Refused::InvalidToken);
    };
    // A token of a disabled client or user is dead even if its revocation missed it.
    if !holders_active || at.revoked_at.is_some() || at.expires_at <= now {
        return Err(Refused::InvalidToken);
    }
    let granted = Scope::parse(&at.scope).map_err(|_| Refused::InvalidToken)?;
    let Some(user_id) = at.user_id.and_then(|u| u.parse().ok()) else {
        return Err(Refused::InsufficientScope); // a client_credentials token has no user
    };
    if !granted.contains(scope::OPENID) {
        return Err(Refused::InsufficientScope);
    }
    let user = scope.user_by_id(user_id).await.map_err(failed)?;
    let Some(u) = user.filter(|u| u.is_active()) else {
        return Err(Refused::InvalidToken);
    };
    let profile = Profile::from(u);
    let mut released = claims::by_scope(&profile, &granted);
    // How the user signed in for this token (OIDC Core §5.3.2 allows any claim of the user).
    let amr: Option<Vec<String>> = at
        .amr
        .as_deref()
        .map(|a| a.split_whitespace().map(str::to_owned).collect());
    claims::authn_context(&mut released, amr.as_deref());
    Ok(released)
}
