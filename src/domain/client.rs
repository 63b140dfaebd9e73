//! OAuth clients (relying parties) of one tenant: kind, authentication method, registered
//! redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7) and per-client token policy.

use std::fmt;

use super::ids::TenantId;
use super::scope::Scope;
use super::tenant::Status;
use crate::clock::UnixTime;

/// Confidential clients hold a secret; public clients (SPAs, native apps) do not
/// (RFC 6749 §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Confidential,
    Public,
}

/// `token_endpoint_auth_method` (OIDC Dynamic Registration §2), enforced as registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
        }
    }
    pub fn parse(s: &str) -> Option<AuthMethod> {
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Grant types a client may use (RFC 6749 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// JWS algorithm of the id_token (RS256 by default: OIDC Core §15.1 makes it mandatory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
    pub fn parse(s: &str) -> Option<SigningAlg> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered redirect URI. Compared by exact string equality (DESIGN §4), never by prefix
/// or normalisation, so what the operator registered is the only place a code can go.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redirect URI {uri:?} is invalid: {why}")]
pub struct InvalidRedirectUri {
    pub uri: String,
    pub why: &'static str,
}

impl RedirectUri {
    /// Registration rules: absolute, no fragment (RFC 6749 §3.1.2); `https`, or `http` only on
    /// a loopback host (RFC 8252 §7.3), or a private-use scheme in reverse-domain form
    /// (RFC 8252 §7.1, e.g. `com.example.app:/cb`).
    pub fn parse(s: &str) -> Result<RedirectUri, InvalidRedirectUri> {
        let bad = |why| InvalidRedirectUri {
            uri: s.to_owned(),
            why,
        };
        if s.len() > 2000 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("too long or contains whitespace"));
        }
        let url = url::Url::parse(s).map_err(|_| bad("not an absolute URI"))?;
        if url.fragment().is_some() || s.contains('#') {
            return Err(bad("fragments are not allowed (RFC 6749 §3.1.2)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("user information is not allowed"));
        }
        match url.scheme() {
            "https" if url.host_str().is_some() => Ok(RedirectUri(s.to_owned())),
            "http" => match url.host_str() {
                Some("localhost" | "127.0.0.1" | "[::1]") => Ok(RedirectUri(s.to_owned())),
                _ => Err(bad(
                    "http is allowed only for localhost, 127.0.0.1 and [::1]",
                )),
            },
            "https" => Err(bad("https URI without a host")),
            scheme if scheme.contains('.') => Ok(RedirectUri(s.to_owned())),
            _ => Err(bad(
                "use https, loopback http, or a reverse-domain private-use scheme",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether only the registered application can receive a redirect to this URI, so a
    /// public client's identity is assured by it (RFC 8252 §8.6): a claimed `https` URI, or
    /// a loopback one (served by the app on this device). Any app can register a private-use
    /// scheme, so those do not count.
    pub fn assures_client_identity(&self) -> bool {
        matches!(
            url::Url::parse(&self.0).ok().as_ref().map(url::Url::scheme),
            Some("https" | "http")
        )
    }

    /// Exact, byte-for-byte comparison with a presented `redirect_uri` (RFC 6749 §3.1.2.3).
    pub fn matches(&self, presented: &str) -> bool {
        self.0 == presented
    }
}

/// A client of one tenant, as stored (without its secret hash).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Client {
    pub tenant_id: TenantId,
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Scope,
    pub id_token_alg: SigningAlg,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub id_token_ttl: i64,
    pub require_pkce: bool,
    pub allow_plain_pkce: bool,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// Copy profile/email claims into the id_token as well as userinfo.
    pub claims_in_id_token: bool,
    /// May introspect access tokens issued to other clients of the tenant (a resource
    /// server, RFC 7662 §4); every client may introspect its own tokens.
    pub introspection: bool,
    /// Every login for this client needs a second factor (as if it always asked
    /// `acr_values=urn:opentrusty:mfa`).
    pub require_mfa: bool,
    /// A disabled client cannot authenticate or start a flow, and its tokens were revoked.
    pub status: Status,
    pub created_at: UnixTime,
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The registered redirect URI equal to `presented`, if any.
    pub fn redirect_uri(&self, presented: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.matches(presented))
    }

    /// PKCE is always required for public clients (RFC 9700 §2.1.1).
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.kind == ClientKind::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::limits;
    use proptest::prelude::*;

    #[test]
    fn redirect_registration_rules() {
        for ok in [
            "https://rp.example.com/cb",
            "https://rp.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "https://rp.example.com/cb#frag",
            "http://rp.example.com/cb",
            "http://localhost.evil.com/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "https://user:pw@rp.example.com/cb",
            "https://rp.example.com/c b",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_match_is_exact() {
        let r = RedirectUri::parse("https://rp.example.com/cb").unwrap();
        assert!(r.matches("https://rp.example.com/cb"));
        for other in [
            "https://rp.example.com/cb/",
            "https://rp.example.com/cb?x=1",
            "https://RP.example.com/cb",
            "https://rp.example.com:443/cb",
            "https://rp.example.com/cb/../cb",
            "https://rp.example.com/c",
        ] {
            assert!(!r.matches(other), "{other}");
        }
    }

    #[test]
    fn enums_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        for a in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuthMethod::parse("none"), Some(AuthMethod::None));
        assert_eq!(AuthMethod::parse("private_key_jwt"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any string as a redirect URI: parsed or refused, never a panic; what is accepted
        /// is short and has no fragment or whitespace.
        #[test]
        fn any_uri_is_refused_cleanly(s in prop_oneof![
            ".{0,120}",
            "(https?|[a-z]+(\\.[a-z]+)+|javascript)://?[a-z0-9.:@\\[\\]-]{0,30}(/[ -~]{0,30})?",
            "[a-z]{0,3000}",
        ]) {
            if let Ok(r) = RedirectUri::parse(&s) {
                prop_assert!(r.as_str().len() <= limits::REDIRECT_URI);
                prop_assert!(!r.as_str().contains('#'));
                prop_assert!(!r.as_str().chars().any(char::is_whitespace));
                prop_assert!(r.matches(&s));
            }
        }

        /// https URIs on a host with a path and query are accepted and match only themselves.
        #[test]
        fn generated_https_uris_are_accepted(
            host in "[a-z][a-z0-9]{0,20}(\\.[a-z]{2,6}){1,3}",
            path in "(/[A-Za-z0-9._~-]{1,12}){0,4}",
            query in proptest::option::of("[a-z]{1,8}=[A-Za-z0-9]{0,8}"),
            port in proptest::option::of(1u16..),
        ) {
            let mut s = format!("https://{host}");
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(&path);
            if let Some(q) = query {
                s.push('?');
                s.push_str(&q);
            }
            let r = RedirectUri::parse(&s).unwrap();
            prop_assert!(r.matches(&s));
            let other = format!("{s}x");
            prop_assert!(!r.matches(&other));
        }
    }
}
