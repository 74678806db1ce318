//! Hand-offs (*passage de relais*): the life of a situation handed to a partner, and the
//! consent that decides whether it may go and what the partner may read.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::beneficiary::Beneficiary;
use crate::ids::{HandOffId, PartnerId, PostId, SituationId};
use crate::post::RecordMeta;
use crate::reference::{
    ConsentForm, DeclineReason, HandOffResult, HandOffStatus, LegalException, PartnerKind,
    ProblemCategory, Role, Sex, SharedData, WithdrawalReason,
};
use crate::validation::{Invalid, Validation};

/// The longest message a social worker may address to a partner.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// The longest outcome or comment text.
pub const MAX_OUTCOME_CHARS: usize = 2_000;

/// What can be done to a hand-off, and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HandOffAction {
    /// The social worker sends the draft to the partner.
    Send,
    /// The partner's system acknowledges receipt.
    Acknowledge,
    Accept,
    Decline,
    /// The partner reports the outcome of an accepted hand-off.
    Complete,
    /// The social worker cancels, or the person withdraws consent.
    Cancel,
    /// The follow-up job: no answer within the deadline.
    Expire,
}

/// Which side of a hand-off acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Post,
    Partner,
    /// Relais itself (its follow-up job, as `system:follow-up`).
    Relais,
}

impl HandOffAction {
    pub fn side(self) -> Side {
        match self {
            HandOffAction::Send | HandOffAction::Cancel => Side::Post,
            HandOffAction::Expire => Side::Relais,
            _ => Side::Partner,
        }
    }

    fn name(self) -> &'static str {
        match self {
            HandOffAction::Send => "send",
            HandOffAction::Acknowledge => "acknowledge",
            HandOffAction::Accept => "accept",
            HandOffAction::Decline => "decline",
            HandOffAction::Complete => "complete",
            HandOffAction::Cancel => "cancel",
            HandOffAction::Expire => "expire",
        }
    }

    const ALL: [HandOffAction; 7] = [
        HandOffAction::Send,
        HandOffAction::Acknowledge,
        HandOffAction::Accept,
        HandOffAction::Decline,
        HandOffAction::Complete,
        HandOffAction::Cancel,
        HandOffAction::Expire,
    ];
}

impl fmt::Display for HandOffAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A move the state machine refuses, naming the state and what it allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hand-off in state `{from}` cannot {action}; from `{from}` it can only {}", allowed_list(*.from))]
pub struct IllegalTransition {
    pub from: HandOffStatus,
    pub action: HandOffAction,
}

fn allowed_list(from: HandOffStatus) -> String {
    // The moves people make; the follow-up's expiry is not theirs to ask for.
    let allowed: Vec<&str> = HandOffAction::ALL
        .iter()
        .filter(|a| a.side() != Side::Relais && next_status(from, **a).is_some())
        .map(|a| a.name())
        .collect();
    if allowed.is_empty() {
        "stay as it is (final state)".to_owned()
    } else {
        allowed.join(" or ")
    }
}

/// `draft → sent → received → accepted | declined`, `accepted → completed`,
/// `cancelled` from any state before an outcome, and `expired` (the follow-up job) from a sent
/// or received hand-off left unanswered.
fn next_status(from: HandOffStatus, action: HandOffAction) -> Option<HandOffStatus> {
    use HandOffStatus::*;
    match (from, action) {
        (Draft, HandOffAction::Send) => Some(Sent),
        (Sent, HandOffAction::Acknowledge) => Some(Received),
        (Received, HandOffAction::Accept) => Some(Accepted),
        (Received, HandOffAction::Decline) => Some(Declined),
        (Accepted, HandOffAction::Complete) => Some(Completed),
        (Draft | Sent | Received | Accepted, HandOffAction::Cancel) => Some(Cancelled),
        (Sent | Received, HandOffAction::Expire) => Some(Expired),
        _ => None,
    }
}

