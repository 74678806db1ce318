//! What guards the HTTP surface besides authentication: security headers, CORS and rate limits.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::http::problem::ApiError;

/// Default requests per minute and token (`RELAIS_RATE_LIMIT_PER_MINUTE`).
pub const DEFAULT_PER_TOKEN_PER_MINUTE: u32 = 600;
/// Default requests per minute and client address (`RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE`).
pub const DEFAULT_PER_ADDRESS_PER_MINUTE: u32 = 1200;

/// The Content-Security-Policy of the API: its answers are JSON, never a page to render or frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The Content-Security-Policy of Swagger UI (`/swagger-ui/`): its own scripts and styles (its
/// React components set inline styles, and its stylesheet inlines icons as `data:` images), and
/// calls to this origin only.
pub const SWAGGER_UI_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// CORS and rate limits; the default is what tests and benchmarks want: no CORS, no limits.
/// `relais serve` reads its own defaults from the environment (see `config`).
#[derive(Debug, Clone, Default)]
pub struct ProtectionSettings {
    /// `RELAIS_CORS_ORIGINS`: exact origins (`https://app.example.fr`) allowed to call the API from
    /// a browser; none means no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// `RELAIS_RATE_LIMIT_PER_MINUTE`: requests per minute and bearer token; 0 turns it off.
    pub per_token_per_minute: u32,
    /// `RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE`: requests per minute and client address
    /// (the TCP peer); 0 turns it off.
    pub per_address_per_minute: u32,
}

/// The shared state of the guards, built once for all workers.
pub struct Protection {
    cors_origins: Vec<String>,
    per_token: Option<Limit<[u8; 32]>>,
    per_address: Option<Limit<IpAddr>>,
    checks: AtomicU64,
}

/// Forget idle keys every so many checks, so that the maps do not grow with every token seen.
const CLEANUP_EVERY: u64 = 4096;

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One rate limit: a GCRA bucket per key that holds `per_minute` requests and refills evenly.
struct Limit<K: Hash + Eq + Clone> {
    per_minute: u32,
    /// How long the bucket takes to win back one request.
    interval: Duration,
    limiter: Keyed<K>,
}

/// What a limit says of one request, in the terms of the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    allowed: bool,
    limit: u32,
    remaining: u32,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Seconds until a refused request may succeed.
    retry_after: u64,
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl<K: Hash + Eq + Clone> Limit<K> {
    fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            per_minute,
            interval: quota.replenish_interval(),
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }

    fn check(&self, key: &K) -> Verdict {
        let interval = self.interval;
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Verdict {
                    allowed: true,
                    limit: self.per_minute,
                    remaining,
                    reset: whole_seconds(interval * (self.per_minute - remaining)),
                    retry_after: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Verdict {
                    allowed: false,
                    limit: self.per_minute,
                    remaining: 0,
                    reset: whole_seconds(wait + interval * (self.per_minute - 1)),
                    retry_after: whole_seconds(wait).max(1),
                }
            }
        }
    }

    fn cleanup(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

impl Protection {
    pub fn new(settings: &ProtectionSettings) -> Self {
        Self {
            cors_origins: settings.cors_origins.clone(),
            per_token: Limit::new(settings.per_token_per_minute),
            per_address: Limit::new(settings.per_address_per_minute),
            checks: AtomicU64::new(0),
        }
    }

    /// The CORS middleware: only the configured origins, and only when there are some
    /// (`Condition` leaves it out otherwise, so that no CORS header is ever sent).
    pub fn cors(&self) -> actix_web::middleware::Condition<Cors> {
        let mut cors = Cors::default()
            .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                HeaderName::from_static(crate::http::request_id::HEADER),
            ])
            .max_age(3600);
        for origin in &self.cors_origins {
            cors = cors.allowed_origin(origin);
        }
        actix_web::middleware::Condition::new(!self.cors_origins.is_empty(), cors)
    }

    /// The verdict of every limit that applies, the tightest first; `None` when none applies.
    fn check(&self, address: Option<IpAddr>, token: Option<&str>) -> Option<Verdict> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % CLEANUP_EVERY == CLEANUP_EVERY - 1 {
            self.per_token.iter().for_each(Limit::cleanup);
            self.per_address.iter().for_each(Limit::cleanup);
        }
        // The address first: a refused address does not spend its tokens' allowance.
        let by_address = self
            .per_address
            .as_ref()
            .zip(address)
            .map(|(limit, address)| limit.check(&address));
        if let Some(verdict) = by_address.filter(|v| !v.allowed) {
            return Some(verdict);
        }
        // Keyed by a digest: the maps hold no token, and every key has the same small size.
        let by_token = self
            .per_token
            .as_ref()
            .zip(token)
            .map(|(limit, token)| limit.check(&Sha256::digest(token.as_bytes()).into()));
        [by_token, by_address]
            .into_iter()
            .flatten()
            .min_by_key(|v| (v.allowed, v.remaining))
    }
}

