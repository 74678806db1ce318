//! Stored answers to writes sent with an `Idempotency-Key`, so a retry gets the first answer.

use diesel::prelude::*;

use crate::convert::now;
use crate::schema::idempotency_keys;
use crate::{DbConnection, StoreError};

/// The first answer given to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// What identified the request: method, path and canonical body.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

pub fn find(
    conn: &mut DbConnection,
    subject: &str,
    key: &str,
) -> Result<Option<StoredAnswer>, StoreError> {
    let row: Option<(String, i32, String)> = idempotency_keys::table
        .find((subject, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::response_body,
        ))
        .first(conn)
        .optional()?;
    row.map(|(fingerprint, status, body)| {
        Ok(StoredAnswer {
            fingerprint,
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("response_status = {status}")))?,
            body,
        })
    })
    .transpose()
}

/// Claims the key before the work starts. On PostgreSQL a concurrent request with the same
/// key waits here until the first commits, then fails with `Conflict` and replays its answer.
pub fn reserve(
    conn: &mut DbConnection,
    subject: &str,
    key: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::subject.eq(subject),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(fingerprint),
            idempotency_keys::response_status.eq(0),
            idempotency_keys::response_body.eq(""),
            idempotency_keys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the answer of a reserved key, in the same transaction as the work.
pub fn complete(
    conn: &mut DbConnection,
    subject: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    diesel::update(idempotency_keys::table.find((subject, key)))
        .set((
            idempotency_keys::response_status.eq(i32::from(status)),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}
