//! The post's staff read who did what by name: beside each principal that names a membership
//! (`member:<id>`) its views carry the membership's display name, as it is now, in a sibling field
//! named after it (`recorded_by` → `recorded_by_name`, `by` → `by_name`, `subject` →
//! `subject_name`). A principal that names no membership (the subject of a token with claims, a
//! job's `system:…`) has a `null` name.
//!
//! A sibling field rather than one table of names per answer: a front-end shows
//! `recorded_by_name ?? recorded_by` where it shows the principal, without carrying a table down
//! to the rows nested in a record (a hand-off's history, its consent), and a typed client finds
//! the name on the same object as the principal.
//!
//! These views are the post's only: partners' and officers' views are other types, which name no
//! member (a partner's hand-off history gives the role only), and events carry no names. The
//! names of one answer are read in one query ([`Names::load`]).

use std::collections::HashMap;

use relais_domain::audit::AuditEvent;
use relais_domain::hand_off::{Consent, Transition};
use relais_domain::ids::MemberId;
use relais_domain::intervention::{Evaluation, Intervention};
use relais_domain::member::member_of_principal;
use relais_domain::requisition::Requisition;
use relais_persistence::{DbConnection, StoreError, members};
use serde::Serialize;
use utoipa::ToSchema;

/// The display names of the memberships an answer's principals name.
#[derive(Debug, Default)]
pub struct Names(HashMap<MemberId, String>);

impl Names {
    /// The names of the memberships among `principals`, in one query (none when no principal
    /// names a membership).
    pub fn load<'a>(
        conn: &mut DbConnection,
        principals: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, StoreError> {
        let ids: Vec<MemberId> = principals
            .into_iter()
            .filter_map(member_of_principal)
            .collect();
        if ids.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self(members::display_names(conn, &ids)?))
    }

    /// The display name of the membership `principal` names, if it names one.
    pub fn of(&self, principal: &str) -> Option<String> {
        member_of_principal(principal).and_then(|id| self.0.get(&id).cloned())
    }

    fn of_opt(&self, principal: Option<&str>) -> Option<String> {
        principal.and_then(|p| self.of(p))
    }
}

/// An intervention as the post reads it: with the name of who recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedIntervention {
    #[serde(flatten)]
    pub intervention: Intervention,
    /// The display name of the member who recorded it; `null` when `recorded_by` names no
    /// membership.
    #[schema(example = "Camille Martin")]
    pub recorded_by_name: Option<String>,
}

impl NamedIntervention {
    pub fn all(
        conn: &mut DbConnection,
        interventions: Vec<Intervention>,
    ) -> Result<Vec<Self>, StoreError> {
        let names = Names::load(conn, interventions.iter().map(|i| i.recorded_by.as_str()))?;
        Ok(interventions
            .into_iter()
            .map(|intervention| Self::with(intervention, &names))
            .collect())
    }

    pub fn one(conn: &mut DbConnection, intervention: Intervention) -> Result<Self, StoreError> {
        let names = Names::load(conn, [intervention.recorded_by.as_str()])?;
        Ok(Self::with(intervention, &names))
    }

    fn with(intervention: Intervention, names: &Names) -> Self {
        Self {
            recorded_by_name: names.of(&intervention.recorded_by),
            intervention,
        }
    }
}

/// The evaluation as the post reads it: with the name of who last wrote it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedEvaluation {
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// The display name of the member who last wrote it; `null` when `written_by` names no
    /// membership.
    #[schema(example = "Camille Martin")]
    pub written_by_name: Option<String>,
}

impl NamedEvaluation {
    pub fn one(conn: &mut DbConnection, evaluation: Evaluation) -> Result<Self, StoreError> {
        Ok(Self {
            written_by_name: Names::load(conn, [evaluation.written_by.as_str()])?
                .of(&evaluation.written_by),
            evaluation,
        })
    }
}