/// The status after `action`, if the move is legal.
pub fn transition(
    from: HandOffStatus,
    action: HandOffAction,
) -> Result<HandOffStatus, IllegalTransition> {
    next_status(from, action).ok_or(IllegalTransition { from, action })
}

/// Whether the hand-off has reached an end.
pub fn is_final(status: HandOffStatus) -> bool {
    matches!(
        status,
        HandOffStatus::Declined
            | HandOffStatus::Completed
            | HandOffStatus::Cancelled
            | HandOffStatus::Expired
    )
}

/// The person's answer when asked whether their situation may be handed to the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// Whether the person agreed; a refusal is recorded too.
    pub given: bool,
    pub form: ConsentForm,
    /// When the person answered (default: now).
    #[serde(default)]
    pub answered_at: Option<DateTime<Utc>>,
    /// What the partner may read; empty for a refusal.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!(["identity", "contact", "problems"])))]
    pub shared_data: Vec<SharedData>,
}

impl ConsentInput {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), Invalid> {
        let mut v = Validation::new();
        if let Some(at) = self.answered_at {
            v.require(
                at <= now,
                "answered_at",
                "in_future",
                "must not be in the future",
            );
        }
        if self.given {
            v.require(
                !self.shared_data.is_empty(),
                "shared_data",
                "empty",
                "name at least one kind of data the person agreed to share",
            );
        } else {
            v.require(
                self.shared_data.is_empty(),
                "shared_data",
                "not_applicable",
                "a refusal shares nothing",
            );
        }
        let mut unique = self.shared_data.clone();
        unique.sort_unstable();
        unique.dedup();
        v.require(
            unique.len() == self.shared_data.len(),
            "shared_data",
            "duplicate",
            "must not repeat an item",
        );
        v.finish()
    }
}

/// What decides whether a hand-off may be sent.
#[derive(Debug, Clone, Copy)]
pub struct SendCheck<'a> {
    pub partner_kind: PartnerKind,
    pub legal_exception: Option<LegalException>,
    /// `Some(shared)` when consent is given and not withdrawn.
    pub consent: Option<&'a [SharedData]>,
    /// Whether the CASF L226-2-2 record is there (for the legal exception).
    pub parental_authority_recorded: bool,
}

impl SendCheck<'_> {
    /// A hand-off goes with consent given, or on the explicit legal exception of an
    /// information préoccupante to the child-protection unit.
    pub fn check(self) -> Result<(), Invalid> {
        match self.legal_exception {
            Some(LegalException::InformationPreoccupante)
                if self.partner_kind != PartnerKind::ChildProtection =>
            {
                Err(Invalid::one(
                    "legal_exception",
                    "wrong_partner",
                    "an information préoccupante goes to the child-protection unit (partner kind child_protection) only",
                ))
            }
            Some(_) if !self.parental_authority_recorded => Err(Invalid::one(
                "parental_authority",
                "required",
                "CASF L226-2-2: record whether the holders of parental authority were informed beforehand (informed_on) or why not (not_informed_because), then send",
            )),
            Some(_) => Ok(()),
            None if self.consent.is_some() => Ok(()),
            None => Err(Invalid::one(
                "consent",
                "required",
                "record the person's consent (given) before sending, or use the legal exception for a child in danger",
            )),
        }
    }
}

/// Whether the partner may read `item` under the consent (or the legal exception, which
/// shares what the child-protection unit needs: everything recorded for the hand-off).
pub fn partner_may_read(
    item: SharedData,
    consent: Option<&[SharedData]>,
    legal_exception: Option<LegalException>,
) -> bool {
    legal_exception.is_some() || consent.is_some_and(|shared| shared.contains(&item))
}

