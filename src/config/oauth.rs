//! OAuth/OIDC settings: the key-encryption key for signing keys at rest, the rotation period,
//! the refresh-token reuse grace window and where a generated key-encryption key is kept.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;

use super::{ConfigError, parse_seconds, parse_u32};

/// A 256-bit AES key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyEncryptionKey(pub [u8; 32]);

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(REDACTED)")
    }
}

impl KeyEncryptionKey {
    /// 64 hex digits, or base64 / base64url (padded or not) of 32 bytes.
    pub fn parse(s: &str) -> Option<KeyEncryptionKey> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()?
        } else {
            use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
            let t = s.trim_end_matches('=');
            URL_SAFE_NO_PAD
                .decode(t)
                .or_else(|_| STANDARD.decode(s))
                .ok()?
        };
        bytes.try_into().ok().map(KeyEncryptionKey)
    }
}

#[derive(Debug, Clone)]
pub struct OauthConfig {
    /// From `OPENTRUSTY_KEY_ENCRYPTION_KEY` / `_FILE` / credential `key-encryption-key`; when
    /// absent the daemon generates one into `state_dir` on first start.
    pub key_encryption_key: Option<KeyEncryptionKey>,
    pub state_dir: PathBuf,
    pub key_rotation: Duration,
    /// A used refresh token presented again within this window is a retry, not a replay.
    pub refresh_reuse_grace: Duration,
}

pub(super) fn parse(
    kek: Option<&str>,
    rotation_days: Option<&str>,
    grace: Option<&str>,
    state_dir: Option<PathBuf>,
) -> Result<OauthConfig, ConfigError> {
    let key_encryption_key = kek
        .map(|s| {
            KeyEncryptionKey::parse(s).ok_or_else(|| {
                ConfigError::new(
                    "KEY_ENCRYPTION_KEY",
                    None,
                    "32 bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)",
                )
            })
        })
        .transpose()?;
    let days = parse_u32("KEY_ROTATION_DAYS", rotation_days, 90, 1..=3650)?;
    Ok(OauthConfig {
        key_encryption_key,
        state_dir: state_dir.unwrap_or_else(|| PathBuf::from("var")),
        key_rotation: Duration::from_secs(u64::from(days) * 86_400),
        refresh_reuse_grace: parse_seconds("REFRESH_REUSE_GRACE", grace, 2, 0..=300)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_forms() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(KeyEncryptionKey::parse(&hex).unwrap().0[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(KeyEncryptionKey::parse(&b64).unwrap().0, [7u8; 32]);
        assert!(KeyEncryptionKey::parse("short").is_none());
        assert!(!format!("{:?}", KeyEncryptionKey([1; 32])).contains('1'));
        let c = parse(None, Some("30"), None, None).unwrap();
        assert_eq!(c.key_rotation.as_secs(), 30 * 86_400);
        assert!(parse(Some("nope"), None, None, None).is_err());
    }
}
