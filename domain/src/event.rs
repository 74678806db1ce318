//! The event catalogue: what each event of the feed and of the webhooks reports, to whom, and
//! the shape of its `data`. The OpenAPI document's `Event` schema is generated from here, so an
//! event type cannot be emitted without being documented.
//!
//! Events carry ids and statuses, never personal data: a reader fetches the record for more.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{HandOffId, MemberId, ReferralId};
use crate::reference::{
    CodeList, EventType, HandOffResult, HandOffStatus, LegalException, MemberStatus,
    ReferralStatus, ReminderKind, Role, WithdrawalReason,
};

/// The shape of an event's `data`, shared by the types of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFamily {
    /// `data` is a [`HandOffEventData`].
    HandOff,
    /// `data` is a [`LegalExceptionUsedData`].
    LegalExceptionUsed,
    /// `data` is a [`ReferralEventData`].
    Referral,
    /// `data` is a [`HandOffReminderData`].
    Reminder,
    /// `data` is a [`PersonalDataWithdrawnData`].
    Withdrawal,
    /// `data` is a [`MemberEventData`].
    Membership,
}

impl EventFamily {
    pub const ALL: &'static [Self] = &[
        Self::HandOff,
        Self::LegalExceptionUsed,
        Self::Referral,
        Self::Reminder,
        Self::Withdrawal,
        Self::Membership,
    ];

    /// The name of the schema of the whole event (envelope and `data`) in the OpenAPI document.
    pub fn event_schema(self) -> &'static str {
        match self {
            Self::HandOff => "HandOffEvent",
            Self::LegalExceptionUsed => "LegalExceptionUsedEvent",
            Self::Referral => "ReferralEvent",
            Self::Reminder => "HandOffReminderEvent",
            Self::Withdrawal => "PersonalDataWithdrawnEvent",
            Self::Membership => "MemberEvent",
        }
    }

    /// The name of the schema of its `data`.
    pub fn data_schema(self) -> &'static str {
        match self {
            Self::HandOff => "HandOffEventData",
            Self::LegalExceptionUsed => "LegalExceptionUsedData",
            Self::Referral => "ReferralEventData",
            Self::Reminder => "HandOffReminderData",
            Self::Withdrawal => "PersonalDataWithdrawnData",
            Self::Membership => "MemberEventData",
        }
    }

    /// The record type every event of the family is about.
    pub fn record_type(self) -> &'static str {
        match self {
            Self::HandOff | Self::LegalExceptionUsed | Self::Reminder | Self::Withdrawal => {
                "hand_off"
            }
            Self::Referral => "referral",
            Self::Membership => "member",
        }
    }

    /// The event types of this family, in catalogue order.
    pub fn types(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .iter()
            .copied()
            .filter(move |t| t.family() == self)
    }
}

impl EventType {
    /// The shape of its `data`.
    pub fn family(self) -> EventFamily {
        match self {
            EventType::HandOffLegalExceptionUsed => EventFamily::LegalExceptionUsed,
            EventType::HandOffReminded => EventFamily::Reminder,
            EventType::HandOffPersonalDataWithdrawn => EventFamily::Withdrawal,
            EventType::ReferralReceived
            | EventType::ReferralTakenUp
            | EventType::ReferralPersonContacted
            | EventType::ReferralNoFollowUp => EventFamily::Referral,
            EventType::MemberGranted
            | EventType::MemberChanged
            | EventType::MemberBound
            | EventType::MemberRevoked => EventFamily::Membership,
            _ => EventFamily::HandOff,
        }
    }

