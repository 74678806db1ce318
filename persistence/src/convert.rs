//! Mapping between stored values and domain values.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use relais_domain::post::RecordMeta;

use crate::StoreError;

/// The one number of a raw `SELECT COUNT(*) AS n …`.
#[derive(diesel::QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// An instant as stored: UTC, to the microsecond (PostgreSQL's precision, so both backends agree).
pub fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}

/// The current instant as stored, for the directory and infrastructure records (posts, units,
/// partners, webhooks, stored secrets and answers) whose writes do not go through a workflow
/// yet. Case records are stamped with the `now` their workflow was given.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> NaiveDateTime {
    stored(Utc::now())
}

pub(crate) fn meta(
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
) -> RecordMeta {
    RecordMeta {
        created_at: created_at.and_utc(),
        updated_at: updated_at.and_utc(),
        version,
    }
}

/// Parses a stored code or id; a failure means the database holds what the domain never wrote.
pub(crate) fn parse<T: FromStr>(column: &str, value: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

pub(crate) fn parse_opt<T: FromStr>(
    column: &str,
    value: Option<&str>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| parse(column, v)).transpose()
}