/// A requisition as the post reads it: with the names of who recorded, decided and produced it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedRequisition {
    #[serde(flatten)]
    pub requisition: Requisition,
    /// The display name of the member who recorded it; `null` when `recorded_by` names no
    /// membership.
    #[schema(example = "Camille Martin")]
    pub recorded_by_name: Option<String>,
    /// The display name of the member who decided it; `null` when undecided or when
    /// `decided_by` names no membership.
    #[schema(example = "Dominique Leroy")]
    pub decided_by_name: Option<String>,
    /// The display name of the member who last produced its export; `null` when not produced
    /// or when `produced_by` names no membership.
    #[schema(example = "Camille Martin")]
    pub produced_by_name: Option<String>,
}

impl NamedRequisition {
    pub fn all(
        conn: &mut DbConnection,
        requisitions: Vec<Requisition>,
    ) -> Result<Vec<Self>, StoreError> {
        let names = Names::load(conn, requisitions.iter().flat_map(Self::principals))?;
        Ok(requisitions
            .into_iter()
            .map(|requisition| Self::with(requisition, &names))
            .collect())
    }

    pub fn one(conn: &mut DbConnection, requisition: Requisition) -> Result<Self, StoreError> {
        let names = Names::load(conn, Self::principals(&requisition))?;
        Ok(Self::with(requisition, &names))
    }

    fn with(requisition: Requisition, names: &Names) -> Self {
        Self {
            recorded_by_name: names.of(&requisition.recorded_by),
            decided_by_name: names.of_opt(requisition.decided_by.as_deref()),
            produced_by_name: names.of_opt(requisition.produced_by.as_deref()),
            requisition,
        }
    }

    /// The principals a requisition names.
    fn principals(requisition: &Requisition) -> impl Iterator<Item = &str> {
        [
            Some(requisition.recorded_by.as_str()),
            requisition.decided_by.as_deref(),
            requisition.produced_by.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// An audit event as its post's coordinators read it: with the name of who accessed.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedAuditEvent {
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The display name of the member who accessed (a revoked one's too); `null` when `subject`
    /// names no membership.
    #[schema(example = "Camille Martin")]
    pub subject_name: Option<String>,
}

impl NamedAuditEvent {
    pub fn all(conn: &mut DbConnection, events: Vec<AuditEvent>) -> Result<Vec<Self>, StoreError> {
        let names = Names::load(conn, events.iter().map(|e| e.subject.as_str()))?;
        Ok(events
            .into_iter()
            .map(|event| Self {
                subject_name: names.of(&event.subject),
                event,
            })
            .collect())
    }
}

/// A consent as the post reads it: with the names of who recorded and who withdrew it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedConsent {
    #[serde(flatten)]
    pub consent: Consent,
    /// The display name of the member who recorded it; `null` when `recorded_by` names no
    /// membership.
    #[schema(example = "Camille Martin")]
    pub recorded_by_name: Option<String>,
    /// The display name of the member who recorded the withdrawal; `null` when not withdrawn
    /// or when `withdrawn_by` names no membership.
    #[schema(example = "Camille Martin")]
    pub withdrawn_by_name: Option<String>,
}

impl NamedConsent {
    /// With names already loaded for the whole answer.
    pub fn with(consent: Consent, names: &Names) -> Self {
        Self {
            recorded_by_name: names.of(&consent.recorded_by),
            withdrawn_by_name: names.of_opt(consent.withdrawn_by.as_deref()),
            consent,
        }
    }

    pub fn one(conn: &mut DbConnection, consent: Consent) -> Result<Self, StoreError> {
        let names = Names::load(conn, Self::principals(&consent))?;
        Ok(Self::with(consent, &names))
    }

    /// The principals a consent names.
    pub fn principals(consent: &Consent) -> impl Iterator<Item = &str> {
        [
            Some(consent.recorded_by.as_str()),
            consent.withdrawn_by.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// A move of a hand-off as the post reads it: with the name of who made it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedTransition {
    #[serde(flatten)]
    pub transition: Transition,
    /// The display name of the member who made the move (one of the post's, or of the
    /// partner's); `null` when `by` names no membership.
    #[schema(example = "Camille Martin")]
    pub by_name: Option<String>,
}

impl NamedTransition {
    /// With names already loaded for the whole answer.
    pub fn with(transition: Transition, names: &Names) -> Self {
        Self {
            by_name: names.of(&transition.by),
            transition,
        }
    }
}
