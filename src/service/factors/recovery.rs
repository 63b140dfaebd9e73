//! Recovery codes: ten single-use codes, shown once and stored as SHA-256 hashes (each holds
//! 80 random bits, so a plain hash resists guessing as well as the code itself). Using one is
//! audited as a notice, so the user and their administrators can see it.

use serde_json::json;

use super::{admit, failed, succeeded};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::protocol::totp::base32;
use crate::service::audit::{self, Event, Kind};
use crate::service::sessions::hash_token;
use crate::service::{Context, Error, Result};

/// Codes in a set.
pub const COUNT: usize = 10;
/// Random bytes per code (80 bits: 16 base32 characters).
const BYTES: usize = 10;
/// The longest input worth normalizing (16 characters with separators and spaces).
const INPUT_MAX: usize = 40;

/// A code as shown: `abcd-efgh-ijkl-mnop` (lowercase base32, no 0/1/8/9 to misread).
fn format(raw: &[u8]) -> String {
    let s = base32(raw).to_ascii_lowercase();
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of a code as typed: separators and case do not matter.
fn normalize(typed: &str) -> Option<String> {
    if typed.len() > INPUT_MAX {
        return None;
    }
    let s: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == BYTES * 8 / 5 && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')))
        .then_some(s)
}

/// A new set of codes for `user`, replacing any earlier set; returned once.
pub async fn create(app: &App, tenant: &Tenant, user: &User, ctx: &Context) -> Result<Vec<String>> {
    let now = app.clock.now();
    let mut codes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let mut raw = [0u8; BYTES];
        aws_lc_rs::rand::fill(&mut raw)
            .map_err(|_| Error::Internal("random number generator failed".into()))?;
        codes.push(format(&raw));
    }
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize(c))
        .map(|c| hash_token(&c))
        .collect();
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
        .recovery_codes_replace(&user.id.to_string(), &hashes, now)
        .await?;
    let ev = Event {
        kind: Kind::RecoveryCodesCreated,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "count": hashes.len() }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(codes)
}

/// Uses a recovery code in place of a factor at login: `Ok(true)` once per code.
pub async fn redeem(
    app: &App,
    tenant: &Tenant,
    user: &User,
    typed: &str,
    ctx: &Context,
) -> Result<bool> {
    let now = app.clock.now();
    admit(app, tenant, user, now)?;
    let uid = user.id.to_string();
    if let Some(code) = normalize(typed) {
        let mut tx = app.store.begin().await?;
        let mut scope = tx.scope(tenant);
        if scope
            .recovery_code_use(&uid, &hash_token(&code), now)
            .await?
        {
            let left = scope.recovery_codes_left(&uid).await?;
            let meta = json!({ "codes_left": left });
            succeeded(tx, tenant, user, Kind::RecoveryCodeUsed, meta, ctx, now).await?;
            return Ok(true);
        }
    }
    failed(app, tenant, user, "recovery_code", ctx, now).await?;
    Ok(false)
}

/// How many unused codes the user has left.
pub async fn left(app: &App, tenant: &Tenant, user: &User) -> Result<i64> {
    let mut tx = app.store.read().await?;
    tx.scope(tenant)
        .recovery_codes_left(&user.id.to_string())
        .await
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_formatted_and_typed_back_loosely() {
        let raw = [0xffu8; BYTES];
        let shown = format(&raw);
        assert_eq!(shown, "7777-7777-7777-7777");
        let n = normalize(&shown).unwrap();
        assert_eq!(
            normalize(" 7777 7777-7777\t7777 ").as_deref(),
            Some(n.as_str())
        );
        assert_eq!(
            normalize(&shown.to_uppercase()).as_deref(),
            Some(n.as_str())
        );
        for bad in [
            "",
            "7777-7777-7777-777",
            "7777-7777-7777-77770",
            "0000-0000-0000-0000",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(normalize(&"7".repeat(1000)), None);
    }
}