/// What a move needs besides the status: a reason to decline (and only then), a coded result and
/// an outcome to complete (and only then); a comment is always allowed. Texts within their length.
pub fn check_move(
    action: HandOffAction,
    reason: Option<DeclineReason>,
    result: Option<HandOffResult>,
    outcome: Option<&str>,
    comment: Option<&str>,
) -> Result<(), Invalid> {
    let mut v = Validation::new();
    let needs_reason = action == HandOffAction::Decline;
    let completes = action == HandOffAction::Complete;
    only_for(
        &mut v,
        "reason",
        reason.is_some(),
        needs_reason,
        "declining",
    );
    only_for(&mut v, "result", result.is_some(), completes, "completing");
    match outcome {
        Some(outcome) if completes => v.text("outcome", outcome, MAX_OUTCOME_CHARS),
        _ => only_for(
            &mut v,
            "outcome",
            outcome.is_some(),
            completes,
            "completing",
        ),
    }
    if let Some(comment) = comment {
        v.text("comment", comment, MAX_OUTCOME_CHARS);
    }
    v.finish()
}

/// A detail `field` of a move: required when the move `needs` it, refused otherwise.
fn only_for(v: &mut Validation, field: &str, given: bool, needs: bool, move_name: &str) {
    match (given, needs) {
        (false, true) => v.require(
            false,
            field,
            "required",
            format!("is required for {move_name}"),
        ),
        (true, false) => v.require(
            false,
            field,
            "not_applicable",
            format!("is only for {move_name}"),
        ),
        _ => {}
    }
}

/// What a partner may read of a hand-off's person and content, decided once from the consent,
/// the legal exception and the hand-off's status: nothing once consent is withdrawn or the
/// hand-off is no longer live (cancelled, by any route, or declined); otherwise, under a consent
/// in force, the items it names, and under the legal exception everything recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartnerReading<'a> {
    closed: bool,
    shared: Option<&'a [SharedData]>,
    legal_exception: Option<LegalException>,
}

impl<'a> PartnerReading<'a> {
    pub fn of(
        consent: Option<&'a Consent>,
        legal_exception: Option<LegalException>,
        status: HandOffStatus,
    ) -> Self {
        Self {
            closed: consent.is_some_and(|c| c.withdrawn_at.is_some()) || !partner_holds(status),
            shared: consent.and_then(Consent::in_force),
            legal_exception,
        }
    }

    /// Whether the partner reads `item`.
    pub fn may_read(&self, item: SharedData) -> bool {
        !self.closed && partner_may_read(item, self.shared, self.legal_exception)
    }

    /// Whether the partner reads anything of the person (so whether the person is loaded).
    pub fn reads_person(&self) -> bool {
        !self.closed && (self.shared.is_some() || self.legal_exception.is_some())
    }

    /// The person as the partner may see them, `None` when it sees nothing of them.
    pub fn person(&self, person: Option<&Beneficiary>) -> Option<SharedPerson> {
        let who = &person.filter(|_| self.reads_person())?.identity;
        let may = |item| self.may_read(item);
        Some(SharedPerson {
            first_name: who.first_name.clone().filter(|_| may(SharedData::Identity)),
            last_name: who.last_name.clone().filter(|_| may(SharedData::Identity)),
            sex: may(SharedData::Identity).then_some(who.sex),
            phone: who.phone.clone().filter(|_| may(SharedData::Contact)),
            birth_date: who.birth_date.filter(|_| may(SharedData::Birth)),
            birth_year: who.birth_year.filter(|_| may(SharedData::Birth)),
            commune_code: who
                .commune_code
                .clone()
                .filter(|_| may(SharedData::Commune)),
        })
    }
}

/// Whether a hand-off at `status` is one its partner works on, and so may read the person of: a
/// cancelled, declined or expired hand-off leaves the partner its status, its codes and its own outcome.
pub fn partner_holds(status: HandOffStatus) -> bool {
    !matches!(
        status,
        HandOffStatus::Cancelled | HandOffStatus::Declined | HandOffStatus::Expired
    )
}

