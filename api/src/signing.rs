//! The Ed25519 signatures of exported statistics: an instance signs the exact bytes of its
//! payload with its signing key (kept outside the database, see `keys::signing_key`); an
//! observatory verifies them with the public key it registered for that instance.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use relais_domain::consolidation::{ExportPayload, SignedDocument};
use relais_persistence::keys::Key;

/// An instance's signing key.
pub struct StatisticsSigner {
    key: SigningKey,
}

impl StatisticsSigner {
    /// The signer of a 32-byte seed (a `signing` key of the key file).
    pub fn new(seed: &Key) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed.bytes),
        }
    }

    /// The public key, base64: what an observatory registers.
    pub fn public_key(&self) -> String {
        BASE64.encode(self.key.verifying_key().to_bytes())
    }

    /// The signed document of `payload`: its JSON text, and the signature of those bytes.
    pub fn sign(&self, payload: &ExportPayload) -> Result<SignedDocument, String> {
        let text = serde_json::to_string(payload).map_err(|e| format!("payload as JSON: {e}"))?;
        let signature = self.key.sign(text.as_bytes());
        Ok(SignedDocument {
            payload: text,
            signature: BASE64.encode(signature.to_bytes()),
        })
    }
}

/// A public key as registered: base64 of 32 bytes that are an Ed25519 point.
pub fn public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Whether `document`'s signature is `key`'s over the payload's exact bytes (strict
/// verification: no malleable signature passes).
pub fn verifies(key: &VerifyingKey, document: &SignedDocument) -> bool {
    let Some(bytes) = BASE64
        .decode(document.signature.trim())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify_strict(document.payload.as_bytes(), &Signature::from_bytes(&bytes))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> ExportPayload {
        serde_json::from_value(serde_json::json!({
            "format": relais_domain::consolidation::PAYLOAD_FORMAT,
            "instance": "relais-ardeche", "grid": "2026", "from": "2026-01-01", "to": "2026-12-31",
            "exported_at": "2027-01-15T09:00:00Z", "posts": []
        }))
        .unwrap()
    }

    #[test]
    fn a_signed_payload_verifies_with_its_key_only_and_not_once_altered() {
        let signer = StatisticsSigner::new(&Key {
            id: "s1".into(),
            bytes: [3; 32],
        });
        let other = StatisticsSigner::new(&Key {
            id: "s2".into(),
            bytes: [4; 32],
        });
        let document = signer.sign(&payload()).unwrap();
        let key = public_key(&signer.public_key()).unwrap();
        assert!(verifies(&key, &document));
        assert!(!verifies(
            &public_key(&other.public_key()).unwrap(),
            &document
        ));
        let mut altered = document.clone();
        altered.payload = altered.payload.replace("2026-12-31", "2026-12-30");
        assert!(!verifies(&key, &altered));
        altered = document.clone();
        altered.signature = "AAAA".into();
        assert!(!verifies(&key, &altered));
        assert!(public_key("not base64").is_none());
        assert!(public_key(&BASE64.encode([1u8; 31])).is_none());
    }
}
