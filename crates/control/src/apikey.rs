//! Gateway API keys: 256 random bits, shown once, stored as a SHA-256 hash with a visible prefix.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every Portcullis key starts with this, so logs and scanners can recognise one.
pub const KEY_PREFIX: &str = "pcl_";

/// How many leading characters of a key are kept in the clear (to tell keys apart in lists).
pub const VISIBLE_CHARS: usize = 12;

/// A freshly generated key: `secret` is shown to its owner once and never stored.
pub struct NewKey {
    pub secret: String,
    pub hash: KeyHash,
    pub visible: String,
}

/// SHA-256 of a key. Keys carry 256 bits of entropy, so an unsalted fast hash is safe here and
/// lets the data plane find a key with one hash and one map lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    pub fn of(secret: &str) -> KeyHash {
        KeyHash(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<KeyHash> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(hex, 16).ok()?;
        }
        Some(KeyHash(out))
    }

    /// Constant-time comparison, for the final check after a lookup.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Generates a new key from the OS-seeded CSPRNG.
pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    from_secret(&secret)
}

/// The stored form of a key whose value is given (bootstrap keys, declarative files).
pub fn from_secret(secret: &str) -> NewKey {
    NewKey {
        secret: secret.to_owned(),
        hash: KeyHash::of(secret),
        visible: visible_part(secret),
    }
}

/// The part of a key that may be shown: its first characters, then an ellipsis.
pub fn visible_part(secret: &str) -> String {
    let head: String = secret.chars().take(VISIBLE_CHARS).collect();
    format!("{head}…")
}

/// Whether a presented credential is long and random-looking enough to be a gateway key that
/// the operator supplied (bootstrap or file): at least 32 characters.
pub fn strong_enough(secret: &str) -> bool {
    secret.len() >= 32 && secret.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(KEY_PREFIX));
        assert_eq!(a.secret.len(), KEY_PREFIX.len() + 43);
        assert_eq!(KeyHash::of(&a.secret), a.hash);
        assert!(a.hash.matches(&KeyHash::of(&a.secret)));
        assert!(!a.hash.matches(&b.hash));
        assert!(a.visible.starts_with(&a.secret[..VISIBLE_CHARS]));
        assert!(!a.visible.contains(&a.secret[VISIBLE_CHARS..]));
    }

    #[test]
    fn hex_round_trips() {
        let k = generate();
        assert_eq!(KeyHash::from_hex(&k.hash.to_hex()), Some(k.hash));
        assert_eq!(KeyHash::from_hex("zz"), None);
    }
}
