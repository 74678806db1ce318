//! What the platform asks of a running instance: liveness and readiness probes, and metrics.
//! All public (no personal data), none rate-limited.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use relais_persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::KeySource;
use crate::http::metrics::CONTENT_TYPE;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure_root(cfg: &mut ServiceConfig) {
    cfg.service(get_liveness)
        .service(get_readiness)
        .service(get_metrics);
}

/// The process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// The instance can serve: its database answers and carries every migration it needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    /// The backend in use.
    #[schema(example = "postgres")]
    pub database: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    pub token_signing: TokenSigning,
}

/// Which key verifies the bearer tokens: `instance_secret` (zero set-up: the HS256 secret this
/// instance made itself and keeps in its database, so that whoever reads the database can sign
/// tokens; for development and trials), `configured_secret` (the shared HS256 secret of
/// `RELAIS_JWT_SECRET`) or `public_keys` (an identity provider's public keys:
/// `RELAIS_JWT_PUBLIC_KEY`, `RELAIS_JWT_PUBLIC_KEYS` and/or the JWK Set of
/// `RELAIS_JWT_JWKS_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "public_keys")]
pub enum TokenSigning {
    InstanceSecret,
    ConfiguredSecret,
    PublicKeys,
}

impl From<KeySource> for TokenSigning {
    fn from(source: KeySource) -> Self {
        match source {
            KeySource::InstanceSecret => TokenSigning::InstanceSecret,
            KeySource::ConfiguredSecret => TokenSigning::ConfiguredSecret,
            KeySource::ConfiguredPublicKey(_) => TokenSigning::PublicKeys,
        }
    }
}

/// Liveness probe: the process is up.
///
/// The HTTP workers answer; no database is read, so a database outage never gets the
/// instance restarted.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The process answers", body = Liveness))
)]
#[get("/health/live")]
async fn get_liveness() -> web::Json<Liveness> {
    web::Json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness probe: the instance can serve.
///
/// Answered within a second whatever the database does: ready when a write can be committed
/// (SQLite: the file is still the one opened, and a probe row is rewritten and committed, so a
/// full disk or a read-only filesystem is not ready; PostgreSQL: a query answers) and every
/// migration of this version is applied, and the instance is not stopping. A load balancer sends
/// traffic only to ready instances. The answer also says which key verifies tokens
/// (`token_signing`): `instance_secret` means the instance runs in zero set-up mode, which
/// production should not.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The database does not answer within a second, cannot commit a write, or migrations are pending; `Retry-After` says when to ask again", body = crate::http::problem::Problem, content_type = "application/problem+json",
            example = json!({"type": "/problems/unavailable", "title": "The service is unavailable", "status": 503,
                             "detail": "1 migration(s) not applied: 2026-11-26-000005", "request_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"})),
    )
)]
#[get("/health/ready")]
async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.draining.is_on() {
        return Err(ApiError::Unavailable(
            "the instance is stopping: it answers the requests already sent, and takes no new one"
                .into(),
        ));
    }
    no_failing_writes(&state)?;
    let db = state.db.clone();
    // One second for both checks together.
    let pending = within_a_second(move || {
        db.probe()?;
        db.pending_migrations()
    })
    .await?;
    if !pending.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "{} migration(s) not applied: {}",
            pending.len(),
            pending.join(", ")
        )));
    }
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database: state.db.backend().name(),
        version: env!("CARGO_PKG_VERSION"),
        token_signing: state.verifier.source().into(),
    }))
}

/// The longest a probe waits for the database: a balancer must learn of a hung one at once.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// 503 naming why if grouped writes fail for want of the database (a full disk, a read-only
/// filesystem, a lost file): a probe row can still fit where new records do not. Asked by
/// `/health` and `/health/ready` before their probe.
pub fn no_failing_writes(state: &AppState) -> Result<(), ApiError> {
    match state.writes.failing() {
        Some(why) => Err(ApiError::Unavailable(format!("writes fail: {why}"))),
        None => Ok(()),
    }
}

/// `check` on the blocking pool, as a probe's answer: 503 naming why if it fails or takes
/// longer than [`PROBE_TIMEOUT`] (the check may go on; the probe does not wait for it).
pub async fn within_a_second<T: Send + 'static>(
    check: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match actix_web::rt::time::timeout(PROBE_TIMEOUT, web::block(check)).await {
        Err(_) => Err(ApiError::Unavailable(
            "the database did not answer within a second".into(),
        )),
        Ok(Err(e)) => Err(ApiError::Internal(format!("blocking pool: {e}"))),
        Ok(Ok(Err(e))) => Err(ApiError::Unavailable(format!(
            "the database cannot serve: {e}"
        ))),
        Ok(Ok(Ok(value))) => Ok(value),
    }
}

/// Prometheus metrics of this instance.
///
/// In the text exposition format: HTTP requests by route pattern, method and status (count and
/// latency histogram), database pool connections and the webhook outbox backlog. No token
/// needed: it holds counts, never personal data. Turned off with `RELAIS_METRICS=off` (then 404).
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4",
            example = json!("# TYPE relais_http_requests_total counter\nrelais_http_requests_total{method=\"GET\",route=\"/api/v1/situations/{id}\",status=\"200\"} 42\n")),
        (status = 404, description = "Metrics are turned off on this instance (`RELAIS_METRICS=off`)", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
async fn get_metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(metrics) = state.metrics.clone() else {
        return Err(ApiError::NotFound(
            "metrics are turned off on this instance (RELAIS_METRICS=off)".into(),
        ));
    };
    let db = state.db.clone();
    let text = web::block(move || metrics.render(&db))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking pool: {e}")))?
        .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .body(text))
}
