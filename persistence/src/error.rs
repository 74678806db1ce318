//! What can go wrong in storage, in terms the API can map to a status.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use relais_domain::validation::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such record")]
    NotFound,
    /// The caller's `If-Match` names an older version than the stored one.
    #[error("the record has changed: it is now at version {current}")]
    StaleVersion { current: i64 },
    /// The record exists and may only be replaced with `If-Match`.
    #[error("the record exists: send If-Match with its version")]
    PreconditionRequired,
    /// A domain rule refused the change (checked inside the transaction, against stored state).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(DieselError),
    /// The database cannot take writes safely now (its file was deleted or replaced).
    #[error("{0}")]
    Unavailable(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A stored value the domain does not accept: a bug or a manual edit, never user input.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The data keys are missing (never installed) or cannot seal: a fault of the deployment.
    #[error("keys: {0}")]
    Keys(String),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(info.message().to_owned())
            }
            // PostgreSQL cancelled a statement that waited past `lock_timeout` or ran past
            // `statement_timeout`: the database is busy, not the request wrong.
            DieselError::DatabaseError(_, info)
                if info.message().contains("lock timeout")
                    || info.message().contains("statement timeout") =>
            {
                StoreError::Unavailable(format!(
                    "the database did not answer in time: {}",
                    info.message()
                ))
            }
            // SQLite cannot write its file: a full disk, a read-only filesystem, an I/O error.
            DieselError::DatabaseError(_, info)
                if [
                    "database or disk is full",
                    "readonly database",
                    "disk I/O error",
                ]
                .iter()
                .any(|m| info.message().contains(m)) =>
            {
                StoreError::Unavailable(format!(
                    "the database cannot write its file: {}",
                    info.message()
                ))
            }
            other => StoreError::Database(other),
        }
    }
}

/// The error for a guarded update that changed no row: stale if the record exists, else missing.
pub(crate) fn stale_or_missing(current_version: Option<i64>) -> StoreError {
    match current_version {
        Some(current) => StoreError::StaleVersion { current },
        None => StoreError::NotFound,
    }
}
