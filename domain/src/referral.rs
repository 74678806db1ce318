//! Incoming referrals (*signalements entrants*): an officer or a partner sends a person to a
//! post. The sender sees only the status, never what the social worker learns.

use serde::{Deserialize, Serialize};

use crate::ids::{PartnerId, PostId, ReferralId, SituationId, UnitId};
use crate::post::RecordMeta;
use crate::reference::{NoFollowUpReason, ReferralStatus, Role, Sex};
use crate::validation::{Invalid, Validation, is_commune_code};

/// The longest reason an officer may write; it must stay short and non-confidential.
pub const MAX_REASON_CHARS: usize = 500;

/// What the sender knows of the person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferredPerson {
    #[cfg_attr(feature = "openapi", schema(example = "Camille", max_length = 100))]
    pub first_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Martin", max_length = 100))]
    pub last_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "06 12 34 56 78", max_length = 30)
    )]
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = 1987))]
    pub birth_year: Option<i32>,
    #[serde(default)]
    pub sex: Sex,
    #[cfg_attr(feature = "openapi", schema(example = "07010"))]
    pub commune_code: Option<String>,
}

/// A referral as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferralInput {
    /// The post asked to receive the person.
    pub post_id: PostId,
    pub person: ReferredPerson,
    /// Why the person is referred, briefly and without confidential detail.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Intervention au domicile pour différend conjugal, deux enfants présents.",
            max_length = 500
        )
    )]
    pub reason: String,
    /// Whether the person agreed to be contacted by the social worker.
    pub agreed_to_be_contacted: bool,
}

impl ReferralInput {
    pub fn validate(&self, this_year: i32) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.text("reason", &self.reason, MAX_REASON_CHARS);
        let p = &self.person;
        for (field, value, max) in [
            ("person.first_name", &p.first_name, 100),
            ("person.last_name", &p.last_name, 100),
            ("person.phone", &p.phone, 30),
        ] {
            if let Some(value) = value {
                v.line(field, value, max);
            }
        }
        if let Some(year) = p.birth_year {
            v.require(
                (crate::beneficiary::EARLIEST_BIRTH_YEAR..=this_year).contains(&year),
                "person.birth_year",
                "out_of_range",
                format!(
                    "must be between {} and {this_year}",
                    crate::beneficiary::EARLIEST_BIRTH_YEAR
                ),
            );
        }
        if let Some(code) = &p.commune_code {
            v.require(
                is_commune_code(code),
                "person.commune_code",
                "invalid_commune",
                "must be an INSEE commune code",
            );
        }
        v.finish()
    }
}

/// Who sent a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferralSender {
    pub role: Role,
    /// Subject of the sender's token.
    pub subject: String,
    pub unit_id: Option<UnitId>,
    pub partner_id: Option<PartnerId>,
}

/// A stored referral, as the receiving post sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Referral {
    pub id: ReferralId,
    pub post_id: PostId,
    pub sender: ReferralSender,
    pub person: ReferredPerson,
    pub reason: String,
    pub agreed_to_be_contacted: bool,
    pub status: ReferralStatus,
    pub no_follow_up_reason: Option<NoFollowUpReason>,
    /// The situation opened when the referral was taken up.
    pub situation_id: Option<SituationId>,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// A referral's status after a social worker's move, if legal:
/// `received → person_contacted → taken_up | no_follow_up`, or straight from `received`.
pub fn move_referral(from: ReferralStatus, to: ReferralStatus) -> Result<ReferralStatus, Invalid> {
    use ReferralStatus::*;
    let legal = matches!(
        (from, to),
        (Received, PersonContacted)
            | (Received | PersonContacted, TakenUp)
            | (Received | PersonContacted, NoFollowUp)
    );
    if legal {
        Ok(to)
    } else {
        Err(Invalid::one(
            "status",
            "illegal_transition",
            format!("a referral in state `{from}` cannot become `{to}`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReferralStatus::*;

    #[test]
    fn referral_moves() {
        assert_eq!(
            move_referral(Received, PersonContacted),
            Ok(PersonContacted)
        );
        assert_eq!(move_referral(PersonContacted, TakenUp), Ok(TakenUp));
        assert_eq!(move_referral(Received, NoFollowUp), Ok(NoFollowUp));
        assert!(move_referral(TakenUp, NoFollowUp).is_err());
        assert!(move_referral(NoFollowUp, TakenUp).is_err());
        assert!(move_referral(PersonContacted, Received).is_err());
    }

    #[test]
    fn a_referral_reason_is_short_and_present() {
        let input = ReferralInput {
            post_id: PostId::generate(),
            person: ReferredPerson::default(),
            reason: "x".repeat(MAX_REASON_CHARS + 1),
            agreed_to_be_contacted: true,
        };
        assert_eq!(input.validate(2026).unwrap_err().0[0].field, "reason");
        let fine = ReferralInput {
            reason: "Différend conjugal".into(),
            person: ReferredPerson {
                birth_year: Some(2030),
                ..Default::default()
            },
            ..input
        };
        assert_eq!(
            fine.validate(2026).unwrap_err().0[0].field,
            "person.birth_year"
        );
    }
}
