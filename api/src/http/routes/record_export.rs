//! Everything held on one person, as one JSON document: for the person's right of access
//! (GDPR article 15) and for an approved judicial requisition.

use chrono::{DateTime, Utc};
use relais_domain::audit::AuditEvent;
use relais_domain::beneficiary::Beneficiary;
use relais_domain::hand_off::HandOff;
use relais_domain::intervention::{Evaluation, Intervention};
use relais_domain::referral::Referral;
use relais_domain::requisition::Requisition;
use relais_domain::situation::Situation;
use relais_persistence::hand_offs::HandOffFilter;
use relais_persistence::situations::SituationFilter;
use relais_persistence::{
    DbConnection, PageRequest, audit, evaluations, hand_offs, interventions, referrals,
    requisitions, situations,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::problem::ApiError;

/// One situation and all that was recorded in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SituationRecord {
    pub situation: Situation,
    pub interventions: Vec<Intervention>,
    /// The social evaluation, if one was written.
    pub evaluation: Option<Evaluation>,
    pub hand_offs: Vec<HandOff>,
    /// The referrals taken up into this situation.
    pub referrals: Vec<Referral>,
}

/// Everything Relais holds on a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordExport {
    /// When the export was produced (UTC).
    pub generated_at: DateTime<Utc>,
    pub beneficiary: Beneficiary,
    pub situations: Vec<SituationRecord>,
    /// Judicial requisitions about the person.
    pub requisitions: Vec<Requisition>,
    /// Who accessed the person's records, when, and how (the person's own export only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_history: Option<Vec<AuditEvent>>,
}

/// Whether the export carries the trail of accesses: yes for the person, no for the police.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    ThePerson,
    Justice,
}

/// Far more than one person ever has; the export is never paged.
const ALL: i64 = 10_000;

pub fn export_of(
    conn: &mut DbConnection,
    beneficiary: Beneficiary,
    recipient: Recipient,
    now: DateTime<Utc>,
) -> Result<RecordExport, ApiError> {
    let person = beneficiary.id;
    let everything = PageRequest {
        limit: ALL,
        cursor: None,
    };
    let found = situations::list(
        conn,
        &SituationFilter {
            posts: vec![beneficiary.post_id],
            beneficiary: Some(person),
            ..SituationFilter::default()
        },
        &everything,
    )?;
    let mut records = Vec::with_capacity(found.items.len());
    for situation in found.items.into_iter().rev() {
        let id = situation.id;
        records.push(SituationRecord {
            interventions: interventions::list(conn, id)?,
            evaluation: evaluations::get(conn, id)?,
            hand_offs: hand_offs::list(
                conn,
                &HandOffFilter {
                    situation: Some(id),
                    ..HandOffFilter::default()
                },
                &everything,
            )?
            .items,
            referrals: referrals::of_situations(conn, &[id])?,
            situation,
        });
    }
    Ok(RecordExport {
        generated_at: now,
        situations: records,
        requisitions: requisitions::of_beneficiary(conn, person)?,
        access_history: match recipient {
            Recipient::ThePerson => Some(audit::history_of(conn, person)?),
            Recipient::Justice => None,
        },
        beneficiary,
    })
}
