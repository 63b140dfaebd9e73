//! Users, their email (the login name) and password rules.

use std::fmt;

use super::ids::{TenantId, UserId};
use super::tenant::Status;
use crate::clock::UnixTime;

/// An email address, trimmed and case-folded: the uniqueness key within a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "email {0:?} is invalid: expected one address like name@example.com (at most 254 characters)"
)]
pub struct InvalidEmail(pub String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, InvalidEmail> {
        let folded = s.trim().to_lowercase();
        let valid = folded.len() <= 254
            && folded.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
            })
            && !folded
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
        if valid {
            Ok(Email(folded))
        } else {
            Err(InvalidEmail(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// A new password that satisfies the policy. Never logged: `Debug` is redacted.
#[derive(Clone)]
pub struct NewPassword(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("password is too short: at least {PASSWORD_MIN_CHARS} characters are required")]
    TooShort,
    #[error("password is too long: at most {PASSWORD_MAX_BYTES} bytes are accepted")]
    TooLong,
}

impl NewPassword {
    /// Length rules only: long passphrases are encouraged, nothing is truncated.
    pub fn parse(s: &str) -> Result<NewPassword, WeakPassword> {
        if s.len() > PASSWORD_MAX_BYTES {
            return Err(WeakPassword::TooLong);
        }
        if s.chars().count() < PASSWORD_MIN_CHARS {
            return Err(WeakPassword::TooShort);
        }
        Ok(NewPassword(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(REDACTED)")
    }
}

/// OIDC standard claims kept for a user (OpenID Connect Core §5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub email_verified: bool,
    pub profile: Profile,
    pub status: Status,
    pub failed_attempts: i64,
    pub locked_until: Option<UnixTime>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    #[serde(skip)]
    pub password_hash: Option<String>,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    pub fn is_locked(&self, now: UnixTime) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_trimmed_and_folded() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@x.org",
            "a@",
            "a@b",
            "a b@x.org",
            "a@@x.org",
            "a@x.org,b@y.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_length_rules() {
        assert_eq!(
            NewPassword::parse("short").unwrap_err(),
            WeakPassword::TooShort
        );
        assert!(NewPassword::parse("eight ch").is_ok());
        assert!(NewPassword::parse(&"x".repeat(1024)).is_ok());
        assert_eq!(
            NewPassword::parse(&"x".repeat(1025)).unwrap_err(),
            WeakPassword::TooLong
        );
        assert_eq!(
            format!("{:?}", NewPassword::parse("secret-password").unwrap()),
            "NewPassword(REDACTED)"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any login-form email: an address of at most 254 bytes, or refused; never a panic.
        #[test]
        fn any_email_is_refused_cleanly(s in prop_oneof![".{0,300}", "[a-z]{0,70}@[a-z.]{0,300}"]) {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().len() <= 254);
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
            }
        }

        /// Plain addresses are accepted, trimmed and case-folded.
        #[test]
        fn generated_emails_are_accepted(local in "[A-Za-z0-9._+-]{1,64}", domain in "[a-z0-9]{1,20}\\.[a-z]{2,10}") {
            let e = Email::parse(&format!("  {local}@{domain} ")).unwrap();
            prop_assert_eq!(e.as_str(), format!("{}@{domain}", local.to_lowercase()));
        }
    }
}
