//! The secrets of the clients Relais issues to partner and unit systems (client credentials).
//!
//! A secret is 256 bits from the operating system's CSPRNG (through `rand`'s thread generator,
//! itself a CSPRNG seeded by the OS), shown once in base64url. Only its SHA-256 is stored: with
//! 256 random bits no guessing can find a secret from its hash, so a slow password hash would
//! buy nothing (the choice of GitHub's tokens). Hashes are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new secret, and the hash kept of it.
pub struct NewSecret {
    /// Shown once to the administrator who asked for it; never stored.
    pub secret: String,
    /// The hex SHA-256 of the secret, stored.
    pub hash: String,
}

/// A fresh 256-bit secret and its hash.
pub fn new_secret() -> NewSecret {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hash(&secret);
    NewSecret { secret, hash }
}

/// The hex SHA-256 of `secret`, as stored.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `secret` is the one whose hash is `stored`, compared in constant time.
pub fn matches(secret: &str, stored: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_256_random_bits_in_base64url_and_only_its_hash_matches() {
        let first = new_secret();
        let second = new_secret();
        assert_eq!(first.secret.len(), 43);
        assert_ne!(first.secret, second.secret);
        assert_eq!(first.hash.len(), 64);
        assert!(matches(&first.secret, &first.hash));
        assert!(!matches(&second.secret, &first.hash));
        assert!(!matches("", &first.hash));
    }
}
