//! Hand-offs (*passage de relais*): the post creates a draft, records the person's consent and
//! sends it; the partner acknowledges, accepts or declines, and completes; the post cancels, or
//! the person withdraws consent. One function per use case, each with its history and events.

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::hand_off::{
    self, Consent, ConsentInput, HandOff, HandOffAction, HandOffInput, SendCheck, Side,
};
use relais_domain::ids::{HandOffId, SituationId};
use relais_domain::reference::{
    AuditedRecord, DeclineReason, HandOffResult, HandOffStatus, PartnerKind, ReminderKind, Role,
    SituationStatus, WithdrawalReason,
};
use relais_domain::validation::Invalid;
use relais_domain::version::Expected;
use relais_persistence::hand_offs::{self, Actor, MoveDetails};
use relais_persistence::{DbConnection, StoreError, events, follow_up, partners, situations};

use super::{
    Outcome, WorkflowError, acts_for_post, audit_job_act, events as event, expect_version,
    found_within, reads_post,
};

/// What a move may carry besides the status: a decline's reason, a completion's result and outcome, a
/// comment for the history. Which of them a move needs is the domain's rule
/// ([`hand_off::check_move`]).
#[derive(Debug, Clone, Default)]
pub struct Move {
    pub reason: Option<DeclineReason>,
    pub result: Option<HandOffResult>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    /// Why the partner loses the person's data, when the move's own reason is not the one to
    /// tell it (a cancellation that a consent withdrawal makes).
    pub withdrawn_because: Option<WithdrawalReason>,
}

/// The signature every move shares (`send`, `accept`…), so that a handler or a job can pick one.
pub type MoveWorkflow = fn(
    &mut DbConnection,
    &Principal,
    HandOffId,
    &Expected,
    &Move,
    DateTime<Utc>,
) -> Outcome<HandOff>;

fn actor(principal: &Principal) -> Actor<'_> {
    Actor {
        subject: &principal.subject,
        role: principal.role,
    }
}

/// The hand-off if `actor` may see it: staff of its post, its partner once sent, or a job.
/// `NotFound` otherwise, so that existence does not leak.
pub fn visible(conn: &mut DbConnection, actor: &Principal, id: HandOffId) -> Outcome<HandOff> {
    found_within(
        hand_offs::get(conn, id),
        "hand-off",
        |hand_off| match actor.role {
            Role::Partner => {
                actor.partner_id == Some(hand_off.partner_id)
                    && hand_off.status != HandOffStatus::Draft
            }
            _ => reads_post(actor, hand_off.post_id),
        },
    )
}

/// The hand-off if `actor` may act for its post (a social worker of the post, or a job).
pub fn writable(conn: &mut DbConnection, actor: &Principal, id: HandOffId) -> Outcome<HandOff> {
    let hand_off = visible(conn, actor, id)?;
    if acts_for_post(actor, hand_off.post_id) {
        Ok(hand_off)
    } else {
        Err(WorkflowError::Forbidden(
            "only the post's social workers act on its hand-offs".into(),
        ))
    }
}

