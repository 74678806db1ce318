//! Memberships: who works where, kept in Relais rather than in the identity provider's tokens.
//!
//! A member is an identity (the issuer and `sub` of its provider's tokens) granted a role and the
//! scope of that role. An administrator grants any membership; a coordinator grants, changes and
//! revokes the memberships of its own posts' social workers. An invitation names an e-mail
//! instead of an identity: the first verified login carrying that e-mail binds the identity.
//!
//! A machine (a partner's or a unit's system) is a membership too: it names its identity by the
//! issuer and the `client_id` of its OAuth client (client credentials), a client of the identity
//! provider mapped by an administrator, or a client issued by Relais itself with a secret.
//!
//! The membership yields the same [`Principal`] a token's claims would, so that the access rules
//! (`crate::access`) stay the one decision point.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::ids::{MemberId, PartnerId, PostId, UnitId};
use crate::post::RecordMeta;
use crate::reference::{MemberStatus, Role};
use crate::validation::{Invalid, Validation};

/// The role granted and its scope; sent to grant or change a membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberAccess {
    /// The name the post sees in its histories and trail; never shown to partners or officers.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Camille Martin", max_length = 200)
    )]
    pub display_name: String,
    pub role: Role,
    /// The posts of a social worker (exactly one) or of a coordinator (one or more).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub post_ids: Vec<PostId>,
    /// The unit of an officer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    /// The partner of a partner's system or staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
}

impl MemberAccess {
    /// Checks that the scope fits the role: the posts of a social worker (one) or a coordinator,
    /// the unit of an officer, the partner of a partner, and nothing a role does not use.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("display_name", &self.display_name, 200);
        v.require(
            self.role != Role::System,
            "role",
            "reserved",
            "the role system belongs to Relais's own background jobs",
        );
        let posts = matches!(self.role, Role::SocialWorker | Role::Coordinator);
        if posts {
            v.require(
                !self.post_ids.is_empty(),
                "post_ids",
                "empty",
                format!("a {} works for at least one post", self.role),
            );
            v.require(
                self.role != Role::SocialWorker || self.post_ids.len() <= 1,
                "post_ids",
                "too_long",
                "a social worker works for one post",
            );
            v.require(
                self.post_ids.len() <= 50,
                "post_ids",
                "too_long",
                "at most 50 posts",
            );
            let mut sorted = self.post_ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            v.require(
                sorted.len() == self.post_ids.len(),
                "post_ids",
                "duplicate",
                "a post is named twice",
            );
        } else {
            v.require(
                self.post_ids.is_empty(),
                "post_ids",
                "not_applicable",
                format!("a {} works for no post", self.role),
            );
        }
        match (self.role, self.unit_id) {
            (Role::Officer, None) => {
                v.require(false, "unit_id", "required", "an officer has a unit");
            }
            (Role::Officer, Some(_)) | (_, None) => {}
            (_, Some(_)) => v.require(
                false,
                "unit_id",
                "not_applicable",
                "only an officer has a unit",
            ),
        }
        match (self.role, self.partner_id) {
            (Role::Partner, None) => {
                v.require(
                    false,
                    "partner_id",
                    "required",
                    "a partner's member has a partner",
                );
            }
            (Role::Partner, Some(_)) | (_, None) => {}
            (_, Some(_)) => v.require(
                false,
                "partner_id",
                "not_applicable",
                "only a partner's member has a partner",
            ),
        }
        v.finish()
    }
}

/// Who a new member is and what it is granted: an identity already known (`issuer` and
/// `subject`), or an `email` whose first verified login binds the identity (an invitation), or
/// both. (The fields of [`MemberAccess`] are repeated rather than flattened: serde refuses
/// unknown fields only without `flatten`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The name the post sees in its histories and trail; never shown to partners or officers.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Camille Martin", max_length = 200)
    )]
    pub display_name: String,
    pub role: Role,
    /// The posts of a social worker (exactly one) or of a coordinator (one or more).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub post_ids: Vec<PostId>,
    /// The unit of an officer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    /// The partner of a partner's system or staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
    /// The `iss` of the identity provider's tokens; with `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://auth.agentconnect.gouv.fr/api/v2", max_length = 300)
    )]
    pub issuer: Option<String>,
    /// The `sub` of the identity provider's tokens; with `issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub subject: Option<String>,
    /// The e-mail of an invitation: the first login whose token carries it (and does not say
    /// `email_verified: false`) binds that login's identity to the membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "camille.martin@example.org", max_length = 200)
    )]
    pub email: Option<String>,
    /// A machine: the client id of an OAuth client of the identity provider `issuer` (the
    /// `client_id` claim of the tokens it obtains by client credentials), instead of `subject`
    /// or `email`; for the roles `partner` and `officer` only. Map only a client that does
    /// client credentials only: a person's token obtained through the same client carries its
    /// `client_id` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "si-cd93", max_length = 300))]
    pub client_id: Option<String>,
}

