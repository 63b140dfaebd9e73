//! API tokens for automation (issue 10): `otk_` + 256 random bits, shown once, stored as
//! SHA-256 (a hash per request, never an Argon2 cost), each bound to one tenant and a role no
//! higher than its creator's, with a name and a required expiry of at most a year. Revocation
//! and expiry are read from the database on every authentication, so they take effect on the
//! next request on every node. `last_used_at` is written at most once a minute.

use std::time::Duration;

use serde_json::json;

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::tenant::Tenant;
use crate::protocol::secret;
use crate::store::Tx;
use crate::store::api_tokens::ApiTokenRow;

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "otk_";
/// A token is `PREFIX` and 43 base64url characters; anything longer is not one of ours.
const MAX_LEN: usize = 64;
const MIN_LIFETIME: Duration = Duration::from_secs(10);
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// A token's lifetime as the CLI and the API take it: seconds (`3600`) or a number with a unit
/// `s`, `m`, `h` or `d` (`45s`, `15m`, `12h`, `30d`); at least 10 s, at most a year.
pub fn parse_lifetime(s: &str) -> Result<Duration> {
    let bad = || {
        Error::Invalid(format!(
            "expires_in {s:?} is invalid: use seconds or a number with s, m, h or d (e.g. 30d), from 10s to 366d"
        ))
    };
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        's' => n,
        'm' => n * 60,
        'h' => n * 3_600,
        'd' => n * 86_400,
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(secs);
    if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&d) {
        return Err(bad());
    }
    Ok(d)
}

/// A new token: its row and the secret, which is shown once and never stored.
pub struct Created {
    pub row: ApiTokenRow,
    pub token: String,
}

