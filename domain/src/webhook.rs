//! Webhooks: a partner's subscription to its events, each event's delivery to it, and the
//! retry schedule of a delivery that fails.
//!
//! Signing needs a MAC and lives with the HTTP client in the API crate; what is here is pure.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::ids::{EventId, PartnerId, WebhookId};
use crate::post::RecordMeta;
use crate::reference::EventType;

/// The longest URL a webhook may have.
pub const MAX_URL_LENGTH: usize = 2000;

/// The longest wait between two attempts of one delivery.
pub const MAX_WAIT: Duration = Duration::hours(1);

/// How long after its first attempt a delivery is still tried: past this, it is `failed`.
/// More than a day, so that a receiver down for a whole day still gets every event.
pub const GIVE_UP_AFTER: Duration = Duration::hours(26);

/// How many active webhooks a partner may have unless `RELAIS_WEBHOOKS_PER_PARTNER` says
/// otherwise: each event fans out to every one of them, and each is retried for
/// [`GIVE_UP_AFTER`].
pub const DEFAULT_MAX_PER_PARTNER: u32 = 5;

/// A failed attempt's `last_error` when no answer came, whatever the cause: the name did not
/// resolve, the connection was refused or timed out, TLS failed, or the address is not public.
/// The partner is told no more, so that deliveries cannot map the network from where Relais
/// runs; the server's log has the cause.
pub const UNREACHABLE: &str = "unreachable";

/// A failed attempt's `last_error` when Relais itself could not build the request (the
/// payload or its signature); nothing was sent.
pub const INTERNAL_ERROR: &str = "internal error";

/// A failed attempt's `last_error` when the receiver answered `status` (not 2xx): `HTTP 503`.
pub fn answered_error(status: u16) -> String {
    format!("HTTP {status}")
}

/// A partner's webhook: where its events are POSTed. The secret is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: WebhookId,
    /// The partner whose events are delivered.
    pub partner_id: PartnerId,
    /// Where each event is POSTed.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "https://si.ccas-privas.fr/relais/webhook",
            max_length = 2000
        )
    )]
    pub url: String,
    /// False once deleted: no delivery is queued or attempted any more.
    #[cfg_attr(feature = "openapi", schema(example = true))]
    pub active: bool,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

pub use crate::reference::DeliveryStatus;

/// The delivery of one event to one webhook, and how its attempts went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, format = Uuid, example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b")
    )]
    pub id: Uuid,
    /// The event delivered; also the `webhook-id` header of every attempt.
    pub event_id: EventId,
    pub event_type: EventType,
    /// The event's position in the partner's feed.
    #[cfg_attr(feature = "openapi", schema(example = 42))]
    pub event_seq: i64,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    #[cfg_attr(feature = "openapi", schema(example = 2, minimum = 0))]
    pub attempts: i32,
    /// When the next attempt is due; absent once delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer; absent when none came (timeout, refused connection).
    #[cfg_attr(feature = "openapi", schema(example = 503))]
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed, and no more: `HTTP 503` (the status) when the receiver
    /// answered other than 2xx; `unreachable` when no answer came, whatever the cause (the name
    /// did not resolve, the connection was refused or timed out, TLS failed, or the address is
    /// not public: see `RELAIS_WEBHOOK_PRIVATE_ADDRESSES`), so that deliveries tell nothing of
    /// the network Relais runs in (the server's log has the cause); `internal error` when Relais
    /// could not build the request; `the webhook was deleted before delivery`. Absent once
    /// delivered.
    #[cfg_attr(feature = "openapi", schema(example = "HTTP 503"))]
    pub last_error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The wait after `attempts_made` failed attempts: `base × 2^(attempts_made − 1)`, at most [`MAX_WAIT`].
pub fn wait_after(attempts_made: u32, base: Duration) -> Duration {
    if attempts_made == 0 {
        return Duration::zero();
    }
    let factor = 2_i32.checked_pow(attempts_made - 1).unwrap_or(i32::MAX);
    base.checked_mul(factor).unwrap_or(MAX_WAIT).min(MAX_WAIT)
}

/// When to try again after `attempts_made` attempts, the last of which failed at `now`;
/// `None` once that would fall more than [`GIVE_UP_AFTER`] after `first_attempt_at`: give up.
pub fn next_attempt(
    first_attempt_at: DateTime<Utc>,
    attempts_made: u32,
    now: DateTime<Utc>,
    base: Duration,
) -> Option<DateTime<Utc>> {
    let next = now.checked_add_signed(wait_after(attempts_made, base))?;
    (next - first_attempt_at <= GIVE_UP_AFTER).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-14T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_first_waits_double() {
        let base = Duration::seconds(5);
        let waits: Vec<i64> = (1..=5).map(|n| wait_after(n, base).num_seconds()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80]);
        let at = start();
        assert_eq!(next_attempt(at, 1, at, base), Some(at + base));
    }

    #[test]
    fn no_wait_exceeds_an_hour() {
        let base = Duration::seconds(5);
        assert_eq!(wait_after(11, base), MAX_WAIT);
        assert_eq!(wait_after(40, base), MAX_WAIT);
        assert_eq!(wait_after(u32::MAX, base), MAX_WAIT);
    }

    #[test]
    fn retries_span_more_than_a_day_then_stop() {
        let base = Duration::seconds(5);
        let first = start();
        let (mut now, mut attempts) = (first, 1_u32);
        while let Some(next) = next_attempt(first, attempts, now, base) {
            assert!(next > now);
            now = next;
            attempts += 1;
            assert!(attempts < 100, "the schedule must end");
        }
        assert!(
            now - first >= Duration::hours(24),
            "last attempt after {}",
            now - first
        );
        assert!(now - first <= GIVE_UP_AFTER);
        assert!(attempts > 20, "{attempts} attempts");
    }

    #[test]
    fn a_small_base_gives_a_fast_schedule_for_tests() {
        let base = Duration::milliseconds(50);
        let at = start();
        assert_eq!(
            next_attempt(at, 1, at, base),
            Some(at + Duration::milliseconds(50))
        );
        assert_eq!(wait_after(3, base), Duration::milliseconds(200));
    }

    #[test]
    fn a_delivery_older_than_the_limit_is_given_up() {
        let first = start();
        let late = first + GIVE_UP_AFTER;
        assert_eq!(next_attempt(first, 30, late, Duration::seconds(5)), None);
    }
}
