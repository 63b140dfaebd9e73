//! Token endpoint requests (RFC 6749 §4.1.3, §4.4.2, §6) parsed into one enum by grant type,
//! the form rules shared by every back-channel endpoint, and the success response shape.

use std::collections::HashMap;

use serde::Serialize;

use super::error::{Code, Error};
use super::limits;
use crate::domain::scope::Scope;

/// Turns form pairs into a map, refusing repeated parameters (RFC 6749 §3.2) and dropping
/// empty values (RFC 6749 §3.1: "sent without a value MUST be treated as if omitted").
/// Every name and value is bounded ([`limits::max_len`]) here, before anything looks at it:
/// every OAuth form and query goes through this function.
pub fn single(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, Error> {
    if pairs.len() > limits::PARAMS {
        return Err(Error::invalid_request(format!(
            "too many parameters (at most {})",
            limits::PARAMS
        )));
    }
    let mut m = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k.len() > limits::NAME {
            return Err(Error::invalid_request("a parameter name is too long"));
        }
        if v.is_empty() {
            continue;
        }
        check_len(&k, &v)?;
        if m.contains_key(&k) {
            return Err(Error::invalid_request(format!("parameter {k} is repeated")));
        }
        m.insert(k, v);
    }
    Ok(m)
}

/// Refuses a value longer than the bound of its parameter, naming the parameter.
pub fn check_len(name: &str, value: &str) -> Result<(), Error> {
    let max = limits::max_len(name);
    if value.len() > max {
        let name: String = name.chars().take(limits::NAME).collect();
        return Err(Error::invalid_request(format!(
            "{name} is too long (at most {max} bytes)"
        )));
    }
    Ok(())
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
    optional(p, "scope")?
        .map(|s| Scope::parse(&s).map_err(|e| Error::invalid_scope(e.to_string())))
        .transpose()
}

/// A parameter, bounded (callers may build the map without [`single`]).
fn optional(p: &HashMap<String, String>, k: &str) -> Result<Option<String>, Error> {
    match p.get(k).filter(|v| !v.is_empty()) {
        Some(v) => check_len(k, v).map(|()| Some(v.clone())),
        None => Ok(None),
    }
}

fn required(p: &HashMap<String, String>, k: &str) -> Result<String, Error> {
    optional(p, k)?.ok_or_else(|| Error::invalid_request(format!("{k} is required")))
}

