//! Opaque secrets (codes, tokens, client secrets): 256 random bits, base64url; only their
//! SHA-256 is stored, and presented values are compared through that hash in constant time.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use subtle::ConstantTimeEq;

/// A fresh 256-bit secret, base64url without padding (43 characters).
pub fn generate() -> String {
    let mut buf = [0u8; 32];
    // The system RNG failing is not recoverable; aws-lc aborts on its own in that case.
    if SystemRandom::new().fill(&mut buf).is_err() {
        panic!("system random number generator failed");
    }
    B64.encode(buf)
}

/// The stored form: base64url(SHA-256(secret)). A 256-bit random value needs no slow hash.
pub fn hash(secret: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    hash(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_verify_by_hash() {
        let a = generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate());
        let h = hash(&a);
        assert!(verify(&a, &h));
        assert!(!verify("x", &h));
    }
}
