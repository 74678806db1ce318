//! National consolidation: an instance exports its posts' submissions for a period as a signed
//! document; an observatory instance registers the senders' public keys, imports the documents
//! it can verify, and sums them by post, department and nationally.
//!
//! The document is `{"payload": "<JSON text>", "signature": "<base64>"}`: the payload travels as
//! a string so that the signature covers its exact bytes (no canonical form of JSON to agree on;
//! `jq -r .payload` shows it).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::PostId;
use crate::statistics::Statistics;
use crate::validation::{Invalid, Validation, is_department_code};

/// The `format` of a payload this version writes and reads.
pub const PAYLOAD_FORMAT: &str = "relais.statistics-submissions.v1";

/// A signed export, as written to a file and posted to an observatory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "payload": "{\"format\":\"relais.statistics-submissions.v1\",\"instance\":\"relais-ardeche\",\"grid\":\"2026\",\"from\":\"2026-01-01\",\"to\":\"2026-12-31\",\"exported_at\":\"2027-01-15T09:00:00Z\",\"posts\":[]}",
    "signature": "u3Jq0dGm9u1bLQ0w7Q2cJm1nq7m3E9R0c2ZlZ3l0b2tlbnNpZ25hdHVyZWV4YW1wbGVvZjY0Ynl0ZXM="
})))]
pub struct SignedDocument {
    /// The [`ExportPayload`] as JSON text, exactly as signed.
    pub payload: String,
    /// The Ed25519 signature of the payload's UTF-8 bytes, base64 (standard, padded).
    pub signature: String,
}

/// What an instance exports: the latest version each of its posts submitted for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportPayload {
    /// [`PAYLOAD_FORMAT`].
    #[cfg_attr(
        feature = "openapi",
        schema(example = "relais.statistics-submissions.v1")
    )]
    pub format: String,
    /// The sending instance's id, as the observatory registered it (`RELAIS_INSTANCE_ID`).
    #[cfg_attr(feature = "openapi", schema(example = "relais-ardeche"))]
    pub instance: String,
    #[cfg_attr(feature = "openapi", schema(example = "2026"))]
    pub grid: String,
    #[cfg_attr(feature = "openapi", schema(example = "2026-01-01"))]
    pub from: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-31"))]
    pub to: NaiveDate,
    pub exported_at: DateTime<Utc>,
    /// One entry per post that submitted the period.
    pub posts: Vec<ExportedPost>,
}

/// One post's submitted figures in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportedPost {
    /// The post's id on the sending instance.
    pub post_id: PostId,
    #[cfg_attr(feature = "openapi", schema(example = "ISCG Privas"))]
    pub name: String,
    /// INSEE department code: the observatory sums departments with it.
    #[cfg_attr(feature = "openapi", schema(example = "07"))]
    pub department_code: String,
    #[cfg_attr(feature = "openapi", schema(example = 1))]
    pub version: i64,
    pub submitted_at: DateTime<Utc>,
    pub statistics: Statistics,
}

impl ExportPayload {
    /// Checks that the payload is one this version reads and agrees with itself.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut check = Validation::new();
        check.require(
            self.format == PAYLOAD_FORMAT,
            "payload.format",
            "inconsistent",
            format!("expected {PAYLOAD_FORMAT}"),
        );
        check.require(
            is_instance_id(&self.instance),
            "payload.instance",
            "invalid_instance_id",
            "1 to 64 of a-z, 0-9, '-' and '_'",
        );
        for (i, post) in self.posts.iter().enumerate() {
            let at = |field: &str| format!("payload.posts[{i}].{field}");
            check.require(
                is_department_code(&post.department_code),
                &at("department_code"),
                "invalid_department",
                "must be an INSEE department code",
            );
            let stats = &post.statistics;
            check.require(
                stats.grid == self.grid && stats.from == self.from && stats.to == self.to,
                &at("statistics"),
                "inconsistent",
                "the post's grid version or period differs from the document's",
            );
            check.require(
                self.posts[..i].iter().all(|p| p.post_id != post.post_id),
                &at("post_id"),
                "duplicate",
                "a post appears twice",
            );
        }
        check.finish()
    }
}

/// Whether `id` may name an instance.
pub fn is_instance_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A sending instance, as the observatory registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instance {
    #[cfg_attr(feature = "openapi", schema(example = "relais-ardeche"))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "Relais de l'Ardèche"))]
    pub name: String,
    /// Its Ed25519 public key, base64 (`relais statistics public-key` on that instance).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=")
    )]
    pub public_key: String,
    pub registered_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(example = "admin-observatoire"))]
    pub registered_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_short_lowercase_words() {
        assert!(is_instance_id("relais-ardeche_2"));
        assert!(!is_instance_id(""));
        assert!(!is_instance_id("Relais"));
        assert!(!is_instance_id(&"a".repeat(65)));
    }
}
