//! Judicial requisitions (CPP 60-1, 77-1-1): recorded by a social worker of the person's post,
//! approved or rejected by a coordinator of the post.

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::ids::RequisitionId;
use relais_domain::requisition::{
    Requisition, RequisitionDecision, RequisitionInput, RequisitionStep,
};
use relais_domain::validation::Invalid;
use relais_persistence::{DbConnection, StoreError, beneficiaries, requisitions, units};

use super::{Outcome, acts_for_post, found_within, reads_post};
use crate::clock::today;

/// The requisition if it belongs to one of `actor`'s posts; `NotFound` otherwise.
pub fn readable(
    conn: &mut DbConnection,
    actor: &Principal,
    id: RequisitionId,
) -> Outcome<Requisition> {
    found_within(requisitions::get(conn, id), "requisition", |r| {
        reads_post(actor, r.post_id)
    })
}

/// `create_requisition`: the requisition about a person of the actor's post, as received.
pub fn record(
    conn: &mut DbConnection,
    by: &Principal,
    input: &RequisitionInput,
    now: DateTime<Utc>,
) -> Outcome<Requisition> {
    input.validate(today(now))?;
    let person = match beneficiaries::get(conn, input.beneficiary_id) {
        Ok(person) if acts_for_post(by, person.post_id) => person,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(Invalid::one(
                "beneficiary_id",
                "unknown",
                "no such person within your posts",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(unit) = input.requesting_unit_id {
        match units::get(conn, unit) {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(Invalid::one("requesting_unit_id", "unknown", "no such unit").into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(requisitions::insert(
        conn,
        person.post_id,
        input,
        &by.subject,
        now,
    )?)
}

/// `approve_requisition`: the export may then be produced.
pub fn approve(
    conn: &mut DbConnection,
    by: &Principal,
    id: RequisitionId,
    decision: &RequisitionDecision,
    now: DateTime<Utc>,
) -> Outcome<Requisition> {
    decide(conn, by, id, RequisitionStep::Approve, decision, now)
}

/// `reject_requisition`: refused, saying why.
pub fn reject(
    conn: &mut DbConnection,
    by: &Principal,
    id: RequisitionId,
    decision: &RequisitionDecision,
    now: DateTime<Utc>,
) -> Outcome<Requisition> {
    decide(conn, by, id, RequisitionStep::Reject, decision, now)
}

/// `export_requisition`: an approved requisition's export is produced, and the production is
/// stamped on it (409 before approval).
pub fn produce(
    conn: &mut DbConnection,
    by: &Principal,
    id: RequisitionId,
    now: DateTime<Utc>,
) -> Outcome<Requisition> {
    let current = readable(conn, by, id)?;
    Ok(requisitions::step(
        conn,
        &current,
        RequisitionStep::Produce,
        &by.subject,
        None,
        now,
    )?)
}

fn decide(
    conn: &mut DbConnection,
    by: &Principal,
    id: RequisitionId,
    step: RequisitionStep,
    decision: &RequisitionDecision,
    now: DateTime<Utc>,
) -> Outcome<Requisition> {
    decision.validate(step == RequisitionStep::Reject)?;
    let current = readable(conn, by, id)?;
    Ok(requisitions::step(
        conn,
        &current,
        step,
        &by.subject,
        decision.note.as_deref(),
        now,
    )?)
}
