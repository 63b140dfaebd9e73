//! PKCE (RFC 7636): the challenge sent to `/authorize` and the verifier checked at `/token`.
//! S256 always; `plain` only for a client that opted in; required for public clients.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    S256,
    Plain,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::S256 => "S256",
            Method::Plain => "plain",
        }
    }
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "S256" => Some(Method::S256),
            "plain" => Some(Method::Plain),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub method: Method,
    pub value: String,
}

/// The client's PKCE rules.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub required: bool,
    pub allow_plain: bool,
}

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`, 43 to 128 characters.
fn is_verifier_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Validates the authorization request's `code_challenge` / `code_challenge_method`.
pub fn parse_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    policy: Policy,
) -> Result<Option<Challenge>, Error> {
    let Some(value) = challenge.filter(|s| !s.is_empty()) else {
        if method.is_some_and(|m| !m.is_empty()) {
            return Err(Error::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        if policy.required {
            return Err(Error::invalid_request(
                "this client must use PKCE: send code_challenge with code_challenge_method=S256",
            ));
        }
        return Ok(None);
    };
    // RFC 7636 §4.3: the default method is `plain`, which we refuse unless the client opted in.
    let method = match method.filter(|m| !m.is_empty()) {
        None => Method::Plain,
        Some(m) => Method::parse(m)
            .ok_or_else(|| Error::invalid_request("code_challenge_method must be S256"))?,
    };
    if method == Method::Plain && !policy.allow_plain {
        return Err(Error::invalid_request(
            "code_challenge_method=plain is not allowed for this client; use S256",
        ));
    }
    let shaped = match method {
        // base64url of a SHA-256 digest, without padding: exactly 43 characters.
        Method::S256 => {
            value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok_and(|d| d.len() == 32)
        }
        Method::Plain => is_verifier_shaped(value),
    };
    if !shaped {
        return Err(Error::invalid_request("code_challenge is malformed"));
    }
    Ok(Some(Challenge {
        method,
        value: value.to_owned(),
    }))
}

/// Checks the token request's `code_verifier` against the stored challenge (RFC 7636 §4.6).
pub fn verify(challenge: Option<&Challenge>, verifier: Option<&str>) -> Result<(), Error> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        // A verifier for a code issued without a challenge is a downgrade probe (RFC 9700 §2.1.1).
        (None, Some(_)) => Err(Error::invalid_grant(
            "code_verifier sent, but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(Error::invalid_grant("code_verifier is required")),
        (Some(c), Some(v)) => {
            if !is_verifier_shaped(v) {
                return Err(Error::invalid_grant(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            let computed = match c.method {
                Method::S256 => {
                    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, v.as_bytes()))
                }
                Method::Plain => v.to_owned(),
            };
            if bool::from(computed.as_bytes().ct_eq(c.value.as_bytes())) {
                Ok(())
            } else {
                Err(Error::invalid_grant("code_verifier does not match"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::Code;
    use proptest::prelude::*;

    const STRICT: Policy = Policy {
        required: true,
        allow_plain: false,
    };
    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_example_verifies() {
        let c = parse_challenge(Some(CHALLENGE), Some("S256"), STRICT)
            .unwrap()
            .unwrap();
        assert_eq!(verify(Some(&c), Some(VERIFIER)), Ok(()));
        let wrong = format!("{}A", &VERIFIER[..42]);
        assert_eq!(
            verify(Some(&c), Some(&wrong)).unwrap_err().code,
            Code::InvalidGrant
        );
        assert!(verify(Some(&c), None).is_err());
    }

    #[test]
    fn plain_only_when_opted_in() {
        assert!(parse_challenge(Some(VERIFIER), Some("plain"), STRICT).is_err());
        assert!(parse_challenge(Some(VERIFIER), None, STRICT).is_err());
        let lax = Policy {
            required: true,
            allow_plain: true,
        };
        let c = parse_challenge(Some(VERIFIER), None, lax).unwrap().unwrap();
        assert_eq!(c.method, Method::Plain);
        assert_eq!(verify(Some(&c), Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn required_and_shapes() {
        assert!(parse_challenge(None, None, STRICT).is_err());
        let optional = Policy {
            required: false,
            allow_plain: false,
        };
        assert_eq!(parse_challenge(None, None, optional), Ok(None));
        assert!(parse_challenge(Some("short"), Some("S256"), STRICT).is_err());
        assert!(parse_challenge(Some(CHALLENGE), Some("S512"), STRICT).is_err());
        // Verifier length bounds: 42 and 129 are refused.
        let c = parse_challenge(Some(CHALLENGE), Some("S256"), STRICT)
            .unwrap()
            .unwrap();
        assert!(verify(Some(&c), Some(&"a".repeat(42))).is_err());
        assert!(verify(Some(&c), Some(&"a".repeat(129))).is_err());
        // A verifier without a challenge is refused.
        assert!(verify(None, Some(VERIFIER)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any challenge, method and verifier: an answer (`invalid_request` at /authorize,
        /// `invalid_grant` at /token), never a panic.
        #[test]
        fn any_input_is_refused_cleanly(
            challenge in proptest::option::of(".{0,200}"),
            method in proptest::option::of(prop_oneof![Just("S256".to_string()), Just("plain".to_string()), ".{0,10}"]),
            verifier in proptest::option::of(".{0,200}"),
            required: bool,
            allow_plain: bool,
        ) {
            let policy = Policy { required, allow_plain };
            match parse_challenge(challenge.as_deref(), method.as_deref(), policy) {
                Ok(c) => {
                    if let Some(c) = &c {
                        prop_assert!(c.value.len() <= 128);
                    }
                    if let Err(e) = verify(c.as_ref(), verifier.as_deref()) {
                        prop_assert_eq!(e.code, Code::InvalidGrant);
                    }
                }
                Err(e) => prop_assert_eq!(e.code, Code::InvalidRequest),
            }
        }

        /// A verifier of the RFC 7636 §4.1 alphabet and length verifies against its S256
        /// challenge (and its plain one, where allowed), and no other verifier does.
        #[test]
        fn generated_pairs_verify(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
            let c = parse_challenge(Some(&challenge), Some("S256"), STRICT).unwrap().unwrap();
            prop_assert_eq!(verify(Some(&c), Some(&verifier)), Ok(()));
            prop_assert_eq!(verify(Some(&c), Some(&other)).is_ok(), other == verifier);
            let lax = Policy { required: true, allow_plain: true };
            let p = parse_challenge(Some(&verifier), Some("plain"), lax).unwrap().unwrap();
            prop_assert_eq!(verify(Some(&p), Some(&verifier)), Ok(()));
        }
    }
}
