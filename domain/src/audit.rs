//! The audit trail: who touched which record of personal data, when, and with what outcome.
//! An event never carries the record's content.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{AuditEventId, BeneficiaryId, PostId};
use crate::reference::{AuditOutcome, AuditedRecord, Role};

impl AuditOutcome {
    /// The outcome an HTTP status stands for.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=399 => AuditOutcome::Success,
            401 | 403 => AuditOutcome::Denied,
            404 => AuditOutcome::NotFound,
            400..=499 => AuditOutcome::Rejected,
            _ => AuditOutcome::Failed,
        }
    }
}

/// One audited access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// When the access happened (UTC).
    pub at: DateTime<Utc>,
    /// The `sub` of the caller's token.
    #[cfg_attr(feature = "openapi", schema(example = "a.durand"))]
    pub subject: String,
    pub role: Role,
    /// The operation, as named by the OpenAPI `operationId`.
    #[cfg_attr(feature = "openapi", schema(example = "get_situation"))]
    pub action: String,
    /// The kind of record addressed; absent for lists.
    pub record_type: Option<AuditedRecord>,
    /// The record addressed; absent for lists and failed creations.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b")
    )]
    pub record_id: Option<String>,
    /// The post the record belongs to, when known.
    pub post_id: Option<PostId>,
    /// The person the record is about, when known.
    pub beneficiary_id: Option<BeneficiaryId>,
    pub outcome: AuditOutcome,
    /// The HTTP status answered.
    #[cfg_attr(feature = "openapi", schema(example = 200))]
    pub status: u16,
}

/// Audit events are kept at least this long: the database refuses to delete younger ones.
pub const MIN_RETENTION_DAYS: u32 = 180;
/// CNIL's recommendation for access logs: one year.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(AuditOutcome::of_status(201), AuditOutcome::Success);
        assert_eq!(AuditOutcome::of_status(403), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(404), AuditOutcome::NotFound);
        assert_eq!(AuditOutcome::of_status(422), AuditOutcome::Rejected);
        assert_eq!(AuditOutcome::of_status(500), AuditOutcome::Failed);
    }
}
