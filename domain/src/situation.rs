//! A situation: one episode of one person at one post, from reception to closing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::beneficiary::Birth;
use crate::ids::{BeneficiaryId, PostId, SituationId};
use crate::post::RecordMeta;
use crate::reference::{
    ClosingReason, Origin, ProblemCategory, ReferringService, SituationStatus, Standing,
};
use crate::validation::{Invalid, Validation};

/// The most children a household may be recorded with; more is a typing error.
pub const MAX_CHILDREN: u8 = 30;

/// What a social worker records of a situation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SituationDetails {
    /// Day of the first contact.
    #[cfg_attr(feature = "openapi", schema(example = "2026-03-14"))]
    pub opened_on: NaiveDate,
    pub origin: Origin,
    /// Which outside service sent the person; required with origin `outside_service`, absent otherwise.
    pub referring_service: Option<ReferringService>,
    pub standing: Standing,
    /// Whether the situation is part of a penal matter (complaint, police report).
    pub penal: bool,
    /// Every problem category of the situation, without repetition.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, example = json!(["conjugal_violence", "housing"])))]
    pub problems: Vec<ProblemCategory>,
    /// The main problem; one of `problems`.
    pub principal_problem: ProblemCategory,
    /// Children living in the household, counted without identifying them.
    #[cfg_attr(feature = "openapi", schema(example = 2, maximum = 30))]
    pub children_in_household: Option<u8>,
}

impl SituationDetails {
    /// Checks the details against the day and what is known of the person's birth.
    pub fn validate(&self, today: NaiveDate, birth: Birth) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.require(
            self.opened_on <= today,
            "opened_on",
            "in_future",
            "must not be in the future",
        );
        v.require(
            birth.is_not_after(self.opened_on),
            "opened_on",
            "before_birth",
            "must not be before the person's birth",
        );
        match (self.origin, self.referring_service) {
            (Origin::OutsideService, None) => v.require(
                false,
                "referring_service",
                "required",
                "is required when the origin is outside_service",
            ),
            (origin, Some(_)) if origin != Origin::OutsideService => v.require(
                false,
                "referring_service",
                "not_applicable",
                "is only for the origin outside_service",
            ),
            _ => {}
        }
        v.require(
            !self.problems.is_empty(),
            "problems",
            "empty",
            "must name at least one problem",
        );
        let mut unique = self.problems.clone();
        unique.sort_unstable();
        unique.dedup();
        v.require(
            unique.len() == self.problems.len(),
            "problems",
            "duplicate",
            "must not repeat a problem",
        );
        v.require(
            self.problems.contains(&self.principal_problem),
            "principal_problem",
            "not_among_problems",
            "must be one of the problems",
        );
        if let Some(children) = self.children_in_household {
            v.require(
                children <= MAX_CHILDREN,
                "children_in_household",
                "out_of_range",
                format!("must be at most {MAX_CHILDREN}"),
            );
        }
        v.finish()
    }
}

/// Where a situation stands, with the reason when closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SituationState {
    pub status: SituationStatus,
    /// Set when, and only when, the status is `closed`.
    pub closing_reason: Option<ClosingReason>,
}

impl SituationState {
    pub const OPEN: Self = Self {
        status: SituationStatus::Open,
        closing_reason: None,
    };

    /// The state after moving to `status`, if the move is legal.
    ///
    /// `open → oriented → closed`, `open → closed`, and `closed → open` to reopen;
    /// a closed situation may also have its reason corrected.
    pub fn move_to(
        self,
        status: SituationStatus,
        reason: Option<ClosingReason>,
    ) -> Result<Self, Invalid> {
        use SituationStatus::{Closed, Open, Oriented};
        let legal = matches!(
            (self.status, status),
            (Open, Open)
                | (Open, Oriented)
                | (Open, Closed)
                | (Oriented, Oriented)
                | (Oriented, Closed)
                | (Closed, Closed)
                | (Closed, Open)
        );
        if !legal {
            return Err(Invalid::one(
                "status",
                "illegal_transition",
                format!("a situation cannot go from {} to {}", self.status, status),
            ));
        }
        match (status, reason) {
            (Closed, None) => Err(Invalid::one(
                "closing_reason",
                "required",
                "is required to close a situation",
            )),
            (Open | Oriented, Some(_)) => Err(Invalid::one(
                "closing_reason",
                "not_applicable",
                "is only for a closed situation",
            )),
            _ => Ok(Self {
                status,
                closing_reason: reason,
            }),
        }
    }
}

