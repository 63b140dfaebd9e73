//! The OpenID Provider metadata document (OIDC Discovery 1.0 §3, RFC 8414 §2), built from the
//! issuer and the endpoint constants so router and document cannot drift.

use serde_json::{Value, json};

use super::endpoints::{self as ep, url};
use crate::domain::client::SigningAlg;
use crate::domain::scope;

/// Claims userinfo and id_tokens can carry (OIDC Core §5.1).
pub const CLAIMS: &[&str] = &[
    "sub",
    "iss",
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
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "locale",
    "zoneinfo",
    "email",
    "email_verified",
];

pub fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(issuer, ep::AUTHORIZE),
        "token_endpoint": url(issuer, ep::TOKEN),
        "userinfo_endpoint": url(issuer, ep::USERINFO),
        "jwks_uri": url(issuer, ep::JWKS),
        "revocation_endpoint": url(issuer, ep::REVOKE),
        "introspection_endpoint": url(issuer, ep::INTROSPECT),
        "end_session_endpoint": url(issuer, ep::END_SESSION),
        "scopes_supported": scope::STANDARD,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported":
            SigningAlg::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        "acr_values_supported": super::claims::ACR_VALUES,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_complete() {
        let d = document("https://id.example.com/t/acme");
        assert_eq!(d["issuer"], "https://id.example.com/t/acme");
        assert_eq!(d["jwks_uri"], "https://id.example.com/t/acme/jwks.json");
        assert_eq!(d["token_endpoint"], "https://id.example.com/t/acme/token");
        assert_eq!(
            d["end_session_endpoint"],
            "https://id.example.com/t/acme/logout"
        );
        assert_eq!(d["response_types_supported"], json!(["code"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert!(
            d["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("RS256"))
        );
        assert!(
            d["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("openid"))
        );
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            d["acr_values_supported"],
            json!(["urn:opentrusty:pwd", "urn:opentrusty:mfa"])
        );
        assert_eq!(d["request_uri_parameter_supported"], false);
    }
}
