//! Typed identifiers: a `PostId` can never be passed where a `SituationId` is expected.
//!
//! Identifiers are UUID v7, so their order is their creation order; lists page on them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid, example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

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
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
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