/// Why a move takes the person's data from the partner, if it does: from a status at which the
/// partner held it (sent and after) to one at which it holds none (cancelled, declined, expired).
pub fn withdraws_data(
    from: HandOffStatus,
    to: HandOffStatus,
    action: HandOffAction,
) -> Option<WithdrawalReason> {
    if from == HandOffStatus::Draft || !partner_holds(from) || partner_holds(to) {
        return None;
    }
    match action {
        HandOffAction::Cancel => Some(WithdrawalReason::Cancelled),
        HandOffAction::Decline => Some(WithdrawalReason::Declined),
        HandOffAction::Expire => Some(WithdrawalReason::Expired),
        _ => None,
    }
}

/// The person as a partner may see them: only the consented items are present.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedPerson {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "Camille"))]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "Martin"))]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "06 12 34 56 78"))]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "1987-05-02"))]
    pub birth_date: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = 1987))]
    pub birth_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "07010"))]
    pub commune_code: Option<String>,
}

/// Checks the text a social worker addresses to the partner.
pub fn validate_message(message: Option<&str>) -> Result<(), Invalid> {
    let mut v = Validation::new();
    if let Some(message) = message {
        v.text("message", message, MAX_MESSAGE_CHARS);
    }
    v.finish()
}

/// CASF L226-2-2: whether the holders of parental authority were told of an information
/// préoccupante before it went, and when — or why not (informing them is contrary to the
/// child's interest). One of the two, recorded before the hand-off is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"informed_on": "2026-03-14"})))]
#[serde(deny_unknown_fields)]
pub struct ParentalAuthority {
    /// The day the holders of parental authority were informed.
    #[serde(default)]
    pub informed_on: Option<NaiveDate>,
    /// Why they were not informed: how it would be contrary to the child's interest.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Le parent est l'auteur présumé des violences.",
            max_length = 2000
        )
    )]
    pub not_informed_because: Option<String>,
}

impl ParentalAuthority {
    fn validate(&self, today: NaiveDate, v: &mut Validation) {
        match (&self.informed_on, &self.not_informed_because) {
            (Some(day), None) => v.require(
                *day <= today,
                "parental_authority.informed_on",
                "in_future",
                "must not be after today",
            ),
            (None, Some(why)) => v.text(
                "parental_authority.not_informed_because",
                why,
                MAX_MESSAGE_CHARS,
            ),
            _ => v.require(
                false,
                "parental_authority",
                "exactly_one",
                "give either informed_on or not_informed_because",
            ),
        }
    }
}

/// A hand-off as the social worker prepares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HandOffInput {
    /// The partner of the directory that should follow the person.
    pub partner_id: PartnerId,
    /// Why the person is handed over (problem categories).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, example = json!(["precarity"])))]
    pub reasons: Vec<ProblemCategory>,
    /// A note for the partner, shared only if the person consents to `message`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Besoin d'une aide alimentaire et d'un accompagnement vers l'emploi.",
            max_length = 2000
        )
    )]
    pub message: Option<String>,
    /// Set only for an information préoccupante to the child-protection unit, which goes without consent.
    #[serde(default)]
    pub legal_exception: Option<LegalException>,
    /// With the legal exception only (CASF L226-2-2): whether the holders of parental authority
    /// were informed beforehand, or why not. Required before sending.
    #[serde(default)]
    pub parental_authority: Option<ParentalAuthority>,
}

impl HandOffInput {
    pub fn validate(&self, today: NaiveDate) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.require(
            !self.reasons.is_empty(),
            "reasons",
            "empty",
            "name at least one reason",
        );
        let mut unique = self.reasons.clone();
        unique.sort_unstable();
        unique.dedup();
        v.require(
            unique.len() == self.reasons.len(),
            "reasons",
            "duplicate",
            "must not repeat a reason",
        );
        v.absorb(validate_message(self.message.as_deref()));
        if let Some(parental_authority) = &self.parental_authority {
            if self.legal_exception.is_some() {
                parental_authority.validate(today, &mut v);
            } else {
                v.require(
                    false,
                    "parental_authority",
                    "not_applicable",
                    "is recorded for an information préoccupante (legal_exception) only",
                );
            }
        }
        v.finish()
    }
}

