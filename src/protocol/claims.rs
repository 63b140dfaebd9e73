//! id_token claims (OIDC Core §2, §3.1.3.6) and userinfo claims by scope (OIDC Core §5.4).

use serde_json::{Map, Value, json};

use super::jose;
use crate::clock::UnixTime;
use crate::domain::client::SigningAlg;
use crate::domain::scope::{self, Scope};

/// `acr` of a sign-in with a password only.
pub const ACR_PWD: &str = "urn:opentrusty:pwd";
/// `acr` of a sign-in with more than one factor (what `acr_values` asks for to require one).
pub const ACR_MFA: &str = "urn:opentrusty:mfa";
/// Every `acr` we issue (discovery's `acr_values_supported`), weakest first.
pub const ACR_VALUES: [&str; 2] = [ACR_PWD, ACR_MFA];

/// The `acr` for the methods a sign-in used (RFC 8176 `amr` values): multi-factor when the
/// methods say `mfa`.
pub fn acr_for(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MFA
    } else {
        ACR_PWD
    }
}

/// The `amr` and `acr` claims (OIDC Core §2, RFC 8176) of a sign-in, added to `m`; nothing
/// when the methods are unknown (a token from before they were recorded says no more than
/// it knows).
pub fn authn_context(m: &mut Map<String, Value>, amr: Option<&[String]>) {
    if let Some(amr) = amr.filter(|a| !a.is_empty()) {
        m.insert("amr".into(), json!(amr));
        m.insert("acr".into(), json!(acr_for(amr)));
    }
}

/// The user's claims as the identity side knows them; `sub` is the stable user id, never an
/// email (OIDC Core §5.7).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
}

impl From<crate::domain::user::User> for Profile {
    fn from(u: crate::domain::user::User) -> Profile {
        Profile {
            sub: u.id.to_string(),
            email: Some(u.email.as_str().to_owned()),
            email_verified: u.email_verified,
            name: u.profile.name,
            given_name: u.profile.given_name,
            family_name: u.profile.family_name,
            nickname: u.profile.nickname,
            picture: u.profile.picture,
            locale: u.profile.locale,
            zoneinfo: u.profile.zoneinfo,
        }
    }
}

/// Claims released for `scope`: `sub` always; `profile` and `email` groups when granted.
pub fn by_scope(p: &Profile, scope: &Scope) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), json!(p.sub));
    if scope.contains(scope::PROFILE) {
        for (k, v) in [
            ("name", &p.name),
            ("given_name", &p.given_name),
            ("family_name", &p.family_name),
            ("nickname", &p.nickname),
            ("picture", &p.picture),
            ("locale", &p.locale),
            ("zoneinfo", &p.zoneinfo),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
    }
    if scope.contains(scope::EMAIL)
        && let Some(e) = &p.email
    {
        m.insert("email".into(), json!(e));
        m.insert("email_verified".into(), json!(p.email_verified));
    }
    m
}

pub struct IdToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub profile: &'a Profile,
    pub scope: &'a Scope,
    pub now: UnixTime,
    pub ttl: i64,
    pub auth_time: UnixTime,
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub sid: Option<&'a str>,
    /// The sign-in's methods (RFC 8176), which also give `acr`.
    pub amr: Option<&'a [String]>,
    pub alg: SigningAlg,
    /// Copy the scope's profile/email claims in too (per-client option).
    pub with_profile: bool,
}

pub fn id_token(t: &IdToken<'_>) -> Value {
    let mut m = if t.with_profile {
        by_scope(t.profile, t.scope)
    } else {
        let mut m = Map::new();
        m.insert("sub".into(), json!(t.profile.sub));
        m
    };
    m.insert("iss".into(), json!(t.issuer));
    m.insert("aud".into(), json!(t.client_id));
    // azp: the party the token was issued to (OIDC Core §2); equal to aud here.
    m.insert("azp".into(), json!(t.client_id));
    m.insert("iat".into(), json!(t.now));
    m.insert("exp".into(), json!(t.now + t.ttl));
    m.insert("auth_time".into(), json!(t.auth_time));
    if let Some(n) = t.nonce {
        m.insert("nonce".into(), json!(n));
    }
    if let Some(at) = t.access_token {
        m.insert("at_hash".into(), json!(jose::at_hash(t.alg, at)));
    }
    if let Some(sid) = t.sid {
        m.insert("sid".into(), json!(sid));
    }
    authn_context(&mut m, t.amr);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            sub: "0190-user".into(),
            email: Some("a@example.com".into()),
            email_verified: true,
            name: Some("Ada".into()),
            ..Profile::default()
        }
    }

    #[test]
    fn userinfo_by_scope() {
        let p = profile();
        let only = by_scope(&p, &Scope::parse("openid").unwrap());
        assert_eq!(only.len(), 1);
        let all = by_scope(&p, &Scope::parse("openid profile email").unwrap());
        assert_eq!(all["email"], "a@example.com");
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["name"], "Ada");
        assert!(!all.contains_key("nickname"));
    }

    #[test]
    fn id_token_has_every_required_claim() {
        let p = profile();
        let scope = Scope::parse("openid email").unwrap();
        let c = id_token(&IdToken {
            issuer: "https://id/t/a",
            client_id: "c1",
            profile: &p,
            scope: &scope,
            now: 1000,
            ttl: 300,
            auth_time: 900,
            nonce: Some("n-0S6"),
            access_token: Some("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            sid: Some("s1"),
            amr: Some(&["pwd".into(), "otp".into(), "mfa".into()]),
            alg: SigningAlg::RS256,
            with_profile: false,
        });
        for k in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "sid",
            "amr",
            "acr",
        ] {
            assert!(c.get(k).is_some(), "{k}");
        }
        assert_eq!(c["exp"], 1300);
        assert_eq!(c["at_hash"], "77QmUPtjPfzWtF2AnpK9RQ");
        assert!(c.get("email").is_none());
        assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]));
        assert_eq!(c["acr"], ACR_MFA);
    }

    #[test]
    fn acr_follows_amr() {
        let mut m = Map::new();
        authn_context(&mut m, Some(&["pwd".into()]));
        assert_eq!(m["acr"], ACR_PWD);
        assert_eq!(m["amr"], json!(["pwd"]));
        let mut none = Map::new();
        authn_context(&mut none, None);
        authn_context(&mut none, Some(&[]));
        assert!(none.is_empty(), "no methods known, no claims");
    }
}
