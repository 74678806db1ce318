//! The events of the feed and the webhook outbox, built here and nowhere else: a workflow says
//! what happened, and these constructors decide the type, the audiences and the data.
//!
//! Events carry ids and statuses only, never personal data (see `relais_persistence::events`).

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::event::{
    HandOffEventData, HandOffReminderData, LegalExceptionUsedData, PersonalDataWithdrawnData,
    ReferralEventData,
};
use relais_domain::hand_off::HandOff;
use relais_domain::reference::{EventType, HandOffStatus, ReminderKind, WithdrawalReason};
use relais_domain::referral::Referral;
use relais_persistence::events::NewEvent;
use serde::Serialize;

fn data_of(data: &impl Serialize) -> String {
    // Plain structs of ids and codes: serialising them cannot fail.
    serde_json::to_string(data).unwrap_or_default()
}

/// An event about a hand-off, for its post and, once sent, its partner.
fn about_hand_off(hand_off: &HandOff, kind: EventType, at: DateTime<Utc>) -> NewEvent<'static> {
    let partner = (hand_off.status != HandOffStatus::Draft).then_some(hand_off.partner_id);
    NewEvent {
        kind,
        occurred_at: at,
        post: Some(hand_off.post_id),
        partner,
        unit: None,
        record_type: kind.family().record_type(),
        record_id: hand_off.id.to_string(),
        data: data_of(&HandOffEventData {
            hand_off_id: hand_off.id,
            status: hand_off.status,
            result: hand_off
                .result
                .filter(|_| hand_off.status == HandOffStatus::Completed),
        }),
    }
}

/// The hand-off is now at its status (created as a draft, sent, accepted…).
pub fn hand_off_moved(hand_off: &HandOff, at: DateTime<Utc>) -> NewEvent<'static> {
    about_hand_off(hand_off, EventType::hand_off_reached(hand_off.status), at)
}

/// The follow-up reminds the partner (and tells the post) that the hand-off waits on it.
pub fn reminded(
    hand_off: &HandOff,
    reminder: ReminderKind,
    waiting_since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> NewEvent<'static> {
    let kind = EventType::HandOffReminded;
    NewEvent {
        data: data_of(&HandOffReminderData {
            hand_off_id: hand_off.id,
            status: hand_off.status,
            reminder,
            waiting_since,
        }),
        ..about_hand_off(hand_off, kind, at)
    }
}

/// The partner lost the right to the person's data, and why: it erases its copy. To the
/// partner only.
pub fn personal_data_withdrawn(
    hand_off: &HandOff,
    reason: WithdrawalReason,
    at: DateTime<Utc>,
) -> NewEvent<'static> {
    let kind = EventType::HandOffPersonalDataWithdrawn;
    NewEvent {
        post: None,
        data: data_of(&PersonalDataWithdrawnData {
            hand_off_id: hand_off.id,
            reason,
        }),
        ..about_hand_off(hand_off, kind, at)
    }
}

/// The person withdrew their consent: the partner reads nothing of them any more.
pub fn consent_withdrawn(hand_off: &HandOff, at: DateTime<Utc>) -> NewEvent<'static> {
    about_hand_off(hand_off, EventType::HandOffConsentWithdrawn, at)
}

/// A hand-off went without consent, on the legal exception: a record of its own in the post's
/// feed, naming who used the exception, for the coordinator's review. `None` without exception.
pub fn legal_exception_used(
    hand_off: &HandOff,
    by: &Principal,
    at: DateTime<Utc>,
) -> Option<NewEvent<'static>> {
    let exception = hand_off.legal_exception?;
    let kind = EventType::HandOffLegalExceptionUsed;
    Some(NewEvent {
        kind,
        occurred_at: at,
        post: Some(hand_off.post_id),
        partner: None,
        unit: None,
        record_type: kind.family().record_type(),
        record_id: hand_off.id.to_string(),
        data: data_of(&LegalExceptionUsedData {
            hand_off_id: hand_off.id,
            legal_exception: exception,
            by: by.subject.clone(),
            by_role: by.role,
        }),
    })
}

/// The referral is now at its status, for its post and its sender.
pub fn referral_moved(referral: &Referral, at: DateTime<Utc>) -> NewEvent<'static> {
    let kind = EventType::referral_reached(referral.status);
    NewEvent {
        kind,
        occurred_at: at,
        post: Some(referral.post_id),
        partner: referral.sender.partner_id,
        unit: referral.sender.unit_id,
        record_type: kind.family().record_type(),
        record_id: referral.id.to_string(),
        data: data_of(&ReferralEventData {
            referral_id: referral.id,
            status: referral.status,
        }),
    }
}
