//! Single-use links sent by mail (issue 13): a password reset, an address verification, an
//! invitation. The token is 256 random bits (base64url, 43 characters); only its SHA-256 is
//! stored, with the purpose, the user, the address it was sent to and an expiry. Showing the
//! page behind a link ([`peek`]) consumes nothing, because mail scanners fetch links;
//! submitting it ([`redeem`]) uses it once. A link works only in its own tenant and for its
//! own purpose.

use std::time::Duration;

use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::user::{Email, User};
use crate::store::TenantScope;

use super::sessions::{hash_token, random_token};
use super::{Error, Result};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Verify,
    Invite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Verify => "verify",
            Purpose::Invite => "invite",
        }
    }
}

/// A live link: whose it is, the address it was sent to, until when it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub user_id: UserId,
    pub email: String,
    pub expires_at: UnixTime,
}

/// Our tokens are 43 characters; anything longer than this is no link, before any hashing.
const RAW_MAX: usize = 64;

/// A new link for `user`, sent to `email`, valid for `ttl`: returns the token to put in the
/// mail (shown nowhere else). The user's earlier unused links of this purpose stop working.
pub async fn issue(
    scope: &mut TenantScope<'_>,
    user: &User,
    purpose: Purpose,
    email: &Email,
    ttl: Duration,
    now: UnixTime,
) -> Result<String> {
    let raw = random_token();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    scope
        .link_insert(
            &hash_token(&raw),
            &user.id.to_string(),
            purpose.as_str(),
            email.as_str(),
            now,
            now.saturating_add(ttl),
        )
        .await?;
    Ok(raw)
}

fn row(r: crate::store::links::LinkRow) -> Result<Link> {
    Ok(Link {
        user_id: r
            .user_id
            .parse()
            .map_err(|_| Error::Internal("a link names an unreadable user id".into()))?,
        email: r.email,
        expires_at: r.expires_at,
    })
}

fn plausible(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= RAW_MAX
}

/// The live link behind `raw`, consuming nothing (to show the page a link leads to).
pub async fn peek(
    scope: &mut TenantScope<'_>,
    purpose: Purpose,
    raw: &str,
    now: UnixTime,
) -> Result<Option<Link>> {
    if !plausible(raw) {
        return Ok(None);
    }
    scope
        .link_live(&hash_token(raw), purpose.as_str(), now)
        .await?
        .map(row)
        .transpose()
}

/// Uses the link behind `raw`: `Some` the first time, `None` after that, after its expiry,
/// and for a link of another purpose or tenant. Run it in the transaction of the change the
/// link allows, so a failed change leaves the link usable.
pub async fn redeem(
    scope: &mut TenantScope<'_>,
    purpose: Purpose,
    raw: &str,
    now: UnixTime,
) -> Result<Option<Link>> {
    if !plausible(raw) {
        return Ok(None);
    }
    scope
        .link_redeem(&hash_token(raw), purpose.as_str(), now)
        .await?
        .map(row)
        .transpose()
}

/// Ends the user's unused links of the given purposes, in the caller's transaction: a new
/// password retires every reset and invitation link sent before it, so none sets it again.
pub async fn retire(
    scope: &mut TenantScope<'_>,
    user: UserId,
    purposes: &[Purpose],
    now: UnixTime,
) -> Result<u64> {
    let mut n = 0;
    for p in purposes {
        n += scope
            .links_retire(&user.to_string(), p.as_str(), now)
            .await?;
    }
    Ok(n)
}

/// The links a new password makes pointless.
pub const SET_PASSWORD: &[Purpose] = &[Purpose::Reset, Purpose::Invite];
