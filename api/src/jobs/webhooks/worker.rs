//! The delivery worker: a thread of `relais serve` that claims due deliveries from the outbox,
//! POSTs them, and records how each attempt went.
//!
//! Claims are leases: a worker (or replica) that dies mid-delivery leaves rows that come due
//! again when the lease ends, and are sent again under the same `webhook-id`. Delivery is
//! therefore at least once; receivers drop repeats by `webhook-id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use relais_domain::webhook::{INTERNAL_ERROR, UNREACHABLE, answered_error, next_attempt};
use relais_persistence::webhooks::{self, DueDelivery};
use relais_persistence::{Database, StoreError};

use super::addresses::Resolver;
use super::signing::sign;
use crate::clock::{Clock, SystemClock};
use crate::events::Event;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Most deliveries claimed, and sent side by side, per round.
pub const BATCH: i64 = 32;

/// How the worker runs; see README.md for the variables that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `RELAIS_WEBHOOKS`: `on` (default) or `off`.
    pub enabled: bool,
    /// `RELAIS_WEBHOOK_POLL_MS`: how often the outbox is read when idle (default 1 s).
    pub poll: Duration,
    /// `RELAIS_WEBHOOK_RETRY_BASE_MS`: the wait after a first failed attempt, doubled after
    /// each further one (default 5 s).
    pub retry_base: Duration,
    /// `RELAIS_WEBHOOK_LEASE_SECONDS`: how long a claimed delivery is left to its worker before
    /// another may take it (default 60 s).
    pub lease: Duration,
    /// `RELAIS_WEBHOOK_PRIVATE_ADDRESSES`: whether deliveries may go to loopback, private or
    /// link-local addresses (default `off`; see `addresses`).
    pub private_addresses: bool,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll: Duration::from_millis(1000),
            retry_base: Duration::from_millis(5000),
            lease: Duration::from_secs(60),
            private_addresses: false,
        }
    }
}

/// The running worker; [`WebhookWorker::stop`] (or dropping it) ends its thread.
pub struct WebhookWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookWorker {
    /// Starts delivering from `db` on a thread of its own.
    pub fn spawn(db: Database, settings: WorkerSettings) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let runner = Runner::new(db, settings, stop.clone());
        let thread = std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || runner.run())
            .map_err(|e| log::error!("webhooks: cannot start the delivery thread: {e}"))
            .ok();
        Self { stop, thread }
    }

    /// A handle that asks the worker to stop without waiting, e.g. from a signal handler, so
    /// that it claims nothing more while the HTTP server drains.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            thread: self.thread.as_ref().map(|t| t.thread().clone()),
        }
    }

    /// Asks the worker to stop and waits for the deliveries under way to end: each one is
    /// either answered and recorded, or (receiver silent) times out after [`TIMEOUT`] and is
    /// recorded as a failed attempt, to be retried. Claims not yet started are given back.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stopper().stop();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("webhooks: the delivery thread panicked");
        }
    }
}

/// Asks a [`WebhookWorker`] to stop; see [`WebhookWorker::stopper`].
#[derive(Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::Thread>,
}

impl Stopper {
    /// The worker finishes the deliveries under way, claims no more, and its thread ends.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = &self.thread {
            // `run` parks between rounds: wake it so that it sees the flag now.
            thread.unpark();
        }
    }
}

impl Drop for WebhookWorker {
    fn drop(&mut self) {
        self.halt();
    }
}

/// How one attempt went.
enum Outcome {
    Delivered(u16),
    Failed(Failure),
}

/// Why an attempt failed.
enum Failure {
    /// The receiver answered this status, not 2xx.
    Answered(u16),
    /// No answer came: DNS, connection, TLS, timeout, or an address that is not public. The
    /// text is for the server's log only.
    Unreachable(String),
    /// Relais could not build the request, and sent nothing. For the log only too.
    NotSent(String),
}

impl Failure {
    /// The receiver's status, when it answered.
    fn status(&self) -> Option<u16> {
        match self {
            Failure::Answered(status) => Some(*status),
            Failure::Unreachable(_) | Failure::NotSent(_) => None,
        }
    }

