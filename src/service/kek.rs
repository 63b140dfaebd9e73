//! The key-encryption key (KEK) and the AES-256-GCM envelope that protects signing keys at
//! rest. The KEK comes from configuration (variable, `_FILE` or systemd credential); without
//! one, a random KEK is generated once into the state directory (mode 0600) with a warning.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{Error, Result};
use crate::config::{KeyEncryptionKey, OauthConfig};

/// File name of a generated KEK inside the state directory.
pub const GENERATED_FILE: &str = "key-encryption-key";

pub struct Kek {
    key: LessSafeKey,
    /// Short fingerprint stored next to each sealed key, so a wrong KEK is named as such.
    pub id: String,
}

impl Kek {
    pub fn new(k: &KeyEncryptionKey) -> Result<Kek> {
        let unbound = UnboundKey::new(&AES_256_GCM, &k.0)
            .map_err(|_| Error::Internal("invalid key-encryption key".into()))?;
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"opentrusty-kek-id\0");
        ctx.update(&k.0);
        let id = URL_SAFE_NO_PAD.encode(&ctx.finish().as_ref()[..12]);
        Ok(Kek {
            key: LessSafeKey::new(unbound),
            id,
        })
    }

    /// Loads the configured KEK, or the generated one, creating it on first use.
    pub fn load(cfg: &OauthConfig) -> Result<Kek> {
        if let Some(k) = &cfg.key_encryption_key {
            return Kek::new(k);
        }
        let path = cfg.state_dir.join(GENERATED_FILE);
        Kek::new(&load_or_generate(&path)?)
    }

    /// `base64(nonce || ciphertext || tag)`; `aad` binds the ciphertext to its row.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("random number generator failed".into()))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>> {
        let fail = || {
            Error::Internal("a signing key does not decrypt with this key-encryption key".into())
        };
        let mut raw = STANDARD.decode(sealed).map_err(|_| fail())?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(fail());
        }
        let mut ct = raw.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&raw).map_err(|_| fail())?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut ct)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }
}

fn load_or_generate(path: &Path) -> Result<KeyEncryptionKey> {
    let io = |e: std::io::Error| {
        Error::Internal(format!("key-encryption key file {}: {e}", path.display()))
    };
    match std::fs::read_to_string(path) {
        Ok(s) => KeyEncryptionKey::parse(&s).ok_or_else(|| {
            Error::Internal(format!("{} does not hold a 32-byte key", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut key = [0u8; 32];
            SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| Error::Internal("random number generator failed".into()))?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            // create_new: of two processes racing here, one writes and the other reads.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(format!("{hex}\n").as_bytes()).map_err(io)?;
                    f.sync_all().map_err(io)?;
                    tracing::warn!(
                        path = %path.display(),
                        "no OPENTRUSTY_KEY_ENCRYPTION_KEY configured: generated one; back it up, or provide one as the systemd credential `key-encryption-key`"
                    );
                    Ok(KeyEncryptionKey(key))
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_generate(path),
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_aad_binding() {
        let kek = Kek::new(&KeyEncryptionKey([9; 32])).unwrap();
        let s = kek.seal(b"private", "t1:RS256:1").unwrap();
        assert_eq!(kek.open(&s, "t1:RS256:1").unwrap(), b"private");
        assert!(kek.open(&s, "t2:RS256:1").is_err());
        let other = Kek::new(&KeyEncryptionKey([8; 32])).unwrap();
        assert!(other.open(&s, "t1:RS256:1").is_err());
        assert_ne!(kek.id, other.id);
    }

    #[test]
    fn generated_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join(GENERATED_FILE);
        let a = load_or_generate(&p).unwrap();
        let b = load_or_generate(&p).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