/// `create_hand_off`: a draft of the situation for a partner of the directory, to be sent once
/// consent is recorded.
pub fn create(
    conn: &mut DbConnection,
    by: &Principal,
    situation: SituationId,
    input: &HandOffInput,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    input.validate(crate::clock::today(now))?;
    let situation = super::situations::writable(conn, by, situation)?;
    let partner = match partners::get(conn, input.partner_id) {
        Ok(partner) => partner,
        Err(StoreError::NotFound) => {
            return Err(Invalid::one(
                "partner_id",
                "unknown_partner",
                "no such partner in the directory",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if input.legal_exception.is_some() && partner.details.kind != PartnerKind::ChildProtection {
        return Err(Invalid::one(
            "legal_exception",
            "wrong_partner",
            "an information préoccupante goes to the child-protection unit (partner kind child_protection) only",
        )
        .into());
    }
    let hand_off = hand_offs::insert(conn, situation.id, situation.post_id, input, actor(by), now)?;
    events::append(conn, &event::hand_off_moved(&hand_off, now))?;
    Ok(hand_off)
}

/// `record_consent`: the person's answer (or refusal) and what the partner may read; before
/// sending only. Replacing a recorded answer needs its version.
pub fn record_consent(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: Option<&Expected>,
    input: &ConsentInput,
    now: DateTime<Utc>,
) -> Outcome<Consent> {
    input.validate(now)?;
    let hand_off = writable(conn, by, id)?;
    if hand_off.status != HandOffStatus::Draft {
        return Err(WorkflowError::Conflict(format!(
            "the hand-off is `{}`: consent is recorded before sending; use POST /api/v1/hand-offs/{id}/consent/withdraw to withdraw it",
            hand_off.status
        )));
    }
    match (hand_offs::consent(conn, id)?, expected) {
        (Some(_), None) => {
            return Err(WorkflowError::PreconditionRequired(
                "a consent is recorded: send If-Match with its ETag to replace it".into(),
            ));
        }
        (Some(current), Some(expected)) => expect_version(expected, current.meta.version)?,
        (None, _) => {}
    }
    let answered_at = input.answered_at.unwrap_or(now);
    Ok(hand_offs::record_consent(
        conn,
        id,
        input,
        &by.subject,
        answered_at,
        now,
    )?)
}

/// `withdraw_consent`: the partner's access stops at once, and a hand-off not yet completed is
/// cancelled (by the same move as [`cancel`]).
pub fn withdraw_consent(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    let hand_off = writable(conn, by, id)?;
    let in_force = hand_offs::consent(conn, id)?.is_some_and(|c| c.in_force().is_some());
    if !in_force {
        return Err(WorkflowError::Conflict(
            "there is no consent in force to withdraw".into(),
        ));
    }
    hand_offs::withdraw_consent(conn, id, &by.subject, now)?;
    events::append(conn, &event::consent_withdrawn(&hand_off, now))?;
    if hand_off::transition(hand_off.status, HandOffAction::Cancel).is_err() {
        // Completed (or already over): the withdrawal alone is recorded, and a partner that
        // still holds the person's data is told to erase it.
        if hand_off.status != HandOffStatus::Draft && hand_off::partner_holds(hand_off.status) {
            let withdrawn = WithdrawalReason::ConsentWithdrawn;
            events::append(
                conn,
                &event::personal_data_withdrawn(&hand_off, withdrawn, now),
            )?;
        }
        return Ok(hand_off);
    }
    let details = Move {
        comment: Some("consent withdrawn".into()),
        withdrawn_because: Some(WithdrawalReason::ConsentWithdrawn),
        ..Move::default()
    };
    let version = hand_off.meta.version;
    perform(
        conn,
        by,
        hand_off,
        HandOffAction::Cancel,
        &Expected::exactly(version),
        &details,
        now,
    )
}

/// `send_hand_off`: the draft goes to the partner, with consent given or on the legal
/// exception; the situation becomes `oriented`.
pub fn send(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(conn, by, id, HandOffAction::Send, expected, details, now)
}

/// `cancel_hand_off`: the post cancels a hand-off before its outcome.
pub fn cancel(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(conn, by, id, HandOffAction::Cancel, expected, details, now)
}

/// `acknowledge_hand_off`: the partner's system confirms receipt.
pub fn acknowledge(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(
        conn,
        by,
        id,
        HandOffAction::Acknowledge,
        expected,
        details,
        now,
    )
}

/// `accept_hand_off`: the partner takes the person on.
pub fn accept(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(conn, by, id, HandOffAction::Accept, expected, details, now)
}

/// `decline_hand_off`: the partner declines, with a coded reason.
pub fn decline(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(conn, by, id, HandOffAction::Decline, expected, details, now)
}

/// `complete_hand_off`: the partner reports the outcome of an accepted hand-off.
pub fn complete(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(
        conn,
        by,
        id,
        HandOffAction::Complete,
        expected,
        details,
        now,
    )
}

/// `expire_hand_off` (the follow-up job, as `system:follow-up`): a hand-off left unanswered
/// past its deadline closes as `expired`, with its history, its event and its audit event.
pub fn expire(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    move_hand_off(
        conn,
        by,
        id,
        HandOffAction::Expire,
        &Expected::Any,
        &Move::default(),
        now,
    )
}

/// `remind_hand_off` (the follow-up job): tells the partner that the hand-off waits on it for
/// `reminder`, once per hand-off and kind; `false` when it was already reminded (by another run
/// or replica), and then nothing is written.
pub fn remind(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    reminder: ReminderKind,
    waiting_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Outcome<bool> {
    if !by.is_system() {
        return Err(WorkflowError::Forbidden(
            "only Relais's follow-up sends reminders".into(),
        ));
    }
    let hand_off = visible(conn, by, id)?;
    if !follow_up::record_reminder(conn, id, reminder, now)? {
        return Ok(false);
    }
    events::append(
        conn,
        &event::reminded(&hand_off, reminder, waiting_since, now),
    )?;
    let record = (AuditedRecord::HandOff, id.to_string());
    audit_job_act(conn, by, "remind_hand_off", record, now)?;
    Ok(true)
}

/// A move asked of the hand-off `id`, by the side entitled to it.
fn move_hand_off(
    conn: &mut DbConnection,
    by: &Principal,
    id: HandOffId,
    action: HandOffAction,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    hand_off::check_move(
        action,
        details.reason,
        details.result,
        details.outcome.as_deref(),
        details.comment.as_deref(),
    )?;
    let hand_off = match action.side() {
        Side::Post => writable(conn, by, id)?,
        Side::Partner => visible(conn, by, id)?,
        Side::Relais if by.is_system() => visible(conn, by, id)?,
        Side::Relais => {
            return Err(WorkflowError::Forbidden(format!(
                "only Relais's follow-up may {action} a hand-off"
            )));
        }
    };
    perform(conn, by, hand_off, action, expected, details, now)
}

/// Performs `action` on `hand_off` through the domain's state machine, with its history, its
/// event and, for a send, the situation's orientation and the legal exception's record.
fn perform(
    conn: &mut DbConnection,
    by: &Principal,
    hand_off: HandOff,
    action: HandOffAction,
    expected: &Expected,
    details: &Move,
    now: DateTime<Utc>,
) -> Outcome<HandOff> {
    expect_version(expected, hand_off.meta.version)?;
    let next = hand_off::transition(hand_off.status, action)
        .map_err(|e| WorkflowError::Conflict(e.to_string()))?;
    if action == HandOffAction::Send {
        let partner = partners::get(conn, hand_off.partner_id)?;
        let consent = hand_offs::consent(conn, hand_off.id)?;
        SendCheck {
            partner_kind: partner.details.kind,
            legal_exception: hand_off.legal_exception,
            consent: consent.as_ref().and_then(Consent::in_force),
            parental_authority_recorded: hand_off.parental_authority.is_some(),
        }
        .check()?;
        orient_situation(conn, hand_off.situation_id, now)?;
    }
    let stored_details = MoveDetails {
        comment: details.comment.as_deref(),
        decline_reason: details.reason,
        result: details.result,
        outcome: details.outcome.as_deref(),
    };
    let moved = hand_offs::move_to(
        conn,
        &hand_off,
        next,
        hand_off.meta.version,
        actor(by),
        &stored_details,
        now,
    )?;
    events::append(conn, &event::hand_off_moved(&moved, now))?;
    if let Some(reason) = hand_off::withdraws_data(hand_off.status, moved.status, action)
        .map(|own| details.withdrawn_because.unwrap_or(own))
    {
        events::append(conn, &event::personal_data_withdrawn(&moved, reason, now))?;
    }
    let record = (AuditedRecord::HandOff, moved.id.to_string());
    audit_job_act(conn, by, operation_of(action), record, now)?;
    if action == HandOffAction::Send
        && let Some(used) = event::legal_exception_used(&moved, by, now)
    {
        events::append(conn, &used)?;
    }
    Ok(moved)
}

/// The operation a move is, as the access matrix and the audit trail name it.
pub fn operation_of(action: HandOffAction) -> &'static str {
    match action {
        HandOffAction::Send => "send_hand_off",
        HandOffAction::Cancel => "cancel_hand_off",
        HandOffAction::Acknowledge => "acknowledge_hand_off",
        HandOffAction::Accept => "accept_hand_off",
        HandOffAction::Decline => "decline_hand_off",
        HandOffAction::Complete => "complete_hand_off",
        HandOffAction::Expire => "expire_hand_off",
    }
}

/// A situation with a hand-off sent becomes `oriented`, if it was open.
fn orient_situation(conn: &mut DbConnection, id: SituationId, now: DateTime<Utc>) -> Outcome<()> {
    let situation = situations::get(conn, id)?;
    if situation.state.status != SituationStatus::Open {
        return Ok(());
    }
    let mut next = situation.clone();
    next.state = situation.state.move_to(SituationStatus::Oriented, None)?;
    situations::replace(conn, &next, situation.meta.version, now)?;
    Ok(())
}
