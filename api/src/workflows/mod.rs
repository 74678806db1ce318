//! The use cases, free of HTTP: one function per thing a person or a job can do to a record.
//!
//! Each takes the acting [`Principal`] (a person's verified token, or [`Principal::system`] for
//! a background job), the record's id, the version the caller expects (`If-Match`), the details
//! and `now`, and runs inside the caller's write transaction (`state.write(|conn| ...)`, or
//! `Database::write` in a job). It checks the actor's scope on the record, performs the
//! transition through the domain's rules, and writes the history and the events (built in
//! [`events`]) in that same transaction. It returns the domain record, or a [`WorkflowError`]
//! that the HTTP layer turns into a problem.
//!
//! Nothing here imports actix or the HTTP layer (a test checks it): a handler, a job, an
//! idempotent replay and a unit test call these functions alike.

pub mod beneficiaries;
pub mod clients;
pub mod consolidation;
pub mod events;
pub mod hand_offs;
pub mod members;
pub mod referrals;
pub mod requisitions;
pub mod situations;
pub mod submissions;
pub mod webhooks;
pub mod worklist;

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::ids::PostId;
use relais_domain::reference::AuditedRecord;
use relais_domain::validation::Invalid;
use relais_domain::version::Expected;
use relais_persistence::audit::{self, NewAuditEvent};
use relais_persistence::db::DieselError;
use relais_persistence::{DbConnection, StoreError};

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// No such record within the actor's reach (the same answer for both, so that existence
    /// does not leak).
    #[error("{0}")]
    NotFound(String),
    /// The actor sees the record but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The record's state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the actor read it.
    #[error("the record is at version {current}; read it again and retry with that version")]
    Stale { current: i64 },
    /// The change needs the version the actor read (`If-Match`).
    #[error("{0}")]
    PreconditionRequired(String),
    /// The details break the rules; the fields at fault are named.
    #[error("{0}")]
    Invalid(Invalid),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WorkflowError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::StaleVersion { current } => WorkflowError::Stale { current },
            other => WorkflowError::Store(other),
        }
    }
}

impl From<Invalid> for WorkflowError {
    fn from(invalid: Invalid) -> Self {
        WorkflowError::Invalid(invalid)
    }
}

impl From<DieselError> for WorkflowError {
    fn from(error: DieselError) -> Self {
        WorkflowError::Store(error.into())
    }
}

pub type Outcome<T> = Result<T, WorkflowError>;

/// The record if it exists and `visible` says the actor may see it; the same `NotFound`
/// otherwise, whichever of the two it is.
pub fn found_within<T>(
    found: Result<T, StoreError>,
    what: &str,
    visible: impl FnOnce(&T) -> bool,
) -> Outcome<T> {
    match found {
        Ok(record) if visible(&record) => Ok(record),
        Ok(_) | Err(StoreError::NotFound) => {
            Err(WorkflowError::NotFound(format!("no such {what}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether `actor` may act on the cases of `post`: a social worker of the post, or a job.
pub fn acts_for_post(actor: &Principal, post: PostId) -> bool {
    actor.is_system() || actor.can_write_cases(post)
}

/// Whether `actor` may read the cases of `post`: its staff, or a job.
pub fn reads_post(actor: &Principal, post: PostId) -> bool {
    actor.is_system() || actor.can_read_cases(post)
}

/// Leaves the audit event of a job's act, in the act's own transaction. A person's acts are
/// audited by the access gate their request passes; a job passes no gate, so the workflow
/// records it. Does nothing for a person.
pub fn audit_job_act(
    conn: &mut DbConnection,
    actor: &Principal,
    action: &'static str,
    record: (AuditedRecord, String),
    now: DateTime<Utc>,
) -> Outcome<()> {
    if !actor.is_system() {
        return Ok(());
    }
    audit::append(
        conn,
        &NewAuditEvent {
            at: now,
            subject: actor.subject.clone(),
            role: actor.role,
            action,
            record: Some(record),
            post_hint: None,
            status: 200,
            replayed: false,
        },
    )?;
    Ok(())
}

/// `Stale` unless the record is at a version the actor expects.
pub fn expect_version(expected: &Expected, current: i64) -> Outcome<()> {
    if expected.admits(current) {
        Ok(())
    } else {
        Err(WorkflowError::Stale { current })
    }
}

#[cfg(test)]
mod tests;