    /// The delivery's `last_error`: the receiver's status (`HTTP 503`), or `unreachable` for
    /// whatever kept the request from an answer, never its detail. A partner chooses the URL
    /// and reads this back: were it told "connection refused" from "timed out" or "no such
    /// name", the worker would scan the network it runs in for them.
    fn recorded(&self) -> String {
        match self {
            Failure::Answered(status) => answered_error(*status),
            Failure::Unreachable(_) => UNREACHABLE.to_owned(),
            Failure::NotSent(_) => INTERNAL_ERROR.to_owned(),
        }
    }

    /// What the server's log says of it.
    fn logged(&self) -> String {
        match self {
            Failure::Answered(status) => format!("status {status}"),
            Failure::Unreachable(why) => format!("no answer: {why}"),
            Failure::NotSent(why) => format!("not sent: {why}"),
        }
    }
}

struct Runner {
    db: Database,
    settings: WorkerSettings,
    stop: Arc<AtomicBool>,
    agent: ureq::Agent,
}

impl Runner {
    fn new(db: Database, settings: WorkerSettings, stop: Arc<AtomicBool>) -> Self {
        let mut agent = ureq::AgentBuilder::new()
            .timeout(TIMEOUT)
            .redirects(0)
            .resolver(Resolver {
                private_allowed: settings.private_addresses,
            })
            .user_agent(concat!("Relais-Webhooks/", env!("CARGO_PKG_VERSION")));
        match ureq::native_tls::TlsConnector::new() {
            Ok(tls) => agent = agent.tls_connector(Arc::new(tls)),
            Err(e) => log::error!("webhooks: no TLS, https deliveries will fail: {e}"),
        }
        Self {
            db,
            settings,
            stop,
            agent: agent.build(),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run(&self) {
        log::info!(
            "webhooks: delivering every {} ms",
            self.settings.poll.as_millis()
        );
        while !self.stopping() {
            let full = match self.round() {
                Ok(claimed) => claimed >= BATCH as usize,
                Err(e) => {
                    log::error!("webhooks: cannot read the outbox: {e}");
                    false
                }
            };
            if !full {
                // `stop` unparks the thread, so shutting down does not wait for the poll.
                std::thread::park_timeout(self.settings.poll.max(Duration::from_millis(1)));
            }
        }
        log::info!("webhooks: stopped");
    }

    /// Claims the due deliveries and sends them side by side; returns how many were claimed.
    fn round(&self) -> Result<usize, StoreError> {
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60));
        let due = self
            .db
            .write(|conn| webhooks::claim_due(conn, SystemClock.now(), lease, BATCH))?;
        let claimed_at = Instant::now();
        let unstarted = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for delivery in &due {
                let unstarted = &unstarted;
                scope.spawn(move || {
                    if self.stopping() {
                        // Shutting down: give it back rather than leave it leased.
                        if let Ok(mut ids) = unstarted.lock() {
                            ids.push(delivery.id.clone());
                        }
                    } else if claimed_at.elapsed() < self.settings.lease {
                        // (A lease that ran out may already be another worker's.)
                        self.deliver(delivery);
                    }
                });
            }
        });
        let unstarted = unstarted.into_inner().unwrap_or_default();
        if !unstarted.is_empty() && claimed_at.elapsed() < self.settings.lease {
            log::info!(
                "webhooks: stopping; {} claimed deliveries given back",
                unstarted.len()
            );
            self.db
                .write(|conn| webhooks::release(conn, &unstarted, SystemClock.now()))?;
        }
        Ok(due.len())
    }

    fn deliver(&self, delivery: &DueDelivery) {
        let outcome = self.attempt(delivery);
        let at = SystemClock.now();
        let recorded = match &outcome {
            Outcome::Delivered(status) => self.db.write(|conn| {
                webhooks::record_delivered(conn, &delivery.id, i32::from(*status), at)
            }),
            Outcome::Failed(failure) => {
                let attempts = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
                let base = chrono::Duration::from_std(self.settings.retry_base)
                    .unwrap_or(chrono::Duration::seconds(5));
                let next = next_attempt(delivery.created_at, attempts, at, base);
                // The cause stays in the log: `last_error` says no more than `recorded`.
                log::warn!(
                    "webhooks: webhook {} did not take event {} (attempt {attempts}): {}; {}",
                    delivery.webhook_id,
                    delivery.event.id,
                    failure.logged(),
                    next.map_or_else(
                        || "giving up".to_owned(),
                        |n| format!("next attempt at {}", n.to_rfc3339())
                    ),
                );
                self.db.write(|conn| {
                    webhooks::record_failed_attempt(
                        conn,
                        &delivery.id,
                        failure.status().map(i32::from),
                        &failure.recorded(),
                        at,
                        next,
                    )
                })
            }
        };
        if let Err(e) = recorded {
            // The lease will end and the delivery be sent again: at least once.
            log::error!(
                "webhooks: cannot record delivery {} of webhook {}: {e}",
                delivery.id,
                delivery.webhook_id
            );
        }
    }

    fn attempt(&self, delivery: &DueDelivery) -> Outcome {
        let payload = Event::try_from(delivery.event.clone()).map_err(|e| e.to_string());
        let body =
            match payload.and_then(|event| serde_json::to_vec(&event).map_err(|e| e.to_string())) {
                Ok(body) => body,
                Err(e) => {
                    let why = format!("cannot write the payload: {e}");
                    return Outcome::Failed(Failure::NotSent(why));
                }
            };
        let timestamp = SystemClock.now().timestamp();
        let signature = match sign(&delivery.secret, &delivery.event.id, timestamp, &body) {
            Ok(signature) => signature,
            Err(e) => return Outcome::Failed(Failure::NotSent(e.to_string())),
        };
        let sent = self
            .agent
            .post(&delivery.url)
            .set("content-type", "application/json")
            .set("webhook-id", &delivery.event.id)
            .set("webhook-timestamp", &timestamp.to_string())
            .set("webhook-signature", &signature)
            .send_bytes(&body);
        match sent {
            Ok(response) if (200..300).contains(&response.status()) => {
                Outcome::Delivered(response.status())
            }
            Ok(response) => Outcome::Failed(Failure::Answered(response.status())),
            Err(ureq::Error::Status(status, _)) => Outcome::Failed(Failure::Answered(status)),
            Err(ureq::Error::Transport(e)) => {
                Outcome::Failed(Failure::Unreachable(transport_error(&e)))
            }
        }
    }
}