/// A stored situation. The social evaluation is kept apart and never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Situation {
    pub id: SituationId,
    pub post_id: PostId,
    pub beneficiary_id: BeneficiaryId,
    #[serde(flatten)]
    pub details: SituationDetails,
    #[serde(flatten)]
    pub state: SituationState,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// A partial change to a situation: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SituationPatch {
    #[cfg_attr(feature = "openapi", schema(example = "2026-03-14"))]
    pub opened_on: Option<NaiveDate>,
    /// Changing the origin clears `referring_service` unless it is given too.
    pub origin: Option<Origin>,
    pub referring_service: Option<ReferringService>,
    pub standing: Option<Standing>,
    pub penal: Option<bool>,
    pub problems: Option<Vec<ProblemCategory>>,
    pub principal_problem: Option<ProblemCategory>,
    pub children_in_household: Option<u8>,
    /// `oriented`, `closed` (with `closing_reason`) or `open` to reopen.
    #[cfg_attr(feature = "openapi", schema(example = "closed"))]
    pub status: Option<SituationStatus>,
    #[cfg_attr(feature = "openapi", schema(example = "needs_met"))]
    pub closing_reason: Option<ClosingReason>,
}

impl Situation {
    /// The situation with `patch` applied, if the result is valid and the status move legal.
    pub fn patched(
        &self,
        patch: &SituationPatch,
        today: NaiveDate,
        birth: Birth,
    ) -> Result<Self, Invalid> {
        let mut next = self.clone();
        let d = &mut next.details;
        if let Some(origin) = patch.origin {
            d.origin = origin;
            d.referring_service = None;
        }
        if patch.referring_service.is_some() {
            d.referring_service = patch.referring_service;
        }
        d.opened_on = patch.opened_on.unwrap_or(d.opened_on);
        d.standing = patch.standing.unwrap_or(d.standing);
        d.penal = patch.penal.unwrap_or(d.penal);
        if let Some(problems) = &patch.problems {
            d.problems.clone_from(problems);
        }
        d.principal_problem = patch.principal_problem.unwrap_or(d.principal_problem);
        if patch.children_in_household.is_some() {
            d.children_in_household = patch.children_in_household;
        }
        let details_fault = d.validate(today, birth);
        let status = patch.status.unwrap_or(self.state.status);
        // A closed situation keeps its reason unless the patch reopens it or names another.
        let reason = patch.closing_reason.or(if status == self.state.status {
            self.state.closing_reason
        } else {
            None
        });
        let mut v = Validation::new();
        match self.state.move_to(status, reason) {
            Ok(state) => next.state = state,
            Err(fault) => v.absorb(Err(fault)),
        }
        v.absorb(details_fault);
        v.finish().map(|()| next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::RecordMeta;
    use chrono::DateTime;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        day(2026, 3, 20)
    }

    fn details() -> SituationDetails {
        SituationDetails {
            opened_on: day(2026, 3, 14),
            origin: Origin::Police,
            referring_service: None,
            standing: Standing::Victim,
            penal: true,
            problems: vec![ProblemCategory::ConjugalViolence, ProblemCategory::Housing],
            principal_problem: ProblemCategory::ConjugalViolence,
            children_in_household: Some(2),
        }
    }

    fn situation() -> Situation {
        Situation {
            id: SituationId::generate(),
            post_id: PostId::generate(),
            beneficiary_id: BeneficiaryId::generate(),
            details: details(),
            state: SituationState::OPEN,
            meta: RecordMeta {
                created_at: DateTime::from_timestamp(1_773_484_927, 0).unwrap(),
                updated_at: DateTime::from_timestamp(1_773_484_927, 0).unwrap(),
                version: 1,
            },
        }
    }

    fn faults(result: Result<(), Invalid>) -> Vec<String> {
        result
            .err()
            .map(|Invalid(e)| e.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_issue_example_is_valid() {
        assert!(faults(details().validate(today(), Birth::default())).is_empty());
    }

    #[test]
    fn dates_must_not_be_in_the_future_nor_before_birth() {
        let future = SituationDetails {
            opened_on: day(2026, 3, 21),
            ..details()
        };
        assert_eq!(
            faults(future.validate(today(), Birth::default())),
            ["opened_on"]
        );
        let born_later = Birth {
            date: Some(day(2026, 3, 15)),
            year: Some(2026),
        };
        assert_eq!(
            faults(details().validate(today(), born_later)),
            ["opened_on"]
        );
    }

    #[test]
    fn the_principal_problem_must_be_among_the_problems() {
        let d = SituationDetails {
            principal_problem: ProblemCategory::Addiction,
            ..details()
        };
        assert_eq!(
            faults(d.validate(today(), Birth::default())),
            ["principal_problem"]
        );
        let none = SituationDetails {
            problems: vec![],
            ..details()
        };
        assert_eq!(
            faults(none.validate(today(), Birth::default())),
            ["problems", "principal_problem"]
        );
        let repeated = SituationDetails {
            problems: vec![
                ProblemCategory::ConjugalViolence,
                ProblemCategory::ConjugalViolence,
            ],
            ..details()
        };
        assert_eq!(
            faults(repeated.validate(today(), Birth::default())),
            ["problems"]
        );
    }

    #[test]
    fn a_referring_service_goes_with_the_outside_service_origin_only() {
        let missing = SituationDetails {
            origin: Origin::OutsideService,
            ..details()
        };
        assert_eq!(
            faults(missing.validate(today(), Birth::default())),
            ["referring_service"]
        );
        let stray = SituationDetails {
            referring_service: Some(ReferringService::Ccas),
            ..details()
        };
        assert_eq!(
            faults(stray.validate(today(), Birth::default())),
            ["referring_service"]
        );
    }

    #[test]
    fn status_moves_follow_the_life_of_a_situation() {
        use SituationStatus::*;
        let open = SituationState::OPEN;
        let oriented = open.move_to(Oriented, None).unwrap();
        let closed = oriented
            .move_to(Closed, Some(ClosingReason::HandedOff))
            .unwrap();
        assert_eq!(closed.closing_reason, Some(ClosingReason::HandedOff));
        assert!(oriented.move_to(Open, None).is_err());
        assert!(closed.move_to(Oriented, None).is_err());
        assert_eq!(closed.move_to(Open, None).unwrap(), SituationState::OPEN);
        assert_eq!(
            faults(open.move_to(Closed, None).map(drop)),
            ["closing_reason"]
        );
        assert_eq!(
            faults(open.move_to(Oriented, Some(ClosingReason::Other)).map(drop)),
            ["closing_reason"]
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let s = situation();
        let patch = SituationPatch {
            standing: Some(Standing::Both),
            ..Default::default()
        };
        let next = s.patched(&patch, today(), Birth::default()).unwrap();
        assert_eq!(next.details.standing, Standing::Both);
        assert_eq!(next.details.problems, s.details.problems);
    }

    #[test]
    fn a_patch_closes_with_a_reason_and_keeps_it() {
        let s = situation();
        let close = SituationPatch {
            status: Some(SituationStatus::Closed),
            closing_reason: Some(ClosingReason::NeedsMet),
            ..Default::default()
        };
        let closed = s.patched(&close, today(), Birth::default()).unwrap();
        let touched = closed
            .patched(
                &SituationPatch {
                    penal: Some(false),
                    ..Default::default()
                },
                today(),
                Birth::default(),
            )
            .unwrap();
        assert_eq!(touched.state.closing_reason, Some(ClosingReason::NeedsMet));
    }

    #[test]
    fn a_patch_reports_all_its_faults() {
        let patch = SituationPatch {
            principal_problem: Some(ProblemCategory::Radicalisation),
            status: Some(SituationStatus::Closed),
            ..Default::default()
        };
        let fields = faults(
            situation()
                .patched(&patch, today(), Birth::default())
                .map(drop),
        );
        assert_eq!(fields, ["closing_reason", "principal_problem"]);
    }

    #[test]
    fn changing_the_origin_clears_the_referring_service() {
        let mut s = situation();
        s.details.origin = Origin::OutsideService;
        s.details.referring_service = Some(ReferringService::Hospital);
        let patch = SituationPatch {
            origin: Some(Origin::Spontaneous),
            ..Default::default()
        };
        let next = s.patched(&patch, today(), Birth::default()).unwrap();
        assert_eq!(next.details.referring_service, None);
    }
}
