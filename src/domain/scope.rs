//! Scopes (RFC 6749 §3.3): a set of space-separated tokens, order-insensitive. Kept sorted so
//! the stored and remembered forms are canonical.

use std::collections::BTreeSet;
use std::fmt;

/// Scopes every tenant understands (OIDC Core §5.4, §11).
pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";
pub const STANDARD: [&str; 4] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope token {0:?} has characters RFC 6749 §3.3 does not allow")]
pub struct InvalidScope(pub String);

impl Scope {
    /// Parses `scope-token *( SP scope-token )`, tolerating repeated spaces; each token is
    /// `1*( %x21 / %x23-5B / %x5D-7E )` (no quote, no backslash).
    pub fn parse(s: &str) -> Result<Scope, InvalidScope> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            let ok = tok.len() <= 128
                && tok
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !ok {
                return Err(InvalidScope(tok.chars().take(40).collect()));
            }
            set.insert(tok.to_owned());
        }
        Ok(Scope(set))
    }

    pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Scope {
        Scope(tokens.into_iter().map(str::to_owned).collect())
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Tokens of `self` that `allowed` lacks (for error descriptions).
    pub fn outside<'a>(&'a self, allowed: &'a Scope) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn intersect(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn without(&self, token: &str) -> Scope {
        let mut s = self.0.clone();
        s.remove(token);
        Scope(s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_is_order_insensitive_and_canonical() {
        let a = Scope::parse("openid  profile email").unwrap();
        let b = Scope::parse("email openid profile").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "email openid profile");
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_forbidden_characters() {
        assert!(Scope::parse("open\"id").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
        assert!(Scope::parse("read:all write").is_ok());
    }

    #[test]
    fn subset_and_difference() {
        let allowed = Scope::parse("openid profile email").unwrap();
        let asked = Scope::parse("openid admin").unwrap();
        assert!(!asked.is_subset(&allowed));
        assert_eq!(asked.outside(&allowed).collect::<Vec<_>>(), ["admin"]);
        assert!(Scope::parse("openid").unwrap().is_subset(&allowed));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any scope string: parsed or refused, never a panic; accepted tokens follow §3.3.
        #[test]
        fn any_scope_is_refused_cleanly(s in prop_oneof![".{0,200}", "[ -~]{0,300}"]) {
            if let Ok(scope) = Scope::parse(&s) {
                for t in scope.iter() {
                    prop_assert!(!t.is_empty() && t.len() <= 128);
                    prop_assert!(t.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)));
                }
            }
        }

        /// Tokens of the RFC 6749 §3.3 alphabet, in any order and spacing, parse to the same
        /// canonical set.
        #[test]
        fn generated_scopes_round_trip(
            tokens in proptest::collection::btree_set("[!#-\\[\\]-~]{1,30}", 0..8),
            spaces in 1usize..4,
        ) {
            let text = tokens.iter().rev().cloned().collect::<Vec<_>>().join(&" ".repeat(spaces));
            let scope = Scope::parse(&text).unwrap();
            prop_assert_eq!(scope.iter().collect::<Vec<_>>(), tokens.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(Scope::parse(&scope.to_string()).unwrap(), scope);
        }
    }
}