impl NewMember {
    /// The role and scope granted.
    pub fn access(&self) -> MemberAccess {
        MemberAccess {
            display_name: self.display_name.clone(),
            role: self.role,
            post_ids: self.post_ids.clone(),
            unit_id: self.unit_id,
            partner_id: self.partner_id,
        }
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.absorb(self.access().validate());
        if let Some(issuer) = &self.issuer {
            v.line("issuer", issuer, 300);
        }
        if let Some(subject) = &self.subject {
            v.line("subject", subject, 300);
        }
        if let Some(client_id) = &self.client_id {
            v.line("client_id", client_id, 300);
            v.require(
                self.subject.is_none(),
                "client_id",
                "not_applicable",
                "a membership names a person (subject) or a machine (client_id), not both",
            );
            v.require(
                self.email.is_none(),
                "email",
                "not_applicable",
                "a machine is not invited by e-mail",
            );
            v.require(
                is_machine_role(self.role),
                "role",
                "not_applicable",
                "a machine (client_id) is a partner's or an officer unit's system: role partner or officer",
            );
        }
        let named = self.subject.is_some() || self.client_id.is_some();
        v.require(
            self.issuer.is_some() == named,
            if self.issuer.is_some() {
                "subject"
            } else {
                "issuer"
            },
            "required",
            "an identity is an issuer and a subject (or a client_id) together",
        );
        v.require(
            named || self.email.is_some(),
            "email",
            "required",
            "name the identity (issuer and subject, or issuer and client_id) or invite by e-mail",
        );
        if let Some(email) = &self.email {
            v.require(
                is_email(email),
                "email",
                "invalid_email",
                "must be an e-mail address",
            );
        }
        v.finish()
    }
}

/// Whether a machine (an OAuth client) may hold `role`: a partner's system, or an officer unit's
/// system pushing referrals.
pub fn is_machine_role(role: Role) -> bool {
    matches!(role, Role::Partner | Role::Officer)
}

/// What an administrator sends to issue a client to a partner's or a unit's system
/// (`POST /api/v1/partners/{id}/clients`, `POST /api/v1/units/{id}/clients`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The system's name, as the post and the administrators see it.
    #[cfg_attr(feature = "openapi", schema(example = "SI du CD 93", max_length = 200))]
    pub display_name: String,
}

impl NewClient {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("display_name", &self.display_name, 200);
        v.finish()
    }
}

/// Whether `text` reads as an e-mail address (the provider verified it; this only keeps out what
/// could never match one).
pub fn is_email(text: &str) -> bool {
    text.len() <= 200
        && !text
            .chars()
            .any(|c| crate::validation::deceives(c) || c.is_whitespace())
        && text
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains('@'))
}

/// A stored membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: MemberId,
    #[serde(flatten)]
    pub access: MemberAccess,
    pub status: MemberStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A machine's OAuth client id, at `issuer` (this instance's own issuer for a client that
    /// Relais issued, with a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d")
    )]
    pub client_id: Option<String>,
    /// When the secret of a client issued by Relais was set (at its creation or last rotation).
    /// The secret itself is never shown again, nor stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_set_at: Option<DateTime<Utc>>,
    /// When the identity was bound (at the grant, or at the first login of an invitation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// How a principal names a membership: `member:<id>`.
const MEMBER_PRINCIPAL: &str = "member:";

/// The membership a principal (a `recorded_by`, a trail's `subject`…) names, if it names one:
/// `None` for the subject of a token with claims (`relais token`) or a job (`system:…`).
pub fn member_of_principal(principal: &str) -> Option<MemberId> {
    principal.strip_prefix(MEMBER_PRINCIPAL)?.parse().ok()
}

impl Member {
    /// The principal the membership makes of its holder. The trail names it by the member's id
    /// (`member:<id>`), stable across providers and e-mail changes.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: format!("{MEMBER_PRINCIPAL}{}", self.id),
            role: self.access.role,
            post_ids: self.access.post_ids.clone(),
            unit_id: self.access.unit_id,
            partner_id: self.access.partner_id,
        }
    }

    /// Whether the membership is a machine's (it names an OAuth client).
    pub fn is_machine(&self) -> bool {
        self.client_id.is_some()
    }

    /// Whether `actor` manages this membership: an administrator any; a coordinator the social
    /// workers of its own posts.
    pub fn managed_by(&self, actor: &Principal) -> bool {
        manages(actor, &self.access)
    }
}

