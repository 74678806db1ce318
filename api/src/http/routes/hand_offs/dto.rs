//! What the hand-off endpoints read: the query of the list, and the details of a move.

use relais_domain::hand_off::HandOffAction;
use relais_domain::ids::SituationId;
use relais_domain::reference::{DeclineReason, HandOffResult, HandOffStatus};
use relais_domain::validation::Invalid;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::http::routes::common::cursor_is_id;
use crate::workflows::hand_offs::Move;

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HandOffListParams {
    pub status: Option<HandOffStatus>,
    /// Only this situation's hand-offs (post staff).
    pub situation_id: Option<SituationId>,
    /// Most hand-offs to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// Which page of a situation's hand-offs.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SituationHandOffParams {
    pub status: Option<HandOffStatus>,
    /// Most hand-offs to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// The body of `send`, `cancel`, `acknowledge` and `accept`: a comment for the history, if any.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Vu avec Mme M. ce jour."}))]
pub struct MoveNote {
    /// A free comment for the history.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The body of `decline`: why, from the decline reasons of `/api/v1/reference`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "no_capacity", "comment": "Plus de place avant janvier."}))]
pub struct DeclineInput {
    /// Why the partner declines. Required: without it the move is a 422 naming `reason`.
    #[serde(default)]
    #[schema(required = true, value_type = DeclineReason)]
    pub reason: Option<DeclineReason>,
    /// A free comment for the history.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The body of `complete`: what was done for the person.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "result": "supported",
    "outcome": "Ouverture des droits RSA et orientation vers l'épicerie solidaire."
}))]
pub struct CompleteInput {
    /// What became of the person, from the hand-off results of `/api/v1/reference`: what the
    /// statistics count. Required: without it the move is a 422 naming `result`.
    #[serde(default)]
    #[schema(required = true, value_type = HandOffResult)]
    pub result: Option<HandOffResult>,
    /// What was done for the person. Required: without it the move is a 422 naming `outcome`.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 2000)]
    pub outcome: Option<String>,
    /// A free comment for the history.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The body of one move, read as its own type (so that a field of another move is refused as
/// unknown) and checked by the domain's rule for the move.
pub trait MoveBody: serde::de::DeserializeOwned + Serialize + Default + Send + 'static {
    fn details(self) -> MoveInput;
}

impl MoveBody for MoveNote {
    fn details(self) -> MoveInput {
        MoveInput {
            comment: self.comment,
            ..MoveInput::default()
        }
    }
}

impl MoveBody for DeclineInput {
    fn details(self) -> MoveInput {
        MoveInput {
            reason: self.reason,
            comment: self.comment,
            ..MoveInput::default()
        }
    }
}

impl MoveBody for CompleteInput {
    fn details(self) -> MoveInput {
        MoveInput {
            result: self.result,
            outcome: self.outcome,
            comment: self.comment,
            ..MoveInput::default()
        }
    }
}

/// The details of any move, as the domain's rule checks them.
#[derive(Debug, Default, Serialize)]
pub struct MoveInput {
    pub reason: Option<DeclineReason>,
    pub result: Option<HandOffResult>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
}
impl MoveInput {
    /// The move's details, checked against what `action` needs (the domain's rule).
    pub fn checked(self, action: HandOffAction) -> Result<Move, Invalid> {
        relais_domain::hand_off::check_move(
            action,
            self.reason,
            self.result,
            self.outcome.as_deref(),
            self.comment.as_deref(),
        )?;
        Ok(Move {
            reason: self.reason,
            result: self.result,
            outcome: self.outcome,
            comment: self.comment,
            withdrawn_because: None,
        })
    }
}
