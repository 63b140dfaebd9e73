//! A small JWS/JWK module over aws-lc-rs (RFC 7515, 7517, 7518, 7638, 8037): key generation,
//! compact JWS signing with a parsed key held in memory, JWK export with a thumbprint `kid`,
//! and verification of our own tokens (`id_token_hint`).

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::domain::client::SigningAlg;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key generation or parsing failed")]
    Key,
    #[error("signing failed")]
    Sign,
    #[error("malformed JWS")]
    Malformed,
    #[error("signature does not verify")]
    BadSignature,
    #[error("no published key has this kid")]
    UnknownKey,
}

/// Generates a fresh private key for `alg`, as PKCS#8 DER (the form stored, encrypted).
pub fn generate(alg: SigningAlg) -> Result<Vec<u8>, Error> {
    let der = match alg {
        SigningAlg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        SigningAlg::ES256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        SigningAlg::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8())
            .map(|d| d.as_ref().to_vec()),
    };
    der.map_err(|_| Error::Key)
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed signing key with its public JWK and `kid`. Parsing happens once, when keys are
/// loaded; signing then costs only the signature itself.
pub struct SigningKey {
    pub alg: SigningAlg,
    pub kid: String,
    /// The public JWK as published (`kty`, key members, `kid`, `use`, `alg`).
    pub jwk: Value,
    pair: Pair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg, self.kid)
    }
}

impl SigningKey {
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<SigningKey, Error> {
        let (pair, members) = match alg {
            SigningAlg::RS256 => {
                let k = RsaKeyPair::from_pkcs8(der).map_err(|_| Error::Key)?;
                let p = k.public_key();
                let n = B64.encode(p.modulus().big_endian_without_leading_zero());
                let e = B64.encode(p.exponent().big_endian_without_leading_zero());
                (Pair::Rsa(k), json!({"e": e, "kty": "RSA", "n": n}))
            }
            SigningAlg::ES256 => {
                let k = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| Error::Key)?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let point = k.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(Error::Key);
                }
                let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..]));
                (
                    Pair::Ec(k),
                    json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}),
                )
            }
            SigningAlg::EdDSA => {
                let k = Ed25519KeyPair::from_pkcs8(der).map_err(|_| Error::Key)?;
                let x = B64.encode(k.public_key().as_ref());
                (Pair::Ed(k), json!({"crv": "Ed25519", "kty": "OKP", "x": x}))
            }
        };
        let kid = thumbprint(&members);
        let mut jwk = members;
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg.as_str());
        Ok(SigningKey {
            alg,
            kid,
            jwk,
            pair,
            rng: SystemRandom::new(),
        })
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|_| Error::Sign)?;
                Ok(sig)
            }
            Pair::Ec(k) => k
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Sign),
            Pair::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }

    /// Compact JWS of `claims` with header `{alg, kid, typ: JWT}` (RFC 7515 §7.1).
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, Error> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": "JWT"});
        let mut out = B64.encode(header.to_string());
        out.push('.');
        out.push_str(&B64.encode(claims.to_string()));
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        out.push_str(&B64.encode(sig));
        Ok(out)
    }

    /// Verifies a compact JWS that this key signed and returns its claims.
    pub fn verify(&self, jws: &str) -> Result<Value, Error> {
        let (head, payload, sig) = compact(jws)?;
        let signed = &jws[..head.len() + 1 + payload.len()];
        let sig = B64.decode(sig).map_err(|_| Error::Malformed)?;
        let ok = match &self.pair {
            Pair::Rsa(k) => UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                k.public_key().as_ref(),
            )
            .verify(signed.as_bytes(), &sig),
            Pair::Ec(k) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, k.public_key().as_ref())
                    .verify(signed.as_bytes(), &sig)
            }
            Pair::Ed(k) => UnparsedPublicKey::new(&signature::ED25519, k.public_key().as_ref())
                .verify(signed.as_bytes(), &sig),
        };
        ok.map_err(|_| Error::BadSignature)?;
        let claims = B64.decode(payload).map_err(|_| Error::Malformed)?;
        serde_json::from_slice(&claims).map_err(|_| Error::Malformed)
    }
}

/// The three parts of a compact JWS (RFC 7515 §7.1): exactly two dots, no empty header, and
/// no longer than any token we sign ([`limits::ID_TOKEN_HINT`]), so an attacker's string is
/// refused before any decoding.
fn compact(jws: &str) -> Result<(&str, &str, &str), Error> {
    if jws.len() > super::limits::ID_TOKEN_HINT {
        return Err(Error::Malformed);
    }
    let mut parts = jws.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() => Ok((h, p, s)),
        _ => Err(Error::Malformed),
    }
}