    /// When it is emitted and who reads it (the feed's audiences; a partner's webhooks receive
    /// what its feed shows).
    pub fn description(self) -> &'static str {
        match self {
            EventType::HandOffCreated => {
                "A social worker created a hand-off as a draft. To the post only: the partner \
                 learns of nothing before it is sent."
            }
            EventType::HandOffSent => {
                "The post sent the hand-off to the partner, with consent or on a legal exception. \
                 To the post and the partner."
            }
            EventType::HandOffReceived => {
                "The partner's system acknowledged the hand-off. To the post and the partner."
            }
            EventType::HandOffAccepted => {
                "The partner accepted the person. To the post and the partner."
            }
            EventType::HandOffDeclined => {
                "The partner declined, with a coded reason; the post may hand the situation to \
                 another partner. To the post and the partner."
            }
            EventType::HandOffCompleted => {
                "The partner reported the outcome of an accepted hand-off. To the post and the \
                 partner."
            }
            EventType::HandOffCancelled => {
                "The post cancelled the hand-off, or the person withdrew their consent. To the \
                 post, and to the partner once it was sent: the partner reads nothing of the \
                 person any more."
            }
            EventType::HandOffConsentWithdrawn => {
                "The person withdrew their consent; the hand-off is cancelled in the same \
                 change. To the post, and to the partner once it was sent: erase your copy of \
                 the person's data."
            }
            EventType::HandOffLegalExceptionUsed => {
                "A hand-off went without consent, on a legal exception (an information \
                 préoccupante). To the post only, for the coordinator's review; names who used \
                 the exception."
            }
            EventType::HandOffReminded => {
                "The follow-up job reminds the partner of a hand-off that waits on it: sent and \
                 not acknowledged within `RELAIS_HAND_OFF_REMIND_DAYS` (an answer is awaited), or \
                 accepted and not completed within `RELAIS_HAND_OFF_OUTCOME_DAYS` (its outcome is \
                 awaited); once per hand-off and kind. To the partner and the post."
            }
            EventType::HandOffExpired => {
                "The follow-up job closed a hand-off left unanswered (neither accepted nor \
                 declined) `RELAIS_HAND_OFF_EXPIRE_DAYS` after it was sent; the partner reads \
                 nothing of the person any more, and the post may hand the situation to another \
                 partner. To the post and the partner."
            }
            EventType::HandOffPersonalDataWithdrawn => {
                "The partner has lost the right to the person's data: erase your copy of it. \
                 `reason` says why: the person withdrew their consent, the hand-off was \
                 cancelled, declined or expired, or the person was erased. To the partner only; \
                 what remains readable of the hand-off is its status, codes and the partner's own \
                 outcome."
            }
            EventType::ReferralReceived => {
                "An officer or a partner sent a referral to the post. To the post and the sender."
            }
            EventType::ReferralTakenUp => {
                "The post took the referral up and opened a situation. To the post and the \
                 sender."
            }
            EventType::ReferralPersonContacted => {
                "The post reached the referred person. To the post and the sender."
            }
            EventType::ReferralNoFollowUp => {
                "The post closed the referral without follow-up, with a coded reason. To the \
                 post and the sender."
            }
            EventType::MemberGranted => {
                "An administrator or the post's coordinator granted a membership of the post, \
                 or invited someone to it by e-mail. To the post only."
            }
            EventType::MemberChanged => {
                "A membership's role or posts changed; told to the posts it left and those it \
                 joined (a member moved from one post to another loses the first at once). To \
                 the posts only."
            }
            EventType::MemberBound => {
                "An invited member logged in for the first time: the login's identity is bound \
                 to the membership. To the post only."
            }
            EventType::MemberRevoked => {
                "A membership was revoked: its holder is refused from the next request on. To \
                 the post only."
            }
        }
    }

    /// The event that says a hand-off reached `status`.
    pub fn hand_off_reached(status: HandOffStatus) -> Self {
        match status {
            // A draft is "created"; no move leads back to it.
            HandOffStatus::Draft => EventType::HandOffCreated,
            HandOffStatus::Sent => EventType::HandOffSent,
            HandOffStatus::Received => EventType::HandOffReceived,
            HandOffStatus::Accepted => EventType::HandOffAccepted,
            HandOffStatus::Declined => EventType::HandOffDeclined,
            HandOffStatus::Completed => EventType::HandOffCompleted,
            HandOffStatus::Cancelled => EventType::HandOffCancelled,
            HandOffStatus::Expired => EventType::HandOffExpired,
        }
    }

    /// The event that says a referral reached `status`.
    pub fn referral_reached(status: ReferralStatus) -> Self {
        match status {
            ReferralStatus::Received => EventType::ReferralReceived,
            ReferralStatus::TakenUp => EventType::ReferralTakenUp,
            ReferralStatus::PersonContacted => EventType::ReferralPersonContacted,
            ReferralStatus::NoFollowUp => EventType::ReferralNoFollowUp,
        }
    }
}

/// The `data` of a hand-off event: which hand-off, and its status after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "status": "sent"
})))]
pub struct HandOffEventData {
    pub hand_off_id: HandOffId,
    pub status: HandOffStatus,
    /// On `hand_off.completed` only: what became of the person, coded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<HandOffResult>,
}

/// The `data` of `hand_off.legal_exception_used`: the exception and who used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
    "legal_exception": "information_preoccupante", "by": "sw-camille", "by_role": "social_worker"
})))]
pub struct LegalExceptionUsedData {
    pub hand_off_id: HandOffId,
    pub legal_exception: LegalException,
    /// The token subject of who sent the hand-off.
    pub by: String,
    pub by_role: Role,
}

/// The `data` of `hand_off.reminded`: which hand-off, what is awaited and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "status": "sent",
    "reminder": "answer", "waiting_since": "2026-03-04T10:02:00Z"
})))]
pub struct HandOffReminderData {
    pub hand_off_id: HandOffId,
    pub status: HandOffStatus,
    pub reminder: ReminderKind,
    /// When the hand-off began to wait: sent (for an answer) or accepted (for an outcome).
    pub waiting_since: DateTime<Utc>,
}

/// The `data` of `hand_off.personal_data_withdrawn`: which hand-off, and why its partner must
/// erase its copy of the person's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "reason": "consent_withdrawn"
})))]
pub struct PersonalDataWithdrawnData {
    pub hand_off_id: HandOffId,
    pub reason: WithdrawalReason,
}

/// The `data` of a referral event: which referral, and its status after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "referral_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d", "status": "taken_up"
})))]
pub struct ReferralEventData {
    pub referral_id: ReferralId,
    pub status: ReferralStatus,
}

/// The `data` of a member event: which membership, its role and status after the change.
/// The display name and the identity stay out: events carry no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "member_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7e", "role": "social_worker", "status": "active"
})))]
pub struct MemberEventData {
    pub member_id: MemberId,
    pub role: Role,
    pub status: MemberStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_belongs_to_one_family_and_is_described() {
        for t in EventType::ALL {
            assert!(t.description().len() > 20, "{t}");
            assert!(t.family().types().any(|u| u == *t));
            assert!(t.code().starts_with(t.family().record_type()), "{t}");
        }
        let in_families: usize = EventFamily::ALL.iter().map(|f| f.types().count()).sum();
        assert_eq!(in_families, EventType::ALL.len());
    }

    #[test]
    fn each_status_has_its_event() {
        for s in HandOffStatus::ALL {
            assert_eq!(
                EventType::hand_off_reached(*s).family(),
                EventFamily::HandOff
            );
        }
        for s in ReferralStatus::ALL {
            assert_eq!(
                EventType::referral_reached(*s).family(),
                EventFamily::Referral
            );
        }
    }
}