/// A stored hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandOff {
    pub id: HandOffId,
    pub situation_id: SituationId,
    pub post_id: PostId,
    pub partner_id: PartnerId,
    pub status: HandOffStatus,
    pub reasons: Vec<ProblemCategory>,
    pub message: Option<String>,
    pub legal_exception: Option<LegalException>,
    /// With the legal exception: the CASF L226-2-2 record.
    pub parental_authority: Option<ParentalAuthority>,
    /// The partner's reason, once declined.
    pub decline_reason: Option<DeclineReason>,
    /// What became of the person, coded, once completed.
    pub result: Option<HandOffResult>,
    /// The partner's account of what was done, once completed.
    pub outcome: Option<String>,
    /// Subject of the token that created it.
    pub created_by: String,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// One recorded move of a hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    /// None for the creation.
    pub from: Option<HandOffStatus>,
    pub to: HandOffStatus,
    pub at: DateTime<Utc>,
    /// Subject of the token that made the move.
    pub by: String,
    pub by_role: Role,
    pub comment: Option<String>,
}

/// The person's recorded answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    pub given: bool,
    pub form: ConsentForm,
    pub answered_at: DateTime<Utc>,
    pub shared_data: Vec<SharedData>,
    pub recorded_by: String,
    /// When the person withdrew consent; the partner reads nothing after that.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<String>,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

