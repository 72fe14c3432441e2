//! Signatures for URLs that must work without an API key (a log export's download link):
//! HMAC-SHA256 under a key derived from the master key, so every replica sharing the master
//! key verifies what any of them signed, and the encryption key is never used for it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::Sealer;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // Any key length is valid for HMAC: `new_from_slice` cannot fail here.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The signing key of a master key.
pub(crate) fn derive(master: &[u8; 32]) -> [u8; 32] {
    hmac(master, b"portcullis signing key v1")
}

/// `purpose` and `message` as one unambiguous byte string.
fn framed(purpose: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(purpose.len() + message.len() + 1);
    out.extend_from_slice(purpose.as_bytes());
    out.push(0);
    out.extend_from_slice(message.as_bytes());
    out
}

impl Sealer {
    /// The signature of `message` for `purpose` (URL-safe base64, no padding). A signature for
    /// one purpose never verifies for another.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.signing_key, &framed(purpose, message)))
    }

    /// Whether `signature` is [`Sealer::sign`]'s for `purpose` and `message` (compared in
    /// constant time).
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(signature.trim()) else {
            return false;
        };
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(&framed(purpose, message));
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signatures_verify_only_for_their_key_purpose_and_message() {
        let a = Sealer::from_key(&[1u8; 32]);
        let b = Sealer::from_key(&[2u8; 32]);
        let sig = a.sign("export", "job-1.1700000000");
        assert!(a.verify("export", "job-1.1700000000", &sig));
        assert!(Sealer::from_key(&[1u8; 32]).verify("export", "job-1.1700000000", &sig));
        assert!(!b.verify("export", "job-1.1700000000", &sig));
        assert!(!a.verify("other", "job-1.1700000000", &sig));
        assert!(!a.verify("export", "job-1.1700000001", &sig));
        assert!(!a.verify("export", "job-1.1700000000", "not base64!"));
        assert!(!a.verify("export", "job-1.1700000000", &sig[..10]));
        assert!(!a.verify("exportjob-1", ".1700000000", &a.sign("export", "job-1")));
    }
}
