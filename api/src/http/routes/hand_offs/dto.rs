//! What the hand-off endpoints read: the query of the list, and the details of a move.

use relais_domain::hand_off::HandOffAction;
use relais_domain::ids::SituationId;
use relais_domain::reference::{DeclineReason, HandOffStatus};
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

/// Optional details of a move.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// Why the partner declines (required to decline).
    #[serde(default)]
    pub reason: Option<DeclineReason>,
    /// What was done for the person (required to complete).
    #[serde(default)]
    #[schema(
        example = "Ouverture des droits RSA et orientation vers l'épicerie solidaire.",
        max_length = 2000
    )]
    pub outcome: Option<String>,
    /// A free comment for the history.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

impl MoveInput {
    /// The move's details, checked against what `action` needs (the domain's rule).
    pub fn checked(self, action: HandOffAction) -> Result<Move, Invalid> {
        relais_domain::hand_off::check_move(
            action,
            self.reason,
            self.outcome.as_deref(),
            self.comment.as_deref(),
        )?;
        Ok(Move {
            reason: self.reason,
            outcome: self.outcome,
            comment: self.comment,
        })
    }
}