/// Creates a token for `tenant`. `creator` is the role of whoever asks (`None`: an operator
/// at the host, who may grant any role); nobody grants a role above their own.
pub async fn create(
    app: &App,
    tenant: &Tenant,
    name: &str,
    role: Role,
    lifetime: Duration,
    creator: Option<Role>,
    ctx: &Context,
) -> Result<Created> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "name must be 1 to 100 characters, without control characters".into(),
        ));
    }
    if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
        return Err(Error::Invalid(
            "expires_in must be from 10 seconds to 366 days".into(),
        ));
    }
    if let Some(c) = creator
        && !c.may_grant(role)
    {
        // A question of privilege, not of a malformed field: 403 on the API.
        return Err(Error::Forbidden(format!(
            "role {role} is above what the caller ({c}) may grant"
        )));
    }
    let now = app.clock.now();
    let token = format!("{PREFIX}{}", secret::generate());
    let row = ApiTokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.id.to_string(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        created_by: ctx.actor.clone().unwrap_or_else(|| "unknown".into()),
        created_at: now,
        expires_at: now + lifetime.as_secs() as i64,
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
        .api_token_insert(&row, &secret::hash(&token))
        .await?;
    let ev = Event {
        kind: Kind::ApiTokenCreated,
        tenant: Some(tenant.id),
        target: Some(format!("api_token:{}", row.id)),
        metadata: json!({ "name": row.name, "role": row.role, "expires_at": row.expires_at }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(Created { row, token })
}

/// Revokes the API tokens `user` minted in `tenant` that they could no longer mint, in the
/// caller's transaction: those above `keep`, the role the user keeps (every one when the user
/// is disabled or deleted: `None`). A platform user's tokens in other tenants count too, and
/// the tokens a revoked token minted die with it, whatever their role. Without this, a
/// demoted owner would keep acting as an owner through a token made before the demotion.
/// Returns how many were revoked.
pub(crate) async fn revoke_minted(
    tx: &mut Tx,
    tenant: &Tenant,
    user: UserId,
    keep: Option<Role>,
    now: UnixTime,
) -> Result<usize> {
    let keep = keep.map(Role::as_str);
    let me = format!("user:{user}");
    let mut frontier = tx
        .scope(tenant)
        .api_tokens_revoke_created_by(&me, keep, now)
        .await?;
    if tenant.slug.is_platform() {
        let elsewhere = [format!("platform/{me}")];
        frontier.extend(
            tx.api_tokens_revoke_created_by_any(&elsewhere, keep, now)
                .await?,
        );
    }
    let mut total = 0;
    // Each round revokes only live tokens, so the chain ends.
    while !frontier.is_empty() {
        total += frontier.len();
        let minted_by: Vec<String> = frontier
            .iter()
            .flat_map(|id| {
                [
                    format!("api_token:{id}"),
                    format!("platform/api_token:{id}"),
                ]
            })
            .collect();
        frontier = tx
            .api_tokens_revoke_created_by_any(&minted_by, None, now)
            .await?;
    }
    Ok(total)
}

pub async fn list(app: &App, tenant: &Tenant) -> Result<Vec<ApiTokenRow>> {
    let mut tx = app.store.read().await?;
    Ok(tx.scope(tenant).api_tokens_list().await?)
}

/// Up to `limit` of the tenant's tokens after the token id `after`, in creation order.
pub async fn page(
    app: &App,
    tenant: &Tenant,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ApiTokenRow>> {
    let mut tx = app.store.read().await?;
    Ok(tx.scope(tenant).api_tokens_page(after, limit).await?)
}

/// Revokes token `id` of `tenant`; another tenant's token is "not found".
pub async fn revoke(app: &App, tenant: &Tenant, id: &str, ctx: &Context) -> Result<()> {
    // Ids are UUIDs: anything longer is no token of ours, without opening a transaction.
    if id.len() > 64 {
        return Err(Error::NotFound("API token"));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !tx.scope(tenant).api_token_revoke(id, now).await? {
        return Err(Error::NotFound("API token"));
    }
    let ev = Event {
        kind: Kind::ApiTokenRevoked,
        tenant: Some(tenant.id),
        target: Some(format!("api_token:{id}")),
        metadata: json!({}),
        ctx,
    };
    audit::commit(tx, ev, now).await
}

/// Who a presented token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub token_id: String,
    /// The tenant the token is bound to (its id).
    pub tenant_id: String,
    pub name: String,
    pub role: Role,
}

/// The caller behind a presented token, or `None` for anything that is not a live token of
/// ours (unknown, revoked, expired, malformed): the API answers all of those alike with 401.
pub async fn authenticate(app: &App, presented: &str) -> Result<Option<TokenCaller>> {
    Ok(authenticate_with_tenant(app, presented)
        .await?
        .map(|(caller, _)| caller))
}

/// [`authenticate`], with the token's tenant as it is now (any status: the caller decides),
/// read in the same statement as the token. Nothing is cached: revocation and expiry take
/// effect on the next request.
pub async fn authenticate_with_tenant(
    app: &App,
    presented: &str,
) -> Result<Option<(TokenCaller, Tenant)>> {
    if presented.len() > MAX_LEN || !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    let now = app.clock.now();
    let found = {
        let mut tx = app.store.read().await?;
        tx.api_token_live(&secret::hash(presented), now).await?
    };
    let Some((row, tenant)) = found else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&row.role) else {
        return Ok(None);
    };
    if row
        .last_used_at
        .is_none_or(|t| now - t >= crate::store::api_tokens::TOUCH_EVERY)
    {
        let mut tx = app.store.begin().await?;
        tx.api_token_touch(&row.tenant_id, &row.id, now).await?;
        tx.commit().await?;
    }
    let caller = TokenCaller {
        token_id: row.id,
        tenant_id: row.tenant_id,
        name: row.name,
        role,
    };
    Ok(Some((caller, tenant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("45s").unwrap().as_secs(), 45);
        assert_eq!(parse_lifetime("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_lifetime("12h").unwrap().as_secs(), 43_200);
        assert_eq!(parse_lifetime("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(parse_lifetime("3600").unwrap().as_secs(), 3_600);
        for bad in [
            "",
            "9s",
            "5",
            "367d",
            "1y",
            "d",
            "-5m",
            "1.5h",
            "99999999999d",
            "10 s",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}
