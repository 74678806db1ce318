//! Typed identifiers: a `PostId` can never be passed where a `SituationId` is expected.
//!
//! Identifiers are UUID v7, so their order is their creation order; lists page on them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The one spelling of an id: a UUID in lower-case hexadecimal with hyphens (RFC 9562's
/// canonical form, as Relais writes them). The same UUID written otherwise (upper case, without
/// hyphens, `urn:uuid:`, braces) is not an id here, so every id in a path, a query, a body, a
/// log line or the audit trail names its record the same way. (The `pattern` of the ids' OpenAPI
/// schemas says the same; `openapi.rs` tests that they agree.)
pub const CANONICAL_PATTERN: &str =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// Text that is not an id in its canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an id: ids are UUIDs written in lower case with hyphens, as 0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
)]
pub struct NotAnId;

/// The UUID `text` spells, if it spells it canonically.
pub fn canonical(text: &str) -> Result<Uuid, NotAnId> {
    let is_canonical = text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if is_canonical {
        Uuid::parse_str(text).map_err(|_| NotAnId)
    } else {
        Err(NotAnId)
    }
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            /// A new, time-ordered identifier.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = NotAnId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                canonical(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies an ISCG post.
    PostId
);
id_type!(
    /// Identifies a police or gendarmerie unit.
    UnitId
);
id_type!(
    /// Identifies a person received by a post.
    BeneficiaryId
);
id_type!(
    /// Identifies a situation (one episode at one post).
    SituationId
);
id_type!(
    /// Identifies an intervention within a situation.
    InterventionId
);
id_type!(
    /// Identifies a partner organisation.
    PartnerId
);
id_type!(
    /// Identifies an incoming referral.
    ReferralId
);
id_type!(
    /// Identifies a hand-off to a partner.
    HandOffId
);
id_type!(
    /// Identifies a partner's webhook subscription.
    WebhookId
);
id_type!(
    /// Identifies an event of the feed (the `webhook-id` of its deliveries).
    EventId
);
id_type!(
    /// Identifies an audit event.
    AuditEventId
);
id_type!(
    /// Identifies a judicial requisition.
    RequisitionId
);
id_type!(
    /// Identifies a membership: an identity granted a role and its scope.
    MemberId
);
id_type!(
    /// Identifies one version of a post's submitted statistics.
    SubmissionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_ordered_by_creation() {
        let first = SituationId::generate();
        let second = SituationId::generate();
        assert!(first < second);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = PostId::generate();
        assert_eq!(id.to_string().parse::<PostId>().ok(), Some(id));
        assert!("not-a-uuid".parse::<PostId>().is_err());
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    #[test]
    fn an_id_has_one_spelling() {
        let id = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b";
        assert_eq!(id.parse::<PostId>().unwrap().to_string(), id);
        for other in [
            id.to_uppercase(),
            id.replace('-', ""),
            format!("urn:uuid:{id}"),
            format!("{{{id}}}"),
            format!(" {id}"),
            String::new(),
        ] {
            assert_eq!(other.parse::<PostId>(), Err(NotAnId), "{other}");
            let json = serde_json::to_string(&other).unwrap();
            assert!(serde_json::from_str::<PostId>(&json).is_err(), "{other}");
        }
        let json = serde_json::to_string(id).unwrap();
        assert_eq!(
            serde_json::from_str::<PostId>(&json).unwrap().to_string(),
            id
        );
    }
}
