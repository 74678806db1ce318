//! The events of the feed and the webhook outbox, built here and nowhere else: a workflow says
//! what happened, and these constructors decide the type, the audiences and the data.
//!
//! Events carry ids and statuses only, never personal data (see `relais_persistence::events`).

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::hand_off::HandOff;
use relais_domain::reference::{HandOffStatus, ReferralStatus};
use relais_domain::referral::Referral;
use relais_persistence::events::NewEvent;
use serde_json::json;

/// The type of the event that says a hand-off reached `status`.
pub fn hand_off_status_kind(status: HandOffStatus) -> &'static str {
    match status {
        // A draft is "created"; no move leads back to it.
        HandOffStatus::Draft => "hand_off.created",
        HandOffStatus::Sent => "hand_off.sent",
        HandOffStatus::Received => "hand_off.received",
        HandOffStatus::Accepted => "hand_off.accepted",
        HandOffStatus::Declined => "hand_off.declined",
        HandOffStatus::Completed => "hand_off.completed",
        HandOffStatus::Cancelled => "hand_off.cancelled",
    }
}

/// The type of the event that says a referral reached `status`.
pub fn referral_status_kind(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Received => "referral.received",
        ReferralStatus::TakenUp => "referral.taken_up",
        ReferralStatus::PersonContacted => "referral.person_contacted",
        ReferralStatus::NoFollowUp => "referral.no_follow_up",
    }
}

/// An event about a hand-off, for its post and, once sent, its partner.
fn about_hand_off(hand_off: &HandOff, kind: &'static str, at: DateTime<Utc>) -> NewEvent<'static> {
    let partner = (hand_off.status != HandOffStatus::Draft).then_some(hand_off.partner_id);
    NewEvent {
        kind,
        occurred_at: at,
        post: Some(hand_off.post_id),
        partner,
        unit: None,
        record_type: "hand_off",
        record_id: hand_off.id.to_string(),
        data: json!({"hand_off_id": hand_off.id, "status": hand_off.status}).to_string(),
    }
}

/// The hand-off is now at its status (created as a draft, sent, accepted…).
pub fn hand_off_moved(hand_off: &HandOff, at: DateTime<Utc>) -> NewEvent<'static> {
    about_hand_off(hand_off, hand_off_status_kind(hand_off.status), at)
}

/// The person withdrew their consent: the partner reads nothing of them any more.
pub fn consent_withdrawn(hand_off: &HandOff, at: DateTime<Utc>) -> NewEvent<'static> {
    about_hand_off(hand_off, "hand_off.consent_withdrawn", at)
}

/// A hand-off went without consent, on the legal exception: a record of its own in the post's
/// feed, naming who used the exception, for the coordinator's review. `None` without exception.
pub fn legal_exception_used(
    hand_off: &HandOff,
    by: &Principal,
    at: DateTime<Utc>,
) -> Option<NewEvent<'static>> {
    let exception = hand_off.legal_exception?;
    Some(NewEvent {
        kind: "hand_off.legal_exception_used",
        occurred_at: at,
        post: Some(hand_off.post_id),
        partner: None,
        unit: None,
        record_type: "hand_off",
        record_id: hand_off.id.to_string(),
        data: json!({
            "hand_off_id": hand_off.id, "legal_exception": exception,
            "by": by.subject, "by_role": by.role,
        })
        .to_string(),
    })
}

/// The referral is now at its status, for its post and its sender.
pub fn referral_moved(referral: &Referral, at: DateTime<Utc>) -> NewEvent<'static> {
    NewEvent {
        kind: referral_status_kind(referral.status),
        occurred_at: at,
        post: Some(referral.post_id),
        partner: referral.sender.partner_id,
        unit: referral.sender.unit_id,
        record_type: "referral",
        record_id: referral.id.to_string(),
        data: json!({"referral_id": referral.id, "status": referral.status}).to_string(),
    }
}
