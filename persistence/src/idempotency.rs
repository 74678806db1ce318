//! Idempotency keys: a retried write is recognised and changes nothing more. What is kept is what
//! identifies the first outcome (its status and the record it concerns), never the answer
//! itself: a retry is answered with the record's current view for its caller, through the
//! access rules (see `relais_api::http::idempotency`).

use diesel::prelude::*;

use crate::convert::now;
use crate::schema::idempotency_keys;
use crate::{DbConnection, StoreError};

/// The first outcome of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOutcome {
    /// The hash of what identified the request: method, path and canonical body.
    pub fingerprint: String,
    pub status: u16,
    /// The record the request concerned.
    pub record_id: Option<String>,
}

pub fn find(
    conn: &mut DbConnection,
    grant: &str,
    key: &str,
) -> Result<Option<StoredOutcome>, StoreError> {
    let row: Option<(String, i32, Option<String>)> = idempotency_keys::table
        .find((grant, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::record_id,
        ))
        .first(conn)
        .optional()?;
    row.map(|(fingerprint, status, record_id)| {
        Ok(StoredOutcome {
            fingerprint,
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("response_status = {status}")))?,
            record_id,
        })
    })
    .transpose()
}

/// Claims the key before the work starts. On PostgreSQL a concurrent request with the same
/// key waits here until the first commits, then fails with `Conflict` and replays it.
pub fn reserve(
    conn: &mut DbConnection,
    grant: &str,
    key: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::subject.eq(grant),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(fingerprint),
            idempotency_keys::response_status.eq(0),
            idempotency_keys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the outcome of a reserved key, in the same transaction as the work.
pub fn complete(
    conn: &mut DbConnection,
    grant: &str,
    key: &str,
    status: u16,
    record_id: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(idempotency_keys::table.find((grant, key)))
        .set((
            idempotency_keys::response_status.eq(i32::from(status)),
            idempotency_keys::record_id.eq(record_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets the keys of requests about `records` (a person's erasure or anonymisation).
pub fn forget_records(conn: &mut DbConnection, records: &[String]) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::record_id.eq_any(records)))
            .execute(conn)?,
    )
}
