//! What every handler shares, and how handlers reach the database without blocking the event loop.

use std::sync::Arc;

use actix_web::web;
use relais_persistence::{Database, DbConnection};

use crate::auth::TokenVerifier;
use crate::clock::{SharedClock, SystemClock};
use crate::grids::GridSet;
use crate::http::audit::{AuditTicket, Written};
use crate::http::metrics::Metrics;
use crate::http::problem::ApiError;
use crate::http::protection::{Protection, ProtectionSettings};
use crate::writes::Writes;

pub struct AppState {
    pub db: Database,
    pub verifier: Arc<TokenVerifier>,
    pub grids: Arc<GridSet>,
    /// CORS origins and rate limits, shared by every worker.
    pub protection: Arc<Protection>,
    /// The Prometheus metrics, shared by every worker; `None` when `RELAIS_METRICS=off`.
    pub metrics: Option<Arc<Metrics>>,
    /// Where writes and audit events go (see `writes`).
    pub writes: Writes,
    /// Where "now" comes from: the system's clock, or a test's.
    pub clock: SharedClock,
}

impl AppState {
    /// The state of one instance over `db`, its writer threads started.
    pub fn new(
        db: Database,
        verifier: TokenVerifier,
        grids: GridSet,
        protection: &ProtectionSettings,
        metrics: Option<Metrics>,
    ) -> Result<Self, String> {
        Ok(Self {
            writes: Writes::start(db.clone())?,
            db,
            verifier: Arc::new(verifier),
            grids: Arc::new(grids),
            protection: Arc::new(Protection::new(protection)),
            metrics: metrics.map(Arc::new),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same state reading the time from `clock` (tests, and runs as of a date).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    /// Runs `f` on a reading connection, on the blocking thread pool.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        web::block(move || db.read(f))
            .await
            .map_err(|e| ApiError::Internal(format!("blocking pool: {e}")))?
    }

    /// Runs `f` in one write transaction, with the audit event of the request's `ticket`
    /// (`CurrentUser::ticket`, present when its endpoint is audited), and returns once both are committed: a write is stored only with
    /// its event. `f` says in `Written` what it created and how it answers.
    pub async fn write<T: Send + 'static>(
        &self,
        ticket: Option<Arc<AuditTicket>>,
        f: impl FnOnce(&mut DbConnection, &mut Written) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let in_write = ticket.clone();
        let (value, recorded) = self
            .writes
            .run(move |conn| {
                let mut written = Written::default();
                let value = f(conn, &mut written)?;
                let recorded = match &in_write {
                    Some(ticket) if !written.unchanged => {
                        let event = ticket.event(written.record, written.status, false);
                        relais_persistence::audit::append(conn, &event)?;
                        true
                    }
                    _ => false,
                };
                Ok::<_, ApiError>((value, recorded))
            })
            .await?;
        if let Some(ticket) = ticket.filter(|_| recorded) {
            ticket.mark_recorded();
        }
        Ok(value)
    }

    /// Runs `f` in one write transaction that no request's audit concerns (a job's, a test's).
    pub async fn write_unaudited<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.writes.run(f).await
    }
}
