//! What every handler shares, and how handlers reach the database without blocking the event loop.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use relais_persistence::{Database, DbConnection};

use crate::auth::{Authorization, TokenVerifier};
use crate::clock::{SharedClock, SystemClock};
use crate::grids::GridSet;
use crate::http::audit::{AuditTicket, Written};
use crate::http::draining::Draining;
use crate::http::metrics::Metrics;
use crate::http::problem::ApiError;
use crate::http::protection::{Protection, ProtectionSettings};
use crate::writes::Writes;

pub struct AppState {
    pub db: Database,
    pub verifier: Arc<TokenVerifier>,
    /// Where a request's role and scope come from: the token's claims, or the membership of
    /// its identity (`RELAIS_AUTHORIZATION`).
    pub authorization: Authorization,
    pub grids: Arc<GridSet>,
    /// CORS origins and rate limits, shared by every worker.
    pub protection: Arc<Protection>,
    /// The Prometheus metrics, shared by every worker; `None` when `RELAIS_METRICS=off`.
    pub metrics: Option<Arc<Metrics>>,
    /// Where writes and audit events go (see `writes`).
    pub writes: Writes,
    /// Where "now" comes from: the system's clock, or a test's.
    pub clock: SharedClock,
    /// The longest a request's database work may take before the request is answered 503
    /// (`RELAIS_REQUEST_DEADLINE_MS`): a hung database never holds a client for long.
    pub deadline: Duration,
    /// Set when the instance is told to stop (see `draining`).
    pub draining: Draining,
    /// The deadlines the worklist counts with (`RELAIS_HAND_OFF_*_DAYS`,
    /// `RELAIS_IDLE_SITUATION_DAYS`).
    pub worklist: crate::workflows::worklist::WorklistSettings,
    /// The most active webhooks a partner may have (`RELAIS_WEBHOOKS_PER_PARTNER`).
    pub webhooks_per_partner: u32,
    /// The token endpoint's signer, and the token exchange's providers if any
    /// (`RELAIS_OIDC_PROVIDERS`); `None` when the instance cannot sign (it verifies a provider's
    /// public keys only), and `POST /api/v1/auth/token` answers that it issues no token.
    pub front_door: Option<Arc<crate::auth::FrontDoor>>,
}

/// The deadline of the aggregates (statistics grids, activity reports), which read a scope's
/// whole period: a national grid over years of a large instance takes seconds.
pub const AGGREGATE_DEADLINE: Duration = Duration::from_secs(30);

/// The default of `RELAIS_REQUEST_DEADLINE_MS`.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// `work`, or 503 once `deadline` has passed. Past it the work may still finish (a write may
/// still commit): the caller is told only that no answer came in time.
async fn within<T>(
    deadline: Duration,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    actix_web::rt::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Unavailable(format!(
                "the database did not answer within {} ms",
                deadline.as_millis()
            )))
        })
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
            authorization: Authorization::default(),
            grids: Arc::new(grids),
            protection: Arc::new(Protection::new(protection)),
            metrics: metrics.map(Arc::new),
            clock: Arc::new(SystemClock),
            deadline: DEFAULT_DEADLINE,
            draining: Draining::default(),
            worklist: crate::workflows::worklist::WorklistSettings::default(),
            webhooks_per_partner: relais_domain::webhook::DEFAULT_MAX_PER_PARTNER,
            front_door: None,
        })
    }

    /// The same state issuing tokens at the token endpoint.
    pub fn with_front_door(self, front_door: crate::auth::FrontDoor) -> Self {
        Self {
            front_door: Some(Arc::new(front_door)),
            ..self
        }
    }

    /// The same state with the token endpoint, if the instance signs.
    pub fn with_front_door_if(self, front_door: Option<crate::auth::FrontDoor>) -> Self {
        match front_door {
            Some(door) => self.with_front_door(door),
            None => self,
        }
    }

    /// The same state taking roles and scopes from `authorization`.
    pub fn with_authorization(self, authorization: Authorization) -> Self {
        Self {
            authorization,
            ..self
        }
    }

    /// The same state with another deadline for each request's database work.
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self { deadline, ..self }
    }

    /// The same state counting the worklist with `settings`.
    pub fn with_worklist(self, worklist: crate::workflows::worklist::WorklistSettings) -> Self {
        Self { worklist, ..self }
    }

    /// The same state allowing each partner `max` active webhooks.
    pub fn with_webhooks_per_partner(self, max: u32) -> Self {
        Self {
            webhooks_per_partner: max,
            ..self
        }
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
        within(self.deadline, async move {
            web::block(move || db.read(f))
                .await
                .map_err(|e| ApiError::Internal(format!("blocking pool: {e}")))?
        })
        .await
    }

    /// Runs the aggregate `f` on a reading connection, within [`AGGREGATE_DEADLINE`] (and its
    /// statements within a little less, on PostgreSQL), on the blocking thread pool.
    pub async fn read_aggregate<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, relais_persistence::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.db.clone();
        let statements = AGGREGATE_DEADLINE.saturating_sub(Duration::from_secs(2));
        within(AGGREGATE_DEADLINE, async move {
            web::block(move || {
                db.read(|conn| relais_persistence::db::with_statement_timeout(conn, statements, f))
            })
            .await
            .map_err(|e| ApiError::Internal(format!("blocking pool: {e}")))?
            .map_err(ApiError::from)
        })
        .await
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
        let (value, recorded) = within(
            self.deadline,
            self.writes.run(move |conn| {
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
            }),
        )
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
        within(self.deadline, self.writes.run(f)).await
    }
}
