//! The confidential social evaluation of a situation, kept in its own table so that no
//! situation query ever loads it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use relais_domain::ids::SituationId;
use relais_domain::intervention::{Evaluation, EvaluationInput};
use relais_domain::version::Expected;

use crate::convert::{meta, now, parse};
use crate::error::stale_or_missing;
use crate::schema::evaluations;
use crate::sealing::{self, EVALUATION_TEXT};
use crate::{DbConnection, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = evaluations)]
struct EvaluationRow {
    situation_id: String,
    text: String,
    written_by: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<EvaluationRow> for Evaluation {
    type Error = StoreError;
    fn try_from(row: EvaluationRow) -> Result<Self, StoreError> {
        Ok(Evaluation {
            situation_id: parse("evaluations.situation_id", &row.situation_id)?,
            text: sealing::open(EVALUATION_TEXT, &row.situation_id, &row.text)?,
            written_by: row.written_by,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// The evaluation of a situation, if one was written.
pub fn get(
    conn: &mut DbConnection,
    situation: SituationId,
) -> Result<Option<Evaluation>, StoreError> {
    evaluations::table
        .find(situation.to_string())
        .select(EvaluationRow::as_select())
        .first(conn)
        .optional()?
        .map(Evaluation::try_from)
        .transpose()
}

/// Writes the evaluation: the first time freely, afterwards only over the version the writer read.
pub fn put(
    conn: &mut DbConnection,
    situation: SituationId,
    input: &EvaluationInput,
    written_by: &str,
    expected: Option<&Expected>,
) -> Result<(Evaluation, bool), StoreError> {
    let key = situation.to_string();
    let at = now();
    let text = sealing::seal(EVALUATION_TEXT, &key, &input.text)?;
    let current: Option<i64> = evaluations::table
        .find(&key)
        .select(evaluations::version)
        .first(conn)
        .optional()?;
    let created = match (current, expected) {
        (None, None) => {
            diesel::insert_into(evaluations::table)
                .values((
                    evaluations::situation_id.eq(&key),
                    evaluations::text.eq(&text),
                    evaluations::written_by.eq(written_by),
                    evaluations::created_at.eq(at),
                    evaluations::updated_at.eq(at),
                    evaluations::version.eq(1_i64),
                ))
                .execute(conn)?;
            true
        }
        (None, Some(_)) => return Err(StoreError::StaleVersion { current: 0 }),
        (Some(_), None) => return Err(StoreError::PreconditionRequired),
        (Some(current), Some(expected)) => {
            if !expected.admits(current) {
                return Err(StoreError::StaleVersion { current });
            }
            let changed = diesel::update(
                evaluations::table
                    .find(&key)
                    .filter(evaluations::version.eq(current)),
            )
            .set((
                evaluations::text.eq(&text),
                evaluations::written_by.eq(written_by),
                evaluations::updated_at.eq(at),
                evaluations::version.eq(current + 1),
            ))
            .execute(conn)?;
            if changed == 0 {
                return Err(stale_or_missing(Some(current)));
            }
            false
        }
    };
    let stored = get(conn, situation)?.ok_or(StoreError::NotFound)?;
    Ok((stored, created))
}