/// Whether `actor` may grant `access` (or a membership to have it): an administrator any (and
/// Relais itself, for `relais members add`); a coordinator a social worker of one of its own
/// posts.
pub fn manages(actor: &Principal, access: &MemberAccess) -> bool {
    match actor.role {
        Role::Admin | Role::System => true,
        Role::Coordinator => {
            access.role == Role::SocialWorker
                && !access.post_ids.is_empty()
                && access.post_ids.iter().all(|p| actor.post_ids.contains(p))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_names_a_membership_only_as_member_and_its_id() {
        let id = MemberId::generate();
        assert_eq!(member_of_principal(&format!("member:{id}")), Some(id));
        for other in [
            "a.durand",
            "system:follow-up",
            "member:",
            "member:nope",
            &id.to_string(),
        ] {
            assert_eq!(member_of_principal(other), None, "{other}");
        }
    }

    fn access(role: Role, posts: &[PostId]) -> MemberAccess {
        MemberAccess {
            display_name: "Camille".into(),
            role,
            post_ids: posts.to_vec(),
            unit_id: None,
            partner_id: None,
        }
    }

    fn coordinator(posts: &[PostId]) -> Principal {
        Principal {
            subject: "c".into(),
            role: Role::Coordinator,
            post_ids: posts.to_vec(),
            unit_id: None,
            partner_id: None,
        }
    }

    #[test]
    fn a_coordinator_manages_only_its_own_posts_social_workers() {
        let (mine, other) = (PostId::generate(), PostId::generate());
        let c = coordinator(&[mine]);
        assert!(manages(&c, &access(Role::SocialWorker, &[mine])));
        assert!(!manages(&c, &access(Role::SocialWorker, &[other])));
        assert!(!manages(&c, &access(Role::Coordinator, &[mine])));
        assert!(!manages(&c, &access(Role::Admin, &[])));
    }

    #[test]
    fn the_scope_must_fit_the_role() {
        let post = PostId::generate();
        assert!(access(Role::SocialWorker, &[post]).validate().is_ok());
        assert!(access(Role::SocialWorker, &[]).validate().is_err());
        assert!(
            access(Role::SocialWorker, &[post, PostId::generate()])
                .validate()
                .is_err()
        );
        assert!(access(Role::Admin, &[post]).validate().is_err());
        assert!(access(Role::Officer, &[]).validate().is_err());
        assert!(access(Role::System, &[]).validate().is_err());
        assert!(access(Role::Admin, &[]).validate().is_ok());
    }

    #[test]
    fn a_new_member_names_an_identity_or_an_email() {
        let member = |issuer: Option<&str>, subject: Option<&str>, email: Option<&str>| NewMember {
            display_name: "Dominique".into(),
            role: Role::Admin,
            post_ids: Vec::new(),
            unit_id: None,
            partner_id: None,
            issuer: issuer.map(Into::into),
            subject: subject.map(Into::into),
            email: email.map(Into::into),
            client_id: None,
        };
        assert!(
            member(Some("https://idp"), Some("s"), None)
                .validate()
                .is_ok()
        );
        assert!(member(None, None, Some("a@b.fr")).validate().is_ok());
        assert!(member(None, None, None).validate().is_err());
        assert!(member(Some("https://idp"), None, None).validate().is_err());
        assert!(member(None, None, Some("not an email")).validate().is_err());
    }

    #[test]
    fn a_machine_names_an_issuer_and_a_client_id_and_is_a_partner_or_an_officer() {
        let machine = |role: Role, subject: Option<&str>, email: Option<&str>| NewMember {
            display_name: "SI du CD 93".into(),
            role,
            post_ids: Vec::new(),
            unit_id: (role == Role::Officer).then(crate::ids::UnitId::generate),
            partner_id: (role == Role::Partner).then(PartnerId::generate),
            issuer: Some("https://idp".into()),
            subject: subject.map(Into::into),
            email: email.map(Into::into),
            client_id: Some("si-cd93".into()),
        };
        assert!(machine(Role::Partner, None, None).validate().is_ok());
        assert!(machine(Role::Officer, None, None).validate().is_ok());
        assert!(machine(Role::Admin, None, None).validate().is_err());
        assert!(machine(Role::Partner, Some("s"), None).validate().is_err());
        assert!(
            machine(Role::Partner, None, Some("a@b.fr"))
                .validate()
                .is_err()
        );
        let mut without_issuer = machine(Role::Partner, None, None);
        without_issuer.issuer = None;
        assert!(without_issuer.validate().is_err());
    }
}
