//! Rotation: every sealed value moved under the active data key, in batches, one transaction
//! each. Values in clear (a database from before sealing) are sealed the same way. Reads go on
//! meanwhile: the keys of a process hold the old key too until every value has moved.
//!
//! Resumable by construction: a batch selects only values not yet under the active key, so a
//! pass stopped anywhere starts again where it was. Each update compares the value it read, so a
//! value rewritten meanwhile by a request (already under the active key) is left alone. A pass
//! that completes is recorded in `sealing_passes`, so that `relais serve` runs it at start only
//! for an active key it has not completed for.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::convert::Count;
use crate::keys;
use crate::schema::sealing_passes;
use crate::sealing::{self, Column, SEALED_COLUMNS};
use crate::{Backend, Database, DbConnection, StoreError};

/// Where a sealed column lives: its table, the SQL of its record's key (as the sealing's
/// associated data names it) and the primary-key columns its updates match.
struct Place {
    table: &'static str,
    column: &'static str,
    record: &'static str,
    primary_key: &'static [&'static str],
}

fn place(column: Column) -> Place {
    let (table, name) = column.0.split_once('.').unwrap_or((column.0, ""));
    let (record, primary_key): (&'static str, &'static [&'static str]) = match table {
        "evaluations" => ("situation_id", &["situation_id"]),
        "instance_secrets" => ("name", &["name"]),
        "hand_off_transitions" => (
            "hand_off_id || '/' || CAST(position AS TEXT)",
            &["hand_off_id", "position"],
        ),
        _ => ("id", &["id"]),
    };
    Place {
        table,
        column: name,
        record,
        primary_key,
    }
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = Text)]
    record: String,
    #[diesel(sql_type = Text)]
    value: String,
}

fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".into(),
        Backend::Postgres => format!("${n}"),
    }
}

/// The condition on `place`'s column of a value not under the active key (in clear or under
/// another); the key id is checked against the key's rules, so it is safe in the statement.
fn pending_condition(place: &Place, active: &str) -> String {
    let prefix = format!("sealed1:{active}:");
    format!(
        "{c} IS NOT NULL AND {c} <> '' AND substr({c}, 1, {n}) <> '{prefix}'",
        c = place.column,
        n = prefix.len()
    )
}

fn active_id() -> Result<String, StoreError> {
    let id = keys::installed()?.active.id.clone();
    if keys::Key::is_valid_id(&id) {
        Ok(id)
    } else {
        Err(StoreError::Corrupt(format!("data key id {id:?}")))
    }
}

/// How many sealed values are not under the active key yet, over every sealed column.
pub fn pending(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let active = active_id()?;
    let mut total = 0;
    for column in SEALED_COLUMNS {
        let place = place(*column);
        let Count { n } = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {}",
            place.table,
            pending_condition(&place, &active)
        ))
        .get_result(conn)?;
        total += u64::try_from(n).unwrap_or(0);
    }
    Ok(total)
}

/// Moves at most `limit` values of one column under the active key; how many it moved. Zero
/// means the column is done.
fn reseal_batch(conn: &mut DbConnection, column: Column, limit: i64) -> Result<usize, StoreError> {
    let active = active_id()?;
    let backend = conn.backend();
    let place = place(column);
    let batch: Vec<Pending> = diesel::sql_query(format!(
        "SELECT {record} AS record, {c} AS value FROM {t} WHERE {cond} ORDER BY {pk} LIMIT {limit}",
        record = place.record,
        c = place.column,
        t = place.table,
        cond = pending_condition(&place, &active),
        pk = place.primary_key.join(", "),
    ))
    .load(conn)?;
    let mut moved = 0;
    for Pending { record, value } in &batch {
        let Some(resealed) = sealing::reseal(column, record, value)? else {
            continue;
        };
        // The record's key, matched column by column (a transition's is `hand_off_id/position`).
        let key_values: Vec<&str> = if place.primary_key.len() == 2 {
            let (hand_off, position) = record.rsplit_once('/').unwrap_or((record, ""));
            vec![hand_off, position]
        } else {
            vec![record.as_str()]
        };
        let mut conditions = Vec::new();
        for (i, pk) in place.primary_key.iter().enumerate() {
            let cast = if *pk == "position" {
                "CAST(position AS TEXT)"
            } else {
                pk
            };
            conditions.push(format!("{cast} = {}", placeholder(backend, i + 3)));
        }
        let sql = format!(
            "UPDATE {t} SET {c} = {p1} WHERE {c} = {p2} AND {keys}",
            t = place.table,
            c = place.column,
            p1 = placeholder(backend, 1),
            p2 = placeholder(backend, 2),
            keys = conditions.join(" AND "),
        );
        let query = diesel::sql_query(sql)
            .bind::<Text, _>(resealed)
            .bind::<Text, _>(value.clone())
            .bind::<Text, _>(key_values[0].to_owned());
        moved += match key_values.get(1) {
            Some(second) => query.bind::<Text, _>((*second).to_owned()).execute(conn)?,
            None => query.execute(conn)?,
        };
    }
    // A batch whose values all changed meanwhile moved nothing but is not the end.
    Ok(if batch.is_empty() { 0 } else { moved.max(1) })
}

/// Moves every sealed value under the active key, `batch` values per transaction, calling
/// `progress` with the number moved so far; records the pass. Returns how many moved.
pub fn reseal_all(
    db: &Database,
    batch: i64,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let mut moved = 0u64;
    for column in SEALED_COLUMNS {
        loop {
            let n = db.write(|conn| reseal_batch(conn, *column, batch))?;
            if n == 0 {
                break;
            }
            moved += n as u64;
            progress(moved);
        }
    }
    let active = active_id()?;
    // Two replicas starting together both complete the pass: the second record is a no-op.
    db.write(|conn| {
        let backend = conn.backend();
        diesel::sql_query(format!(
            "INSERT INTO sealing_passes (key_id, completed_at) VALUES ({}, {}) \
             ON CONFLICT (key_id) DO NOTHING",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ))
        .bind::<Text, _>(&active)
        .bind::<diesel::sql_types::Timestamp, _>(crate::convert::now())
        .execute(conn)?;
        Ok::<_, StoreError>(())
    })?;
    Ok(moved)
}

/// Whether a pass completed for the active key.
pub fn completed_for_active_key(conn: &mut DbConnection) -> Result<bool, StoreError> {
    let active = active_id()?;
    Ok(sealing_passes::table
        .find(&active)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}