impl Consent {
    /// What the partner may read now: the shared data of a consent given and not withdrawn.
    pub fn in_force(&self) -> Option<&[SharedData]> {
        (self.given && self.withdrawn_at.is_none()).then_some(self.shared_data.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HandOffStatus::*;

    #[test]
    fn the_life_of_a_hand_off() {
        let mut status = Draft;
        for action in [
            HandOffAction::Send,
            HandOffAction::Acknowledge,
            HandOffAction::Accept,
            HandOffAction::Complete,
        ] {
            status = transition(status, action).unwrap();
        }
        assert_eq!(status, Completed);
        assert!(is_final(status));
        assert_eq!(transition(Received, HandOffAction::Decline), Ok(Declined));
    }

    #[test]
    fn illegal_moves_name_the_state_and_what_it_allows() {
        let err = transition(Draft, HandOffAction::Accept).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a hand-off in state `draft` cannot accept; from `draft` it can only send or cancel"
        );
        assert!(transition(Sent, HandOffAction::Complete).is_err());
        assert!(transition(Completed, HandOffAction::Cancel).is_err());
        assert!(transition(Declined, HandOffAction::Cancel).is_err());
        assert!(
            transition(Cancelled, HandOffAction::Send)
                .unwrap_err()
                .to_string()
                .ends_with("final state)")
        );
        for from in [Draft, Sent, Received, Accepted] {
            assert_eq!(transition(from, HandOffAction::Cancel), Ok(Cancelled));
        }
    }

    #[test]
    fn each_action_belongs_to_one_side() {
        assert_eq!(HandOffAction::Send.side(), Side::Post);
        assert_eq!(HandOffAction::Cancel.side(), Side::Post);
        for action in [
            HandOffAction::Acknowledge,
            HandOffAction::Accept,
            HandOffAction::Decline,
            HandOffAction::Complete,
        ] {
            assert_eq!(action.side(), Side::Partner);
        }
    }

    #[test]
    fn no_hand_off_goes_without_consent_except_to_the_crip() {
        let shared = [SharedData::Identity];
        let with_consent = SendCheck {
            partner_kind: PartnerKind::Ccas,
            legal_exception: None,
            consent: Some(&shared),
            parental_authority_recorded: false,
        };
        assert!(with_consent.check().is_ok());
        let without = SendCheck {
            consent: None,
            ..with_consent
        };
        assert_eq!(without.check().unwrap_err().0[0].field, "consent");
        let crip = SendCheck {
            partner_kind: PartnerKind::ChildProtection,
            legal_exception: Some(LegalException::InformationPreoccupante),
            consent: None,
            parental_authority_recorded: true,
        };
        assert!(crip.check().is_ok());
        // CASF L226-2-2: not without the parents' record.
        let unrecorded = SendCheck {
            parental_authority_recorded: false,
            ..crip
        };
        assert_eq!(
            unrecorded.check().unwrap_err().0[0].field,
            "parental_authority"
        );
        let misused = SendCheck {
            partner_kind: PartnerKind::Ccas,
            ..crip
        };
        assert_eq!(misused.check().unwrap_err().0[0].field, "legal_exception");
    }

    #[test]
    fn partners_read_only_what_was_consented() {
        let shared = [SharedData::Contact];
        assert!(partner_may_read(SharedData::Contact, Some(&shared), None));
        assert!(!partner_may_read(SharedData::Identity, Some(&shared), None));
        assert!(!partner_may_read(SharedData::Contact, None, None));
        assert!(partner_may_read(
            SharedData::Identity,
            None,
            Some(LegalException::InformationPreoccupante)
        ));
    }

    #[test]
    fn consent_is_coherent() {
        let now = DateTime::from_timestamp(1_773_484_927, 0).unwrap();
        let given = ConsentInput {
            given: true,
            form: ConsentForm::Oral,
            answered_at: None,
            shared_data: vec![SharedData::Identity],
        };
        assert!(given.validate(now).is_ok());
        let empty = ConsentInput {
            shared_data: vec![],
            ..given.clone()
        };
        assert_eq!(empty.validate(now).unwrap_err().0[0].field, "shared_data");
        let refusal_sharing = ConsentInput {
            given: false,
            ..given.clone()
        };
        assert!(refusal_sharing.validate(now).is_err());
        let future = ConsentInput {
            answered_at: Some(now + chrono::Duration::hours(1)),
            ..given
        };
        assert_eq!(future.validate(now).unwrap_err().0[0].field, "answered_at");
    }

    #[test]
    fn a_move_carries_exactly_the_details_it_needs() {
        let fields = |action, reason, result, outcome: Option<&str>| match check_move(
            action, reason, result, outcome, None,
        ) {
            Ok(()) => vec![],
            Err(invalid) => invalid.0.into_iter().map(|e| (e.field, e.code)).collect(),
        };
        let pair = |f: &str, c: &str| (f.to_owned(), c.to_owned());
        let supported = Some(HandOffResult::Supported);
        assert_eq!(fields(HandOffAction::Accept, None, None, None), vec![]);
        assert_eq!(
            fields(HandOffAction::Decline, None, None, None),
            vec![pair("reason", "required")]
        );
        assert_eq!(
            fields(
                HandOffAction::Decline,
                Some(DeclineReason::OutOfScope),
                None,
                None
            ),
            vec![]
        );
        assert_eq!(
            fields(
                HandOffAction::Send,
                Some(DeclineReason::OutOfScope),
                supported,
                Some("x")
            ),
            vec![
                pair("reason", "not_applicable"),
                pair("result", "not_applicable"),
                pair("outcome", "not_applicable")
            ]
        );
        assert_eq!(
            fields(HandOffAction::Complete, None, None, None),
            vec![pair("result", "required"), pair("outcome", "required")]
        );
        assert_eq!(
            fields(HandOffAction::Complete, None, None, Some("Droits ouverts")),
            vec![pair("result", "required")]
        );
        assert_eq!(
            fields(
                HandOffAction::Complete,
                None,
                supported,
                Some("Droits ouverts")
            ),
            vec![]
        );
    }

    mod partner_reading {
        use super::*;
        use crate::beneficiary::BeneficiaryInput;
        use crate::ids::{BeneficiaryId, PostId};
        use crate::post::RecordMeta;

        fn at() -> DateTime<Utc> {
            DateTime::from_timestamp(1_773_484_927, 0).unwrap()
        }

        fn consent(given: bool, shared: &[SharedData], withdrawn: bool) -> Consent {
            Consent {
                given,
                form: ConsentForm::Oral,
                answered_at: at(),
                shared_data: shared.to_vec(),
                recorded_by: "sw".into(),
                withdrawn_at: withdrawn.then(at),
                withdrawn_by: withdrawn.then(|| "sw".into()),
                meta: RecordMeta {
                    created_at: at(),
                    updated_at: at(),
                    version: 1,
                },
            }
        }

        fn person() -> Beneficiary {
            Beneficiary {
                id: BeneficiaryId::generate(),
                post_id: PostId::generate(),
                identity: BeneficiaryInput {
                    first_name: Some("Camille".into()),
                    last_name: Some("Martin".into()),
                    phone: Some("06 12 34 56 78".into()),
                    birth_year: Some(1987),
                    commune_code: Some("07010".into()),
                    sex: Sex::Female,
                    ..BeneficiaryInput::default()
                },
                anonymised_at: None,
                meta: RecordMeta {
                    created_at: at(),
                    updated_at: at(),
                    version: 1,
                },
            }
        }

        #[test]
        fn a_consent_in_force_shows_exactly_its_items() {
            let given = consent(true, &[SharedData::Identity, SharedData::Problems], false);
            let reading = PartnerReading::of(Some(&given), None, HandOffStatus::Sent);
            assert!(reading.may_read(SharedData::Identity));
            assert!(reading.may_read(SharedData::Problems));
            assert!(!reading.may_read(SharedData::Contact));
            assert!(!reading.may_read(SharedData::Message));
            let shared = reading.person(Some(&person())).unwrap();
            assert_eq!(
                shared,
                SharedPerson {
                    first_name: Some("Camille".into()),
                    last_name: Some("Martin".into()),
                    sex: Some(Sex::Female),
                    ..SharedPerson::default()
                }
            );
        }

        #[test]
        fn a_withdrawn_or_refused_consent_shows_nothing() {
            let all = [SharedData::Identity, SharedData::Contact, SharedData::Birth];
            for answer in [consent(true, &all, true), consent(false, &all, false)] {
                let reading = PartnerReading::of(Some(&answer), None, HandOffStatus::Sent);
                assert!(!reading.reads_person());
                assert!(all.iter().all(|item| !reading.may_read(*item)));
                assert_eq!(reading.person(Some(&person())), None);
            }
            assert_eq!(
                PartnerReading::of(None, None, HandOffStatus::Sent).person(Some(&person())),
                None
            );
        }

        #[test]
        fn the_legal_exception_shows_everything_until_a_withdrawal() {
            let exception = Some(LegalException::InformationPreoccupante);
            let reading = PartnerReading::of(None, exception, HandOffStatus::Received);
            assert!(reading.may_read(SharedData::Contact) && reading.may_read(SharedData::Message));
            let shared = reading.person(Some(&person())).unwrap();
            assert_eq!(shared.phone.as_deref(), Some("06 12 34 56 78"));
            assert_eq!(shared.birth_year, Some(1987));
            let withdrawn = consent(true, &[SharedData::Identity], true);
            assert!(
                !PartnerReading::of(Some(&withdrawn), exception, HandOffStatus::Received)
                    .reads_person()
            );
        }

        #[test]
        fn a_cancelled_or_declined_hand_off_shows_nothing_of_the_person() {
            let given = consent(true, &[SharedData::Identity, SharedData::Message], false);
            for status in [HandOffStatus::Cancelled, HandOffStatus::Declined] {
                let reading = PartnerReading::of(Some(&given), None, status);
                assert!(!reading.reads_person() && !reading.may_read(SharedData::Message));
                assert_eq!(reading.person(Some(&person())), None);
            }
            let done = PartnerReading::of(Some(&given), None, HandOffStatus::Completed);
            assert!(done.reads_person());
        }
    }
}
