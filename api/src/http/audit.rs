//! The audit half of the gate: the event of every answer the access middleware lets through.
//!
//! - A **write** records its event inside its own transaction ([`AppState::write`] appends it
//!   from the request's [`AuditTicket`]), so an answer is 2xx if and only if both the change and
//!   its event are stored.
//! - Anything else (a read, a refusal, a failed write) is recorded by the middleware once the
//!   answer is ready; the answer waits for that commit and is withheld if it fails.
//! - A **list** names every record it shows ([`Shown`]): one event per record, each tied to its
//!   post and person, written in one insert, so a person's access history lists every read that
//!   displayed them.
//! - An **idempotent replay** (`Idempotent-Replayed: true`) is recorded with outcome `replayed`.
//!
//! [`AppState::write`]: crate::http::state::AppState::write

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::ids::PostId;
use relais_domain::reference::AuditedRecord;
use relais_persistence::audit::NewAuditEvent;

/// The header that marks an idempotent replay.
pub const REPLAYED: &str = "idempotent-replayed";

/// What the gate knows of an audited request before its handler runs; a write's handler
/// reaches it through `CurrentUser` and records the event in the write's transaction.
#[derive(Debug)]
pub struct AuditTicket {
    at: DateTime<Utc>,
    subject: String,
    role: relais_domain::reference::Role,
    action: &'static str,
    kind: AuditedRecord,
    /// The path's `{id}`, in its one spelling.
    path_record: Option<String>,
    post_hint: Option<PostId>,
    /// Set once a write's transaction that holds the event has committed.
    recorded: AtomicBool,
}

impl AuditTicket {
    pub fn new(
        at: DateTime<Utc>,
        principal: &Principal,
        action: &'static str,
        kind: AuditedRecord,
        path_record: Option<String>,
        post_hint: Option<PostId>,
    ) -> Self {
        Self {
            at,
            subject: principal.subject.clone(),
            role: principal.role,
            action,
            kind,
            path_record,
            post_hint,
            recorded: AtomicBool::new(false),
        }
    }

    /// The event of this request, about `record` (else the path's record), answered `status`.
    pub fn event(&self, record: Option<String>, status: u16, replayed: bool) -> NewAuditEvent {
        NewAuditEvent {
            at: self.at,
            subject: self.subject.clone(),
            role: self.role,
            action: self.action,
            record: record
                .or_else(|| self.path_record.clone())
                .map(|id| (self.kind, id)),
            post_hint: self.post_hint,
            status,
            replayed,
        }
    }

    /// The events of a list that showed `records` (one, without a record, for an empty list).
    pub fn events_of_list(&self, records: &[String], status: u16) -> Vec<NewAuditEvent> {
        if records.is_empty() {
            return vec![self.event(None, status, false)];
        }
        records
            .iter()
            .map(|id| self.event(Some(id.clone()), status, false))
            .collect()
    }

    /// Says that the event was committed with the write.
    pub fn mark_recorded(&self) {
        self.recorded.store(true, Ordering::SeqCst);
    }

    pub fn is_recorded(&self) -> bool {
        self.recorded.load(Ordering::SeqCst)
    }
}

/// The record an idempotent retry answered, left in the response's extensions: a create's path
/// names no record, so the gate learns it here.
#[derive(Debug, Clone)]
pub struct RetriedRecord(pub String);

/// The records a list answer shows, left by its handler in the response's extensions.
#[derive(Debug, Clone, Default)]
pub struct Shown(pub Vec<String>);

/// What a write's audit event says of the write: filled by the write itself when it creates a
/// record (the event names it) or answers other than 200.
#[derive(Debug, Clone)]
pub struct Written {
    pub(crate) record: Option<String>,
    pub(crate) status: u16,
    /// Nothing was written (an idempotent retry): the gate audits the answer after it.
    pub(crate) unchanged: bool,
}

impl Default for Written {
    fn default() -> Self {
        Self {
            record: None,
            status: 200,
            unchanged: false,
        }
    }
}

impl Written {
    /// The write created `id` (answered 201).
    pub fn created(&mut self, id: impl ToString) {
        self.record = Some(id.to_string());
        self.status = 201;
    }

    /// Nothing was written after all (an idempotent retry): no event goes with the
    /// transaction, and the gate audits the answer as it audits a read.
    pub fn unchanged(&mut self) {
        self.unchanged = true;
    }

    /// The write is answered 201, about the path's record (a hand-off or an intervention of
    /// the situation, the situation of a take-up).
    pub fn answered_created(&mut self) {
        self.status = 201;
    }
}
