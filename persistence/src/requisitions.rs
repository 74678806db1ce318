//! Judicial requisitions and their workflow.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::ids::{BeneficiaryId, PostId, RequisitionId};
use relais_domain::reference::{CodeList, RequisitionStatus};
use relais_domain::requisition::{Requisition, RequisitionInput, RequisitionStep};

use crate::convert::{meta, parse, parse_opt, stored};
use crate::schema::requisitions;
use crate::sealing::{self, REQUISITION_DECISION_NOTE};
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = requisitions)]
struct RequisitionRow {
    id: String,
    post_id: String,
    beneficiary_id: String,
    legal_basis: String,
    procedure_reference: String,
    requesting_authority: String,
    requesting_unit_id: Option<String>,
    received_on: NaiveDate,
    status: String,
    recorded_by: String,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    decision_note: Option<String>,
    produced_by: Option<String>,
    produced_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<RequisitionRow> for Requisition {
    type Error = StoreError;
    fn try_from(row: RequisitionRow) -> Result<Self, StoreError> {
        Ok(Requisition {
            id: parse("requisitions.id", &row.id)?,
            post_id: parse("requisitions.post_id", &row.post_id)?,
            input: RequisitionInput {
                beneficiary_id: parse("requisitions.beneficiary_id", &row.beneficiary_id)?,
                legal_basis: parse("requisitions.legal_basis", &row.legal_basis)?,
                procedure_reference: row.procedure_reference,
                requesting_authority: row.requesting_authority,
                requesting_unit_id: parse_opt(
                    "requisitions.requesting_unit_id",
                    row.requesting_unit_id.as_deref(),
                )?,
                received_on: row.received_on,
            },
            status: parse("requisitions.status", &row.status)?,
            recorded_by: row.recorded_by,
            decided_by: row.decided_by,
            decided_at: row.decided_at.map(|t| t.and_utc()),
            decision_note: sealing::open_opt(
                REQUISITION_DECISION_NOTE,
                &row.id,
                row.decision_note,
            )?,
            produced_by: row.produced_by,
            produced_at: row.produced_at.map(|t| t.and_utc()),
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// Records a requisition for the post that holds the person's record.
pub fn insert(
    conn: &mut DbConnection,
    post: PostId,
    input: &RequisitionInput,
    recorded_by: &str,
    at: DateTime<Utc>,
) -> Result<Requisition, StoreError> {
    let id = RequisitionId::generate();
    let at = stored(at);
    diesel::insert_into(requisitions::table)
        .values((
            requisitions::id.eq(id.to_string()),
            requisitions::post_id.eq(post.to_string()),
            requisitions::beneficiary_id.eq(input.beneficiary_id.to_string()),
            requisitions::legal_basis.eq(input.legal_basis.code()),
            requisitions::procedure_reference.eq(input.procedure_reference.trim()),
            requisitions::requesting_authority.eq(input.requesting_authority.trim()),
            requisitions::requesting_unit_id.eq(input.requesting_unit_id.map(|u| u.to_string())),
            requisitions::received_on.eq(input.received_on),
            requisitions::status.eq(RequisitionStatus::Recorded.code()),
            requisitions::recorded_by.eq(recorded_by),
            requisitions::created_at.eq(at),
            requisitions::updated_at.eq(at),
            requisitions::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: RequisitionId) -> Result<Requisition, StoreError> {
    requisitions::table
        .find(id.to_string())
        .select(RequisitionRow::as_select())
        .first(conn)?
        .try_into()
}

/// The requisitions of `posts`, newest first.
pub fn list(
    conn: &mut DbConnection,
    posts: &[PostId],
    status: Option<RequisitionStatus>,
    page: &PageRequest,
) -> Result<Page<Requisition>, StoreError> {
    let mut query = requisitions::table
        .select(RequisitionRow::as_select())
        .filter(
            requisitions::post_id.eq_any(posts.iter().map(ToString::to_string).collect::<Vec<_>>()),
        )
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(requisitions::status.eq(status.code()));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(requisitions::id.lt(cursor.clone()));
    }
    let rows = query
        .order(requisitions::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(Requisition::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |r| {
        r.id.to_string()
    }))
}

/// Applies a workflow step by `who`; refused (409) when the requisition is not in a state that
/// allows it. Call inside the write transaction that also reads what the step needs.
pub fn step(
    conn: &mut DbConnection,
    current: &Requisition,
    step: RequisitionStep,
    who: &str,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Requisition, StoreError> {
    let Some(next) = step.apply(current.status) else {
        return Err(StoreError::Conflict(format!(
            "the requisition is {}: it cannot be {}",
            current.status.code(),
            match step {
                RequisitionStep::Approve => "approved",
                RequisitionStep::Reject => "rejected",
                RequisitionStep::Produce => "produced",
            }
        )));
    };
    let at = stored(at);
    let target = requisitions::table.filter(
        requisitions::id
            .eq(current.id.to_string())
            .and(requisitions::version.eq(current.meta.version)),
    );
    let changed = match step {
        RequisitionStep::Approve | RequisitionStep::Reject => diesel::update(target)
            .set((
                requisitions::status.eq(next.code()),
                requisitions::decided_by.eq(who),
                requisitions::decided_at.eq(at),
                requisitions::decision_note.eq(sealing::seal_opt(
                    REQUISITION_DECISION_NOTE,
                    &current.id.to_string(),
                    note.map(str::trim),
                )?),
                requisitions::updated_at.eq(at),
                requisitions::version.eq(current.meta.version + 1),
            ))
            .execute(conn)?,
        RequisitionStep::Produce => diesel::update(target)
            .set((
                requisitions::status.eq(next.code()),
                requisitions::produced_by.eq(who),
                requisitions::produced_at.eq(at),
                requisitions::updated_at.eq(at),
                requisitions::version.eq(current.meta.version + 1),
            ))
            .execute(conn)?,
    };
    if changed == 0 {
        return Err(StoreError::Conflict(
            "the requisition changed meanwhile; read it again".into(),
        ));
    }
    get(conn, current.id)
}

/// Whether a requisition of the person awaits a decision or its export (erasure must wait).
pub fn pending_for(conn: &mut DbConnection, person: BeneficiaryId) -> Result<bool, StoreError> {
    let pending = [
        RequisitionStatus::Recorded.code(),
        RequisitionStatus::Approved.code(),
    ];
    let count: i64 = requisitions::table
        .filter(requisitions::beneficiary_id.eq(person.to_string()))
        .filter(requisitions::status.eq_any(pending))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// The requisitions about a person, oldest first.
pub fn of_beneficiary(
    conn: &mut DbConnection,
    person: BeneficiaryId,
) -> Result<Vec<Requisition>, StoreError> {
    requisitions::table
        .select(RequisitionRow::as_select())
        .filter(requisitions::beneficiary_id.eq(person.to_string()))
        .order(requisitions::id.asc())
        .load(conn)?
        .into_iter()
        .map(Requisition::try_from)
        .collect()
}
