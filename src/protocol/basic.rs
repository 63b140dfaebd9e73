//! HTTP Basic client credentials (RFC 6749 §2.3.1, RFC 7617): `Basic base64(id ":" secret)`,
//! where id and secret are each form-urlencoded first. Bounded before decoding, so a header
//! of any size costs no more than [`limits::BASIC`] bytes of work.

use base64::Engine;

use super::error::Error;
use super::limits;

/// A client id and secret read from a Basic header.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, secret redacted)", self.client_id)
    }
}

/// The token of an `Authorization` value with the `Basic` scheme (case-insensitive, RFC 9110
/// §11.1), or `None` for any other scheme.
pub fn token68(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
}

/// Decodes the credentials of a Basic token. Any malformation, and a client id or secret over
/// its bound, is `invalid_client` (RFC 6749 §5.2).
pub fn parse(token68: &str) -> Result<Credentials, Error> {
    let bad = || Error::invalid_client("malformed Basic credentials");
    if token68.len() > limits::BASIC {
        return Err(Error::invalid_client("the Basic credentials are too long"));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token68)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    let (client_id, secret) = (form_decode(id), form_decode(secret));
    if client_id.is_empty() {
        return Err(bad());
    }
    if client_id.len() > limits::CLIENT_ID {
        return Err(Error::invalid_client("client_id is too long"));
    }
    if secret.len() > limits::CLIENT_SECRET {
        return Err(Error::invalid_client("client_secret is too long"));
    }
    Ok(Credentials { client_id, secret })
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space, `%XX` a byte).
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Code;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    fn header(id: &str, secret: &str) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    }

    #[test]
    fn decodes_form_encoded_parts() {
        let c = parse(&header("my client", "p:a%ss")).unwrap();
        assert_eq!(c.client_id, "my client");
        assert_eq!(c.secret, "p:a%ss");
        assert_eq!(token68("basic abc"), Some("abc"));
        assert_eq!(token68("Bearer abc"), None);
        for bad in [
            "",
            "!!!",
            &STANDARD.encode("no-colon"),
            &STANDARD.encode(":s"),
        ] {
            assert_eq!(parse(bad).unwrap_err().code, Code::InvalidClient, "{bad}");
        }
    }

    #[test]
    fn bounds_apply_before_decoding() {
        let long_id = "a".repeat(limits::CLIENT_ID + 1);
        assert!(parse(&header(&long_id, "s")).is_err());
        assert!(parse(&header(&"a".repeat(limits::CLIENT_ID), "s")).is_ok());
        assert!(parse(&header("c", &"s".repeat(limits::CLIENT_SECRET + 1))).is_err());
        assert!(parse(&"A".repeat(64 * 1024)).is_err());
        // The largest legal pair, fully percent-encoded, still fits the header bound.
        let worst = header(
            &"é".repeat(limits::CLIENT_ID / 2),
            &"/".repeat(limits::CLIENT_SECRET),
        );
        assert!(worst.len() <= limits::BASIC, "{}", worst.len());
        assert!(parse(&worst).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any header value: an answer, never a panic; an accepted one respects the bounds.
        #[test]
        fn never_panics(s in ".{0,600}") {
            if let Some(Ok(c)) = token68(&s).map(parse) {
                prop_assert!(c.client_id.len() <= limits::CLIENT_ID);
                prop_assert!(c.secret.len() <= limits::CLIENT_SECRET);
            }
            let _ = parse(&s);
        }

        /// Base64 of arbitrary bytes: decoded or refused as `invalid_client`.
        #[test]
        fn arbitrary_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            match parse(&STANDARD.encode(&bytes)) {
                Ok(c) => prop_assert!(!c.client_id.is_empty() && c.client_id.len() <= limits::CLIENT_ID),
                Err(e) => prop_assert_eq!(e.code, Code::InvalidClient),
            }
        }

        /// Every id and secret within the bounds round-trips.
        #[test]
        fn valid_pairs_round_trip(id in "\\PC{1,60}", secret in "\\PC{0,120}") {
            let c = parse(&header(&id, &secret)).unwrap();
            prop_assert_eq!(c.client_id, id);
            prop_assert_eq!(c.secret, secret);
        }
    }
}