/// The protected header of a compact JWS, unverified (to pick the key by `kid`).
pub fn peek_header(jws: &str) -> Result<Value, Error> {
    let (head, _, _) = compact(jws)?;
    let bytes = B64.decode(head).map_err(|_| Error::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Error::Malformed)
}

/// RFC 7638 thumbprint: SHA-256 over the required members, keys sorted, no whitespace.
/// `serde_json` without `preserve_order` keeps object keys sorted, which is exactly that form.
pub fn thumbprint(required_members: &Value) -> String {
    B64.encode(digest::digest(
        &digest::SHA256,
        required_members.to_string().as_bytes(),
    ))
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access token, with the
/// hash of the id_token's alg (SHA-256 for RS256/ES256; SHA-512 for Ed25519 EdDSA).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let d = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => {
            digest::digest(&digest::SHA256, access_token.as_bytes())
        }
        SigningAlg::EdDSA => digest::digest(&digest::SHA512, access_token.as_bytes()),
    };
    let half = &d.as_ref()[..d.as_ref().len() / 2];
    B64.encode(half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = json!({"e": "AQAB", "kty": "RSA", "n": n});
        assert_eq!(
            thumbprint(&members),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn sign_and_verify_every_alg() {
        for alg in SigningAlg::ALL {
            let der = generate(alg).unwrap();
            let key = SigningKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(key.jwk["kid"], key.kid);
            assert_eq!(key.jwk["use"], "sig");
            assert_eq!(key.jwk["alg"], alg.as_str());
            let jws = key.sign_jwt(&json!({"sub": "x"})).unwrap();
            assert_eq!(peek_header(&jws).unwrap()["kid"], key.kid);
            assert_eq!(key.verify(&jws).unwrap()["sub"], "x");
            let mut forged = jws.clone();
            forged.insert_str(jws.find('.').unwrap() + 1, "e30");
            assert!(key.verify(&forged).is_err());
            // The same key re-parsed has the same kid.
            assert_eq!(SigningKey::from_pkcs8(alg, &der).unwrap().kid, key.kid);
        }
    }

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3 (RS256): access token and its at_hash.
        assert_eq!(
            at_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(SigningAlg::EdDSA, "x").len(), 43);
    }

    fn ed_key() -> &'static SigningKey {
        static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            SigningKey::from_pkcs8(SigningAlg::EdDSA, &generate(SigningAlg::EdDSA).unwrap())
                .unwrap()
        })
    }

    #[test]
    fn compact_form_is_exactly_three_parts() {
        let jws = ed_key().sign_jwt(&json!({"sub": "x"})).unwrap();
        assert!(ed_key().verify(&format!("{jws}.")).is_err());
        assert!(peek_header(&format!("{jws}.x")).is_err());
        assert!(peek_header("").is_err());
        assert!(peek_header(&"e30.".repeat(3000)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any string as an id_token_hint: `Err`, never a panic (and never a valid token).
        #[test]
        fn any_hint_is_refused_cleanly(s in prop_oneof![".{0,300}", "[A-Za-z0-9_.-]{0,400}"]) {
            let _ = peek_header(&s);
            prop_assert!(ed_key().verify(&s).is_err());
        }

        /// Three base64url parts of arbitrary bytes: still only `Err`.
        #[test]
        fn arbitrary_parts_are_refused(
            h in proptest::collection::vec(any::<u8>(), 0..80),
            p in proptest::collection::vec(any::<u8>(), 0..200),
            sig in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let jws = format!("{}.{}.{}", B64.encode(&h), B64.encode(&p), B64.encode(&sig));
            let _ = peek_header(&jws);
            prop_assert!(ed_key().verify(&jws).is_err());
        }

        /// What we sign verifies, with the claims and `kid` intact; any change to it does not.
        #[test]
        fn signed_tokens_round_trip(sub in "\\PC{0,40}", n in any::<i64>(), flip in 0usize..200) {
            let key = ed_key();
            let claims = json!({"sub": sub, "n": n});
            let jws = key.sign_jwt(&claims).unwrap();
            let header = peek_header(&jws).unwrap();
            prop_assert_eq!(header["kid"].as_str(), Some(key.kid.as_str()));
            prop_assert_eq!(key.verify(&jws).unwrap(), claims);
            let mut bytes = jws.clone().into_bytes();
            let i = flip % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != jws {
                prop_assert!(key.verify(&tampered).is_err());
            }
        }
    }
}
