//! Prometheus metrics, served at `/metrics` (`RELAIS_METRICS=on`, the default).
//!
//! - `relais_http_requests_total` and `relais_http_request_duration_seconds`, by `method`,
//!   `route` and `status`. The route is the matched pattern (`/api/v1/situations/{id}`), never
//!   the raw path, and `unmatched` for paths no route knows; methods outside the standard ones
//!   count as `other`: ids and scanners cannot make the series grow without bound.
//! - `relais_db_pool_connections` by `pool` and `state` (`in_use`, `idle`), read at each scrape.
//! - `relais_webhook_outbox_pending` and `relais_webhook_outbox_due`: the outbox's backlog,
//!   counted at each scrape. It is the database's, so every replica reports the same figure.
//!
//! Nothing personal is exposed: counts, durations and route patterns only.
//!
//! Built on the `prometheus` crate with a small middleware rather than `actix-web-prom`: that
//! crate serves its endpoint from inside the middleware (outside the routes, the access matrix
//! and the OpenAPI document) and labels routes by filling the pattern with `strfmt`, which
//! cannot read Swagger UI's `{_:.*}` pattern and warns at each of its requests.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use relais_persistence::Database;
use relais_persistence::webhooks::Backlog;

use crate::clock::{Clock, SystemClock};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The metrics of one process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pool: IntGaugeVec,
    outbox_pending: IntGauge,
    outbox_due: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("relais".to_owned()), None)?;
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &labels,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request (until the response head), in seconds",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &labels,
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database connections of the pool, in use or idle",
            ),
            &["pool", "state"],
        )?;
        let outbox_pending = IntGauge::new(
            "webhook_outbox_pending",
            "Webhook deliveries not yet delivered nor given up (all replicas)",
        )?;
        let outbox_due = IntGauge::new(
            "webhook_outbox_due",
            "Pending webhook deliveries whose attempt is due now (all replicas)",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(outbox_due.clone()))?;
        Ok(Self {
            registry,
            requests,
            durations,
            pool,
            outbox_pending,
            outbox_due,
        })
    }

    fn observe(&self, method: &Method, route: &str, status: u16, started: Instant) {
        let status = status.to_string();
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.durations
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    /// Reads the service gauges from `db`, then renders everything in the text format.
    /// Blocking: call it off the event loop.
    pub fn render(&self, db: &Database) -> Result<String, String> {
        for usage in db.pool_usage() {
            let idle = i64::from(usage.idle);
            let in_use = i64::from(usage.open.saturating_sub(usage.idle));
            self.pool
                .with_label_values(&[usage.pool, "in_use"])
                .set(in_use);
            self.pool.with_label_values(&[usage.pool, "idle"]).set(idle);
        }
        match db.read(|conn| relais_persistence::webhooks::backlog(conn, SystemClock.now())) {
            Ok(Backlog { pending, due }) => {
                self.outbox_pending.set(pending);
                self.outbox_due.set(due);
            }
            // The request metrics are still worth serving; the gauges keep their last value.
            Err(e) => log::warn!("metrics: cannot count the webhook outbox: {e}"),
        }
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .map_err(|e| e.to_string())?;
        String::from_utf8(text).map_err(|e| e.to_string())
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware: counts and times every request by route pattern, method and status.
/// It does nothing when metrics are off.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Registered by `app` beside the state, so that this layer needs nothing else of it.
    let metrics = req
        .app_data::<web::Data<Option<Arc<Metrics>>>>()
        .and_then(|metrics| metrics.get_ref().clone());
    let Some(metrics) = metrics else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let started = Instant::now();
    let method = req.method().clone();
    // The pattern comes from the app's route map, so it is known before routing runs.
    let route = req.match_pattern();
    let response = next.call(req).await;
    let status = match &response {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    };
    metrics.observe(
        &method,
        route.as_deref().unwrap_or(UNMATCHED),
        status,
        started,
    );
    response.map(ServiceResponse::map_into_boxed_body)
}
