//! Interventions (dated acts within a situation) and the confidential social evaluation.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{InterventionId, SituationId};
use crate::post::RecordMeta;
use crate::reference::{InterventionKind, InterventionMode};
use crate::validation::{Invalid, Validation};

/// The longest intervention recorded in one piece: a whole working day.
pub const MAX_DURATION_MINUTES: u16 = 720;
/// The longest evaluation text accepted, in characters.
pub const MAX_EVALUATION_CHARS: usize = 20_000;

/// What is recorded of an intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InterventionInput {
    #[cfg_attr(feature = "openapi", schema(example = "2026-03-14"))]
    pub occurred_on: NaiveDate,
    pub mode: InterventionMode,
    pub kind: InterventionKind,
    /// Duration in minutes.
    #[cfg_attr(feature = "openapi", schema(example = 45, minimum = 1, maximum = 720))]
    pub duration_minutes: u16,
}

impl InterventionInput {
    /// Checks the intervention against the day and the situation's opening day.
    pub fn validate(
        &self,
        today: NaiveDate,
        situation_opened_on: NaiveDate,
    ) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.require(
            self.occurred_on <= today,
            "occurred_on",
            "in_future",
            "must not be in the future",
        );
        v.require(
            self.occurred_on >= situation_opened_on,
            "occurred_on",
            "before_situation",
            format!("must not be before the situation opened ({situation_opened_on})"),
        );
        v.require(
            (1..=MAX_DURATION_MINUTES).contains(&self.duration_minutes),
            "duration_minutes",
            "out_of_range",
            format!("must be between 1 and {MAX_DURATION_MINUTES}"),
        );
        v.finish()
    }
}

/// A stored intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Intervention {
    pub id: InterventionId,
    pub situation_id: SituationId,
    #[serde(flatten)]
    pub details: InterventionInput,
    /// Subject of the token that recorded it.
    #[cfg_attr(feature = "openapi", schema(example = "iscg.privas.1"))]
    pub recorded_by: String,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// The confidential social evaluation of a situation, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvaluationInput {
    /// Free text, read only by the post's social workers and its coordinators.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Mme M. décrit des violences répétées depuis deux ans ; deux enfants au domicile. Souhaite une mise à l'abri.",
            max_length = 20000
        )
    )]
    pub text: String,
}

impl EvaluationInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.text("text", &self.text, MAX_EVALUATION_CHARS);
        v.finish()
    }
}

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    pub situation_id: SituationId,
    pub text: String,
    /// Subject of the token that last wrote it.
    #[cfg_attr(feature = "openapi", schema(example = "iscg.privas.1"))]
    pub written_by: String,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn input(on: NaiveDate, minutes: u16) -> InterventionInput {
        InterventionInput {
            occurred_on: on,
            mode: InterventionMode::Phone,
            kind: InterventionKind::ListeningAndEvaluation,
            duration_minutes: minutes,
        }
    }

    fn fields(r: Result<(), Invalid>) -> Vec<String> {
        r.err()
            .map(|Invalid(e)| e.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_intervention_lies_between_the_opening_and_today() {
        assert!(fields(input(day(14), 45).validate(day(20), day(14))).is_empty());
        assert_eq!(
            fields(input(day(13), 45).validate(day(20), day(14))),
            ["occurred_on"]
        );
        assert_eq!(
            fields(input(day(21), 45).validate(day(20), day(14))),
            ["occurred_on"]
        );
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(
            fields(input(day(14), 0).validate(day(20), day(14))),
            ["duration_minutes"]
        );
        assert_eq!(
            fields(input(day(14), 721).validate(day(20), day(14))),
            ["duration_minutes"]
        );
        assert!(fields(input(day(14), 720).validate(day(20), day(14))).is_empty());
    }

    #[test]
    fn an_evaluation_is_not_blank_and_bounded() {
        assert!(EvaluationInput { text: " ".into() }.validate().is_err());
        assert!(
            EvaluationInput {
                text: "é".repeat(MAX_EVALUATION_CHARS)
            }
            .validate()
            .is_ok()
        );
        assert!(
            EvaluationInput {
                text: "a".repeat(MAX_EVALUATION_CHARS + 1)
            }
            .validate()
            .is_err()
        );
    }
}
