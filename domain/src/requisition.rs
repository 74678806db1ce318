//! Judicial requisitions (CPP 60-1 / 77-1-1): the only way a record leaves for the police.
//! A social worker records the requisition, a coordinator approves or rejects it, and only an
//! approved requisition produces the export.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BeneficiaryId, PostId, RequisitionId, UnitId};
use crate::post::RecordMeta;
use crate::reference::{LegalBasis, RequisitionStatus};
use crate::validation::{Invalid, Validation};

/// A requisition as received from the police.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RequisitionInput {
    /// The person whose record is requested.
    pub beneficiary_id: BeneficiaryId,
    pub legal_basis: LegalBasis,
    /// The procedure's number, as written on the requisition.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "PV 2026/001234", min_length = 1, max_length = 100)
    )]
    pub procedure_reference: String,
    /// Who signed it: the officer of judicial police and their service.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "OPJ Martin, commissariat de Privas",
            min_length = 1,
            max_length = 200
        )
    )]
    pub requesting_authority: String,
    /// The requesting unit, when it is in the directory.
    pub requesting_unit_id: Option<UnitId>,
    /// The day the requisition reached the post.
    #[cfg_attr(feature = "openapi", schema(example = "2026-11-20"))]
    pub received_on: NaiveDate,
}

impl RequisitionInput {
    pub fn validate(&self, today: NaiveDate) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("procedure_reference", &self.procedure_reference, 100);
        v.line("requesting_authority", &self.requesting_authority, 200);
        v.require(
            self.received_on <= today,
            "received_on",
            "in_future",
            "cannot be in the future",
        );
        v.finish()
    }
}

/// A coordinator's decision on a requisition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RequisitionDecision {
    /// Why; required to reject.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "La réquisition ne vise pas une personne suivie par le poste.",
            max_length = 1000
        )
    )]
    pub note: Option<String>,
}

impl RequisitionDecision {
    pub fn validate(&self, rejecting: bool) -> Result<(), Invalid> {
        let mut v = Validation::new();
        match &self.note {
            Some(note) => v.text("note", note, 1000),
            None => v.require(
                !rejecting,
                "note",
                "required",
                "say why the requisition is rejected",
            ),
        }
        v.finish()
    }
}

/// A stored requisition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Requisition {
    pub id: RequisitionId,
    pub post_id: PostId,
    #[serde(flatten)]
    pub input: RequisitionInput,
    pub status: RequisitionStatus,
    /// The social worker who recorded it.
    #[cfg_attr(feature = "openapi", schema(example = "a.durand"))]
    pub recorded_by: String,
    /// The coordinator who approved or rejected it.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    /// Who produced the export, and when (the last time).
    pub produced_by: Option<String>,
    pub produced_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// A step of the requisition workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequisitionStep {
    Approve,
    Reject,
    Produce,
}

impl RequisitionStep {
    /// The status after the step, or `None` when the step is not allowed from `from`.
    pub fn apply(self, from: RequisitionStatus) -> Option<RequisitionStatus> {
        use RequisitionStatus::*;
        match (self, from) {
            (Self::Approve, Recorded) => Some(Approved),
            (Self::Reject, Recorded) => Some(Rejected),
            (Self::Produce, Approved | Produced) => Some(Produced),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequisitionStatus::*;

    #[test]
    fn only_an_approved_requisition_produces_an_export() {
        assert_eq!(RequisitionStep::Produce.apply(Recorded), None);
        assert_eq!(RequisitionStep::Produce.apply(Rejected), None);
        assert_eq!(RequisitionStep::Produce.apply(Approved), Some(Produced));
        assert_eq!(RequisitionStep::Produce.apply(Produced), Some(Produced));
    }

    #[test]
    fn a_decision_is_taken_once() {
        assert_eq!(RequisitionStep::Approve.apply(Recorded), Some(Approved));
        assert_eq!(RequisitionStep::Reject.apply(Recorded), Some(Rejected));
        for decided in [Approved, Rejected, Produced] {
            assert_eq!(RequisitionStep::Approve.apply(decided), None);
            assert_eq!(RequisitionStep::Reject.apply(decided), None);
        }
    }

    #[test]
    fn a_rejection_says_why() {
        assert!(RequisitionDecision { note: None }.validate(true).is_err());
        assert!(RequisitionDecision { note: None }.validate(false).is_ok());
    }
}
