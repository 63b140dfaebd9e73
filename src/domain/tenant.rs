//! Tenants: every tenant is its own OpenID Provider at `{public_url}/t/{slug}`.

use std::fmt;

use super::ids::TenantId;
use crate::clock::UnixTime;

/// The reserved tenant that holds the installation's operators (`opentrusty bootstrap`).
pub const PLATFORM: &str = "platform";

/// The tenant's name in URLs: lowercase `[a-z0-9-]`, 2–63 characters, no leading, trailing or
/// doubled hyphen (so it is also a valid DNS label should tenants move to sub-domains).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tenant slug {0:?} is invalid: use 2 to 63 lowercase letters, digits and single hyphens, not at either end"
)]
pub struct InvalidSlug(pub String);

impl Slug {
    pub fn parse(s: &str) -> Result<Slug, InvalidSlug> {
        if Slug::is_valid(s) {
            Ok(Slug(s.to_owned()))
        } else {
            Err(InvalidSlug(s.chars().take(80).collect()))
        }
    }

    /// Whether `s` follows the slug rule (checked without allocating: this runs on every
    /// request, on the path segment, before any lookup).
    pub fn is_valid(s: &str) -> bool {
        (2..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_platform(&self) -> bool {
        self.0 == PLATFORM
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub display_name: String,
    pub status: Status,
    /// Whether every user needs a second factor.
    pub mfa: MfaPolicy,
    /// Whether anyone may sign up at `{issuer}/register`.
    pub registration: Registration,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

/// A tenant's second-factor policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Users who enrolled a factor are asked for it at every login; others use a password.
    #[default]
    Optional,
    /// A user without a factor enrols one at the next login, before any code is issued.
    Required,
}

impl MfaPolicy {
    pub fn parse(s: &str) -> Option<MfaPolicy> {
        match s {
            "optional" => Some(MfaPolicy::Optional),
            "required" => Some(MfaPolicy::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }
}

/// Whether a tenant takes self-registrations (issue 13); closed unless an operator opens it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Only operators (CLI, API, console) create users.
    #[default]
    Closed,
    /// Anyone may sign up; the account works once its address is proven by the mailed link.
    Open,
}

impl Registration {
    pub fn parse(s: &str) -> Option<Registration> {
        match s {
            "open" => Some(Registration::Open),
            "closed" => Some(Registration::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Open => "open",
            Registration::Closed => "closed",
        }
    }
}

impl Tenant {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    /// The issuer identifier of this tenant's OpenID Provider.
    pub fn issuer(&self, public_url: &url::Url) -> String {
        format!(
            "{}/t/{}",
            public_url.as_str().trim_end_matches('/'),
            self.slug
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs() {
        for ok in ["ab", "acme", "a-b-c", "x1", "platform", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "",
            "Acme",
            "a_b",
            "-ab",
            "ab-",
            "a--b",
            "a b",
            "é1",
            &"a".repeat(64),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuer_has_no_double_slash() {
        let t = Tenant {
            id: TenantId::new(),
            slug: Slug::parse("acme").unwrap(),
            display_name: "Acme".into(),
            status: Status::Active,
            mfa: MfaPolicy::Optional,
            registration: Registration::Closed,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            t.issuer(&"https://id.example.com/".parse().unwrap()),
            "https://id.example.com/t/acme"
        );
        assert_eq!(
            t.issuer(&"https://x.org/idp".parse().unwrap()),
            "https://x.org/idp/t/acme"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any path segment: a slug only if it follows the rule, never a panic.
        #[test]
        fn any_string_is_judged_by_the_rule(s in prop_oneof![".{0,80}", "[a-z0-9-]{0,70}"]) {
            prop_assert_eq!(Slug::is_valid(&s), Slug::parse(&s).is_ok());
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert!((2..=63).contains(&slug.as_str().len()));
                prop_assert!(!s.starts_with('-') && !s.ends_with('-') && !s.contains("--"));
                prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }

        /// Lowercase words joined by single hyphens, 2 to 63 characters, are slugs.
        #[test]
        fn generated_slugs_are_accepted(words in proptest::collection::vec("[a-z0-9]{1,10}", 1..6)) {
            let s = words.join("-");
            prop_assume!((2..=63).contains(&s.len()));
            let slug = Slug::parse(&s).unwrap();
            prop_assert_eq!(slug.as_str(), s.as_str());
        }
    }
}