/// What went wrong on the way, for the server's log only, without the URL (which may carry
/// credentials).
fn transport_error(error: &ureq::Transport) -> String {
    let mut text = error.kind().to_string();
    if let Some(message) = error.message() {
        text.push_str(": ");
        text.push_str(message);
    }
    if let Some(source) = std::error::Error::source(error) {
        text.push_str(": ");
        text.push_str(&source.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::Failure;

    /// Whatever kept an attempt from an answer is recorded as `unreachable`: the cause, which
    /// would tell a refused port from a missing name or a filtered address, stays in the log.
    #[test]
    fn last_error_is_the_status_or_unreachable_and_no_more() {
        for (failure, recorded, status) in [
            (Failure::Answered(503), "HTTP 503", Some(503)),
            (Failure::Answered(404), "HTTP 404", Some(404)),
            (Failure::Answered(301), "HTTP 301", Some(301)),
            (
                Failure::Unreachable("Dns Failed: resolve dns name 'x.invalid:443'".into()),
                "unreachable",
                None,
            ),
            (
                Failure::Unreachable("Connection Failed: Connection refused (os error 111)".into()),
                "unreachable",
                None,
            ),
            (
                Failure::Unreachable("Network Error: timed out reading response".into()),
                "unreachable",
                None,
            ),
            (
                Failure::Unreachable(
                    "Connection Failed: the webhook's host has no public address: 127.0.0.1 \
                     (loopback)"
                        .into(),
                ),
                "unreachable",
                None,
            ),
            (
                Failure::NotSent("cannot write the payload".into()),
                "internal error",
                None,
            ),
        ] {
            assert_eq!(failure.recorded(), recorded);
            assert_eq!(failure.status(), status);
            if let Failure::Unreachable(why) | Failure::NotSent(why) = &failure {
                assert!(
                    failure.logged().contains(why.as_str()),
                    "the log keeps the cause"
                );
            }
        }
    }
}
