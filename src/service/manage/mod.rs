//! Management use cases (issue 10): what the management API and the operator CLI do to
//! tenants, users, clients, keys, API tokens and the audit trail. Each takes the proof of
//! permission it needs (`&Authorized<G>` for one tenant, `&PlatformAuthorized<G>` for the
//! installation, see `service::authz`) and audits its change in the same transaction.
//! Lists are pages in creation order with keyset cursors.

pub mod api_tokens;
pub mod audit;
pub mod clients;
pub mod consents;
pub mod factors;
pub mod keys;
pub mod roles;
pub mod sessions;
pub mod tenants;
pub mod users;

use serde::Serialize;

use super::{Error, Result};

/// Items per page unless asked otherwise, and the most a caller may ask for.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;
/// A cursor is an id (a UUID) or a short composite; anything longer is not ours.
const MAX_CURSOR: usize = 128;

/// Which page of a list: at most `limit` items after `cursor`.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The checked limit and cursor (422 naming the parameter when out of range).
    pub fn checked(&self) -> Result<(i64, Option<&str>)> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::Invalid(format!(
                "limit must be from 1 to {MAX_LIMIT}"
            )));
        }
        let cursor = self.cursor.as_deref().filter(|c| !c.is_empty());
        if let Some(c) = cursor
            && (c.len() > MAX_CURSOR || !c.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::Invalid(
                "cursor is not one this server gave out".into(),
            ));
        }
        Ok((i64::from(limit), cursor))
    }
}

/// One page of a list and the cursor of the next one (`None` on the last page).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched: the extra row only says that
    /// there is a next page, whose cursor is the last kept row's key.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next_cursor = if more { rows.last().map(key) } else { None };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
