//! Secrets the instance makes for itself, such as the signing key used when none is configured.

use diesel::prelude::*;

use crate::convert::now;
use crate::schema::instance_secrets;
use crate::{DbConnection, StoreError};

/// The secret named `name`, created with `generate` on first use.
///
/// Runs in the caller's write transaction; two processes starting together agree on one value.
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    let existing = instance_secrets::table
        .find(name)
        .select(instance_secrets::value)
        .first::<String>(conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = generate();
    let row = (
        instance_secrets::name.eq(name),
        instance_secrets::value.eq(&value),
        instance_secrets::created_at.eq(now()),
    );
    match conn {
        // Two replicas starting together on a fresh database both find no secret; the second
        // insert waits for the first to commit, then yields, and the winner's value is read.
        DbConnection::Postgres(pg) => {
            diesel::insert_into(instance_secrets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(pg)?;
            Ok(instance_secrets::table
                .find(name)
                .select(instance_secrets::value)
                .first::<String>(pg)?)
        }
        // A single writer: the read above and this insert cannot interleave with another's.
        DbConnection::Sqlite(sqlite) => {
            diesel::insert_into(instance_secrets::table)
                .values(row)
                .execute(sqlite)?;
            Ok(value)
        }
    }
}
