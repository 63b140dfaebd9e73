//! The key-encryption key (KEK) and the AES-256-GCM envelope that protects signing keys at
//! rest. The KEK comes from configuration (variable, `_FILE` or systemd credential); without
//! one (SQLite only), a random KEK is generated once beside the database file (mode 0600) with
//! a warning.
//!
//! The database records the KEK's check value (its fingerprint, [`Kek::id`]) the first time a
//! key is used with it. Every later start compares: a process holding another key (a second
//! generated file, a mistyped credential) refuses with one line naming the variable and the
//! expected key id, instead of sealing new signing keys that no other process can open.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{Error, Result};
use crate::clock::UnixTime;
use crate::config::{KeyEncryptionKey, OauthConfig};
use crate::store::Store;

/// `meta` key of the recorded check value.
pub const CHECK_VALUE_KEY: &str = "kek_check_value";

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

    /// Loads the configured KEK, or the generated one, and checks it against the database:
    /// the recorded check value, and the fingerprints the stored signing keys were sealed
    /// with. A KEK is generated only for a database that has never had one.
    pub async fn load(cfg: &OauthConfig, store: &Store, now: UnixTime) -> Result<Kek> {
        let (recorded, sealed_with) = {
            let mut tx = store.read().await?;
            (
                tx.meta_get(CHECK_VALUE_KEY).await?,
                tx.signing_key_kek_ids().await?,
            )
        };
        // Databases from before the check value: the keys' own fingerprints stand in for it.
        let expected = recorded.clone().or_else(|| sealed_with.first().cloned());
        let kek = match (&cfg.key_encryption_key, &cfg.generated_kek) {
            (Some(k), _) => Kek::new(k)?,
            (None, Some(path)) => match read_generated(path)? {
                Some(k) => Kek::new(&k)?,
                None => match &expected {
                    Some(id) => {
                        return Err(Error::KeyEncryption(format!(
                            "the database holds signing keys sealed with key-encryption key {id}, but OPENTRUSTY_KEY_ENCRYPTION_KEY is not set and {} does not exist: set OPENTRUSTY_KEY_ENCRYPTION_KEY (or the credential key-encryption-key) to the key with id {id}",
                            path.display()
                        )));
                    }
                    None => Kek::new(&generate(path)?)?,
                },
            },
            (None, None) => {
                return Err(Error::KeyEncryption(
                    "OPENTRUSTY_KEY_ENCRYPTION_KEY is required with this database".into(),
                ));
            }
        };
        let source = match &cfg.key_encryption_key {
            Some(_) => "OPENTRUSTY_KEY_ENCRYPTION_KEY".to_owned(),
            None => format!(
                "the generated key {} (OPENTRUSTY_KEY_ENCRYPTION_KEY is not set)",
                cfg.generated_kek
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string())
            ),
        };
        let mismatch = |want: &str| {
            Error::KeyEncryption(format!(
                "key-encryption key mismatch: the database expects key id {want}, but {source} has key id {}; set OPENTRUSTY_KEY_ENCRYPTION_KEY to the key with id {want}",
                kek.id
            ))
        };
        if let Some(want) = expected.as_deref()
            && want != kek.id
        {
            return Err(mismatch(want));
        }
        if let Some(other) = sealed_with.iter().find(|id| **id != kek.id) {
            return Err(mismatch(other));
        }
        if recorded.is_none() {
            // First use: record the check value. Of two processes racing here with different
            // keys, the first insert wins and the other sees a mismatch.
            let mut tx = store.begin().await?;
            tx.meta_insert_absent(CHECK_VALUE_KEY, &kek.id, now).await?;
            let stored = tx.meta_get(CHECK_VALUE_KEY).await?;
            tx.commit().await?;
            if let Some(want) = stored.as_deref()
                && want != kek.id
            {
                return Err(mismatch(want));
            }
        }
        Ok(kek)
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

fn file_error(path: &Path, e: std::io::Error) -> Error {
    Error::KeyEncryption(format!("key-encryption key file {}: {e}", path.display()))
}

/// The generated key at `path`, if the file exists.
fn read_generated(path: &Path) -> Result<Option<KeyEncryptionKey>> {
    match std::fs::read_to_string(path) {
        Ok(s) => KeyEncryptionKey::parse(&s).map(Some).ok_or_else(|| {
            Error::KeyEncryption(format!("{} does not hold a 32-byte key", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, e)),
    }
}

/// Creates a new random key at `path` (mode 0600). The key is written to a private temporary
/// file and then linked into place, so a racing process never reads a half-written file: of
/// two processes racing here, one links and the other reads what it linked.
fn generate(path: &Path) -> Result<KeyEncryptionKey> {
    let io = |e: std::io::Error| file_error(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| Error::Internal("random number generator failed".into()))?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{hex}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "no OPENTRUSTY_KEY_ENCRYPTION_KEY configured: generated one; back it up, or provide one as the systemd credential `key-encryption-key`"
            );
            Ok(KeyEncryptionKey(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_generated(path)?
            .ok_or_else(|| file_error(path, std::io::ErrorKind::NotFound.into())),
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
        let p = dir.path().join("sub").join("key-encryption-key");
        assert!(read_generated(&p).unwrap().is_none());
        let a = generate(&p).unwrap();
        let b = generate(&p).unwrap();
        assert_eq!(Some(a.clone()), read_generated(&p).unwrap());
        assert_eq!(a, b);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
