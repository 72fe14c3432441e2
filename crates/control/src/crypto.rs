//! Provider credentials at rest: AES-256-GCM under a master key from the environment
//! (`PORTCULLIS_MASTER_KEY`, 32 bytes base64) or a generated key file readable by its owner only.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// The environment variable holding the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "PORTCULLIS_MASTER_KEY";

/// Marks the sealed format, so a future scheme can be told apart.
const VERSION: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{MASTER_KEY_ENV} must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")]
    BadMasterKey,
    #[error("cannot use the master key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(
        "a stored credential cannot be decrypted: the master key differs from the one it was sealed with, or the value is damaged"
    )]
    Open,
}

/// Seals and opens secrets, and signs short-lived tokens ([`Sealer::sign`]) under a key
/// derived from the same master key. Cloning shares nothing mutable.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    /// HMAC key for signatures: never the encryption key itself.
    pub(crate) signing_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(****)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
            signing_key: crate::signing::derive(key),
        }
    }

    /// From base64 text (the environment variable's format).
    pub fn from_base64(text: &str) -> Result<Sealer, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Sealer::from_key(&key))
    }

    /// The environment's key if set; else the key file in `data_dir` (created, mode 0600, when
    /// missing and `create` is true).
    pub fn load(data_dir: &Path, create: bool) -> Result<Sealer, CryptoError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Sealer::from_base64(&text);
        }
        let path = data_dir.join("master.key");
        let fail = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Sealer::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
                write_private(&path, &STANDARD.encode(key)).map_err(|e| fail(e.to_string()))?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(fail(e.to_string())),
        }
    }

    /// `v1.<nonce b64>.<ciphertext b64>`; a fresh random nonce every time.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        format!(
            "{VERSION}.{}.{}",
            STANDARD.encode(nonce),
            STANDARD.encode(ct)
        )
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(n), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Open);
        };
        let nonce = STANDARD.decode(n).map_err(|_| CryptoError::Open)?;
        let ct = STANDARD.decode(c).map_err(|_| CryptoError::Open)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Open);
        }
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), ct.as_ref())
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(pt).map_err(|_| CryptoError::Open)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_fresh_nonces() {
        let s = Sealer::from_key(&[7u8; 32]);
        let a = s.seal("sk-secret");
        let b = s.seal("sk-secret");
        assert_ne!(a, b, "nonces differ");
        assert!(!a.contains("sk-secret"));
        assert_eq!(s.open(&a).unwrap(), "sk-secret");
        let other = Sealer::from_key(&[8u8; 32]);
        assert!(other.open(&a).is_err());
        let mut damaged = a.clone();
        damaged.pop();
        assert!(s.open(&damaged).is_err());
        assert!(s.open("garbage").is_err());
    }

    #[test]
    fn creates_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load(dir.path(), true).unwrap();
        let b = Sealer::load(dir.path(), true).unwrap();
        assert_eq!(
            b.open(&a.seal("x")).unwrap(),
            "x",
            "the second load reads the same key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let empty = tempfile::tempdir().unwrap();
        assert!(Sealer::load(empty.path(), false).is_err());
    }

    #[test]
    fn rejects_bad_master_keys() {
        assert!(Sealer::from_base64("short").is_err());
        assert!(Sealer::from_base64(&STANDARD.encode([1u8; 16])).is_err());
    }
}
