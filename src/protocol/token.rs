//! Token endpoint requests (RFC 6749 §4.1.3, §4.4.2, §6) parsed into one enum by grant type,
//! the form rules shared by every back-channel endpoint, and the success response shape.

use std::collections::HashMap;

use serde::Serialize;

use super::error::{Code, Error};
use crate::domain::scope::Scope;

/// Turns form pairs into a map, refusing repeated parameters (RFC 6749 §3.2) and dropping
/// empty values (RFC 6749 §3.1: "sent without a value MUST be treated as if omitted").
pub fn single(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, Error> {
    let mut m = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        if m.contains_key(&k) {
            return Err(Error::invalid_request(format!("parameter {k} is repeated")));
        }
        m.insert(k, v);
    }
    Ok(m)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<Scope>,
    },
    ClientCredentials {
        scope: Option<Scope>,
    },
}

fn scope(p: &HashMap<String, String>) -> Result<Option<Scope>, Error> {
    p.get("scope")
        .map(|s| Scope::parse(s).map_err(|e| Error::invalid_scope(e.to_string())))
        .transpose()
}

fn required(p: &HashMap<String, String>, k: &str) -> Result<String, Error> {
    p.get(k)
        .cloned()
        .ok_or_else(|| Error::invalid_request(format!("{k} is required")))
}

impl TokenRequest {
    pub fn parse(p: &HashMap<String, String>) -> Result<TokenRequest, Error> {
        match p.get("grant_type").map(String::as_str) {
            None => Err(Error::invalid_request("grant_type is required")),
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: required(p, "code")?,
                redirect_uri: p.get("redirect_uri").cloned(),
                code_verifier: p.get("code_verifier").cloned(),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: required(p, "refresh_token")?,
                scope: scope(p)?,
            }),
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials { scope: scope(p)? }),
            Some(_) => Err(Error::new(
                Code::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )),
        }
    }
}

/// The success body (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_each_grant_and_rejects_repeats() {
        let p = single(pairs(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("code_verifier", ""),
        ]))
        .unwrap();
        assert_eq!(
            TokenRequest::parse(&p).unwrap(),
            TokenRequest::AuthorizationCode {
                code: "c".into(),
                redirect_uri: None,
                code_verifier: None
            }
        );
        let p = single(pairs(&[
            ("grant_type", "client_credentials"),
            ("scope", "b a"),
        ]))
        .unwrap();
        assert!(matches!(
            TokenRequest::parse(&p).unwrap(),
            TokenRequest::ClientCredentials { scope: Some(_) }
        ));
        assert!(single(pairs(&[("code", "a"), ("code", "b")])).is_err());
        let p = single(pairs(&[("grant_type", "password")])).unwrap();
        assert_eq!(
            TokenRequest::parse(&p).unwrap_err().code,
            Code::UnsupportedGrantType
        );
        let p = single(pairs(&[("grant_type", "refresh_token")])).unwrap();
        assert_eq!(
            TokenRequest::parse(&p).unwrap_err().code,
            Code::InvalidRequest
        );
    }
}
