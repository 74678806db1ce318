//! Secrets the instance makes for itself, such as the signing key used when none is configured.
//! They are sealed (see `sealing`): a copy of the database holds no usable secret.

use diesel::prelude::*;

use crate::convert::now;
use crate::schema::instance_secrets;
use crate::sealing::{self, INSTANCE_SECRET};
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
        return sealing::open(INSTANCE_SECRET, name, &value);
    }
    let value = generate();
    let sealed = sealing::seal(INSTANCE_SECRET, name, &value)?;
    let row = (
        instance_secrets::name.eq(name),
        instance_secrets::value.eq(&sealed),
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
            let winner = instance_secrets::table
                .find(name)
                .select(instance_secrets::value)
                .first::<String>(pg)?;
            sealing::open(INSTANCE_SECRET, name, &winner)
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
