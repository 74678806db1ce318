//! A copy of the audit trail outside the database (`RELAIS_AUDIT_COPY`, as the CNIL asks of
//! access logs): each event appended in a [`Database::write`] is handed to the database's sink
//! once that transaction has committed, and never if it rolls back (a savepoint that rolls back
//! takes its events out of the copy too).
//!
//! The events of a transaction wait in a buffer of the thread that runs it (diesel has no
//! commit hook, and a transaction runs on one thread): nothing is buffered for a database
//! without a sink.
//!
//! [`Database::write`]: crate::Database::write

use std::cell::RefCell;

use crate::audit_chain::ChainedEvent;

/// Where the copy goes; called after each commit that appended events, in chain order.
pub trait AuditSink: Send + Sync {
    fn committed(&self, events: &[ChainedEvent]);
}

thread_local! {
    /// The events of the transaction under way on this thread, when its database copies.
    static PENDING: RefCell<Option<Vec<ChainedEvent>>> = const { RefCell::new(None) };
}

/// Starts buffering for a transaction; returns what an enclosing one had buffered.
pub(crate) fn open() -> Option<Vec<ChainedEvent>> {
    PENDING.with_borrow_mut(|pending| pending.replace(Vec::new()))
}

/// Ends the transaction's buffering and returns its events.
pub(crate) fn close(outer: Option<Vec<ChainedEvent>>) -> Vec<ChainedEvent> {
    PENDING
        .with_borrow_mut(|pending| std::mem::replace(pending, outer))
        .unwrap_or_default()
}

/// Buffers events just appended, if the transaction copies.
pub(crate) fn record(events: &[ChainedEvent]) {
    PENDING.with_borrow_mut(|pending| {
        if let Some(pending) = pending {
            pending.extend_from_slice(events);
        }
    });
}

/// How many events are buffered: what a savepoint rolls back to.
pub(crate) fn mark() -> usize {
    PENDING.with_borrow(|pending| pending.as_ref().map_or(0, Vec::len))
}

/// Forgets the events buffered since `mark` (their savepoint rolled back).
pub(crate) fn rewind(mark: usize) {
    PENDING.with_borrow_mut(|pending| {
        if let Some(pending) = pending {
            pending.truncate(mark);
        }
    });
}