fn set_number(headers: &mut HeaderMap, name: &'static str, value: u64) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
}

fn add_rate_limit_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    set_number(headers, "ratelimit-limit", verdict.limit.into());
    set_number(headers, "ratelimit-remaining", verdict.remaining.into());
    set_number(headers, "ratelimit-reset", verdict.reset);
}

/// The bearer token of a request, as sent (not verified: a made-up token is limited too, and the
/// address limit bounds how many of them one client can try).
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Paths that no rate limit applies to: the platform's probes and metrics scrapes.
pub const UNLIMITED_PATHS: [&str; 4] = ["/health", "/health/live", "/health/ready", "/metrics"];

/// Rate limits per token and per client address, with `RateLimit-Limit`, `RateLimit-Remaining`
/// and `RateLimit-Reset` on every limited answer, and 429 problem+json with `Retry-After` once
/// a limit is reached. The probes and the metrics ([`UNLIMITED_PATHS`]) are left alone.
///
/// The address is the TCP peer's: behind a reverse proxy every client shares the proxy's address,
/// so there set `RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE=0` and limit addresses at the proxy.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let verdict = match req.app_data::<web::Data<Protection>>() {
        Some(protection) if !UNLIMITED_PATHS.contains(&req.path()) => {
            protection.check(req.peer_addr().map(|a| a.ip()), bearer(&req))
        }
        _ => None,
    };
    match verdict {
        None => Ok(next.call(req).await?.map_into_boxed_body()),
        Some(verdict) if verdict.allowed => {
            let mut response = next.call(req).await?;
            add_rate_limit_headers(response.headers_mut(), &verdict);
            Ok(response.map_into_boxed_body())
        }
        Some(verdict) => {
            let mut response = ApiError::TooManyRequests {
                retry_after: verdict.retry_after,
            }
            .error_response();
            add_rate_limit_headers(response.headers_mut(), &verdict);
            Ok(req.into_response(response))
        }
    }
}

/// `Content-Security-Policy`: strict for the API, and one Swagger UI can work with on its pages.
/// A page that sets its own (the activity report: its stylesheet by hash, see
/// `report::content_security_policy`) keeps it; anything else gets the strict one.
pub async fn content_security_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let policy = if req.path().starts_with("/swagger-ui") {
        SWAGGER_UI_CSP
    } else {
        API_CSP
    };
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_counts_down_then_refuses_with_a_wait() {
        let limit = Limit::<u8>::new(3).unwrap();
        let remaining: Vec<u32> = (0..3).map(|_| limit.check(&1).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limit.check(&1);
        assert!(!refused.allowed);
        assert!((1..=20).contains(&refused.retry_after), "{refused:?}");
        assert!(refused.reset >= refused.retry_after);
        assert!(limit.check(&2).allowed, "another key has its own bucket");
    }

    #[test]
    fn zero_turns_a_limit_off() {
        assert!(Limit::<u8>::new(0).is_none());
        let off = Protection::new(&ProtectionSettings::default());
        assert!(off.check(Some([127, 0, 0, 1].into()), Some("t")).is_none());
    }
}
