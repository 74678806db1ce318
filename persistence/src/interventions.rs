//! Interventions: the dated acts of a situation.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use relais_domain::ids::{InterventionId, PostId, SituationId};
use relais_domain::intervention::{Intervention, InterventionInput};
use relais_domain::reference::CodeList;

use crate::convert::{meta, now, parse};
use crate::schema::interventions;
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = interventions)]
struct InterventionRow {
    id: String,
    situation_id: String,
    occurred_on: chrono::NaiveDate,
    mode: String,
    kind: String,
    duration_minutes: i32,
    recorded_by: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<InterventionRow> for Intervention {
    type Error = StoreError;
    fn try_from(row: InterventionRow) -> Result<Self, StoreError> {
        Ok(Intervention {
            id: parse("interventions.id", &row.id)?,
            situation_id: parse("interventions.situation_id", &row.situation_id)?,
            details: InterventionInput {
                occurred_on: row.occurred_on,
                mode: parse("interventions.mode", &row.mode)?,
                kind: parse("interventions.kind", &row.kind)?,
                duration_minutes: u16::try_from(row.duration_minutes).map_err(|_| {
                    StoreError::Corrupt(format!("duration_minutes = {}", row.duration_minutes))
                })?,
            },
            recorded_by: row.recorded_by,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// Records an intervention. The caller has validated it and checked the access.
pub fn insert(
    conn: &mut DbConnection,
    situation: SituationId,
    post: PostId,
    input: &InterventionInput,
    recorded_by: &str,
) -> Result<Intervention, StoreError> {
    let id = InterventionId::generate();
    let at = now();
    diesel::insert_into(interventions::table)
        .values((
            interventions::id.eq(id.to_string()),
            interventions::situation_id.eq(situation.to_string()),
            interventions::post_id.eq(post.to_string()),
            interventions::occurred_on.eq(input.occurred_on),
            interventions::mode.eq(input.mode.code()),
            interventions::kind.eq(input.kind.code()),
            interventions::duration_minutes.eq(i32::from(input.duration_minutes)),
            interventions::recorded_by.eq(recorded_by),
            interventions::created_at.eq(at),
            interventions::updated_at.eq(at),
            interventions::version.eq(1_i64),
        ))
        .execute(conn)?;
    interventions::table
        .find(id.to_string())
        .select(InterventionRow::as_select())
        .first(conn)?
        .try_into()
}

/// A situation's interventions in the order they happened.
pub fn list(
    conn: &mut DbConnection,
    situation: SituationId,
) -> Result<Vec<Intervention>, StoreError> {
    interventions::table
        .filter(interventions::situation_id.eq(situation.to_string()))
        .order((interventions::occurred_on, interventions::id))
        .select(InterventionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Intervention::try_from)
        .collect()
}

/// A page of a situation's interventions, the last recorded first (the order of every list).
pub fn page(
    conn: &mut DbConnection,
    situation: SituationId,
    page: &PageRequest,
) -> Result<Page<Intervention>, StoreError> {
    let mut query = interventions::table
        .filter(interventions::situation_id.eq(situation.to_string()))
        .select(InterventionRow::as_select())
        .into_boxed();
    if let Some(cursor) = &page.cursor {
        query = query.filter(interventions::id.lt(cursor));
    }
    let items = query
        .order(interventions::id.desc())
        .limit(page.limit + 1)
        .load(conn)?
        .into_iter()
        .map(Intervention::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |i| {
        i.id.to_string()
    }))
}

/// The latest intervention day of each of `situations` that has one.
pub fn latest_days(
    conn: &mut DbConnection,
    situations: &[SituationId],
) -> Result<std::collections::HashMap<SituationId, chrono::NaiveDate>, StoreError> {
    let mut latest = std::collections::HashMap::new();
    for chunk in situations.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, Option<chrono::NaiveDate>)> = interventions::table
            .filter(interventions::situation_id.eq_any(keys))
            .group_by(interventions::situation_id)
            .select((
                interventions::situation_id,
                diesel::dsl::max(interventions::occurred_on),
            ))
            .load(conn)?;
        for (id, day) in rows {
            if let Some(day) = day {
                latest.insert(parse("interventions.situation_id", &id)?, day);
            }
        }
    }
    Ok(latest)
}

/// The earliest intervention day of a situation, to keep a changed opening day before it.
pub fn earliest(
    conn: &mut DbConnection,
    situation: SituationId,
) -> Result<Option<chrono::NaiveDate>, StoreError> {
    Ok(interventions::table
        .filter(interventions::situation_id.eq(situation.to_string()))
        .select(diesel::dsl::min(interventions::occurred_on))
        .first::<Option<chrono::NaiveDate>>(conn)?)
}

/// How many groups of `intervention_months` (the counts by post, month, mode and kind that the
/// database keeps for the statistics grid, migration 000020) differ from the recount of the
/// interventions, counting a group missing on either side: always 0, which the tests check after
/// every kind of write.
pub fn months_out_of_step(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let month = match conn.backend() {
        crate::Backend::Sqlite => "substr(occurred_on, 1, 7)",
        crate::Backend::Postgres => "to_char(occurred_on, 'YYYY-MM')",
    };
    let recount = format!(
        "SELECT CAST(post_id AS TEXT) AS post_id, {month} AS month, CAST(mode AS TEXT) AS mode, \
                CAST(kind AS TEXT) AS kind, COUNT(*) AS n \
         FROM interventions WHERE post_id IS NOT NULL GROUP BY post_id, {month}, mode, kind"
    );
    let kept = "SELECT CAST(post_id AS TEXT) AS post_id, CAST(month AS TEXT) AS month, \
                CAST(mode AS TEXT) AS mode, CAST(kind AS TEXT) AS kind, n FROM intervention_months";
    let crate::convert::Count { n } = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM (
            SELECT * FROM ({kept} EXCEPT {recount}) only_kept
            UNION ALL SELECT * FROM ({recount} EXCEPT {kept}) only_recounted
         ) differences"
    ))
    .get_result(conn)?;
    Ok(n)
}