impl TokenRequest {
    pub fn parse(p: &HashMap<String, String>) -> Result<TokenRequest, Error> {
        match p.get("grant_type").map(String::as_str) {
            None => Err(Error::invalid_request("grant_type is required")),
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: required(p, "code")?,
                redirect_uri: optional(p, "redirect_uri")?,
                code_verifier: optional(p, "code_verifier")?,
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
    use proptest::prelude::*;

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

    #[test]
    fn every_parameter_is_bounded() {
        let long = |n: usize| "a".repeat(n);
        for (k, max) in [
            ("client_id", limits::CLIENT_ID),
            ("code", limits::TOKEN),
            ("refresh_token", limits::TOKEN),
            ("code_verifier", limits::PKCE),
            ("redirect_uri", limits::REDIRECT_URI),
            ("scope", limits::SCOPE),
            ("anything_else", limits::OTHER),
        ] {
            assert!(single(pairs(&[(k, &long(max))])).is_ok(), "{k}");
            let e = single(pairs(&[(k, &long(max + 1))])).unwrap_err();
            assert_eq!(e.code, Code::InvalidRequest);
            assert!(
                e.description.starts_with(&format!("{k} is too long")),
                "{e}"
            );
        }
        assert!(single(pairs(&[(&long(limits::NAME + 1), "x")])).is_err());
        let many: Vec<(String, String)> = (0..=limits::PARAMS)
            .map(|i| (format!("p{i}"), "v".into()))
            .collect();
        assert!(single(many).is_err());
        // A map built by hand is bounded by the parser too.
        let mut p = HashMap::new();
        p.insert("grant_type".to_string(), "authorization_code".to_string());
        p.insert("code".to_string(), long(limits::TOKEN + 1));
        assert!(TokenRequest::parse(&p).is_err());
    }

    /// Codes of a token-endpoint answer to malformed input: never `server_error`.
    fn clean(e: &Error) -> bool {
        matches!(
            e.code,
            Code::InvalidRequest | Code::InvalidScope | Code::UnsupportedGrantType
        )
    }

    fn token_value() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{43}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any body: parsed or refused with an RFC 6749 §5.2 client error, never a panic.
        #[test]
        fn any_body_is_refused_cleanly(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            match single(pairs) {
                Ok(m) => {
                    for (k, v) in &m {
                        prop_assert!(k.len() <= limits::NAME && v.len() <= limits::max_len(k));
                    }
                    if let Err(e) = TokenRequest::parse(&m) {
                        prop_assert!(clean(&e), "{e}");
                    }
                }
                Err(e) => prop_assert!(clean(&e), "{e}"),
            }
        }

        /// Known parameter names with arbitrary (also over-long) values.
        #[test]
        fn known_names_with_any_values(
            grant in prop_oneof![
                Just("authorization_code".to_string()), Just("refresh_token".to_string()),
                Just("client_credentials".to_string()), ".{0,20}"
            ],
            values in proptest::collection::vec(
                (prop_oneof![
                    Just("code"), Just("refresh_token"), Just("redirect_uri"),
                    Just("code_verifier"), Just("scope"), Just("client_id")
                ], prop_oneof![".{0,64}", "[a-z]{0,3000}"]),
                0..6,
            ),
        ) {
            let mut v: Vec<(String, String)> = vec![("grant_type".into(), grant)];
            v.extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
            match single(v).and_then(|m| TokenRequest::parse(&m)) {
                Ok(r) => {
                    if let TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } = r {
                        prop_assert!(code.len() <= limits::TOKEN);
                        prop_assert!(redirect_uri.is_none_or(|u| u.len() <= limits::REDIRECT_URI));
                        prop_assert!(code_verifier.is_none_or(|c| c.len() <= limits::PKCE));
                    }
                }
                Err(e) => prop_assert!(clean(&e), "{e}"),
            }
        }

        /// A client id is accepted up to its bound and refused beyond it, whatever it holds.
        #[test]
        fn client_ids_are_bounded(id in "\\PC{1,300}") {
            match single(pairs(&[("client_id", &id)])) {
                Ok(m) => {
                    prop_assert!(id.len() <= limits::CLIENT_ID);
                    prop_assert_eq!(m.get("client_id"), Some(&id));
                }
                Err(e) => {
                    prop_assert!(id.len() > limits::CLIENT_ID);
                    prop_assert!(e.description.starts_with("client_id is too long"));
                }
            }
        }

        /// Well-formed requests of each grant parse to what was sent.
        #[test]
        fn valid_requests_parse(
            code in token_value(),
            verifier in "[A-Za-z0-9._~-]{43,128}",
            scope in proptest::collection::btree_set("[a-z:_]{1,20}", 0..5),
            client_id in "[A-Za-z0-9_-]{1,255}",
        ) {
            let scope_text = scope.iter().cloned().collect::<Vec<_>>().join(" ");
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "authorization_code")
                .append_pair("code", &code)
                .append_pair("code_verifier", &verifier)
                .append_pair("redirect_uri", "https://rp.example/cb")
                .append_pair("client_id", &client_id)
                .finish();
            let m = single(url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()).unwrap();
            prop_assert_eq!(m.get("client_id"), Some(&client_id));
            prop_assert_eq!(
                TokenRequest::parse(&m).unwrap(),
                TokenRequest::AuthorizationCode {
                    code: code.clone(),
                    redirect_uri: Some("https://rp.example/cb".into()),
                    code_verifier: Some(verifier),
                }
            );
            let m = single(pairs(&[("grant_type", "refresh_token"), ("refresh_token", &code), ("scope", &scope_text)])).unwrap();
            match TokenRequest::parse(&m).unwrap() {
                TokenRequest::RefreshToken { refresh_token, scope: s } => {
                    prop_assert_eq!(refresh_token, code);
                    prop_assert_eq!(s.map(|s| s.to_string()), (!scope.is_empty()).then_some(scope_text));
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
