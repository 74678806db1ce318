//! Configuration from the environment, with defaults that start the embedded SQLite service at once.

use std::time::Duration;

use crate::auth::JwtSettings;
use crate::http::protection::{
    DEFAULT_PER_ADDRESS_PER_MINUTE, DEFAULT_PER_TOKEN_PER_MINUTE, ProtectionSettings,
};
use crate::jobs::follow_up::FollowUpSettings;
use crate::jobs::purge::RetentionSettings;
use crate::jobs::webhooks::worker::WorkerSettings;

/// Every setting of `relais serve`; see README.md for the table.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: a SQLite file (default `relais.db`) or `postgres://…`.
    pub database_url: String,
    /// `RELAIS_BIND` (default `127.0.0.1:8080`).
    pub bind: String,
    /// `RELAIS_DB_POOL_SIZE`: reading connections (default 10).
    pub pool_size: u32,
    /// `RELAIS_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    pub jwt: JwtSettings,
    /// `RELAIS_GRIDS_DIR`: a folder of extra statistics grid versions (`*.toml`).
    pub grids_dir: Option<std::path::PathBuf>,
    /// `RELAIS_WEBHOOKS` and `RELAIS_WEBHOOK_*`: the webhook delivery worker.
    pub webhooks: WorkerSettings,
    /// `RELAIS_WEBHOOKS_PER_PARTNER`: the most active webhooks a partner may have (default 5).
    pub webhooks_per_partner: u32,
    /// `RELAIS_CORS_ORIGINS` and `RELAIS_RATE_LIMIT_*`.
    pub protection: ProtectionSettings,
    /// `RELAIS_RETENTION_DAYS`, `RELAIS_PURGE_JOB` and `RELAIS_PURGE_INTERVAL_HOURS`: how long
    /// records are kept after the last contact, and the job that anonymises them.
    pub retention: RetentionSettings,
    /// `RELAIS_HAND_OFF_REMIND_DAYS`, `RELAIS_HAND_OFF_EXPIRE_DAYS`,
    /// `RELAIS_HAND_OFF_OUTCOME_DAYS`, `RELAIS_FOLLOW_UP_JOB` and
    /// `RELAIS_FOLLOW_UP_INTERVAL_MINUTES`: the follow-up of hand-offs and its job.
    pub follow_up: FollowUpSettings,
    /// `RELAIS_METRICS`: `on` (default) serves `/metrics`, `off` answers 404 there.
    pub metrics: bool,
    /// `RELAIS_SHUTDOWN_TIMEOUT_SECONDS`: how long requests in flight may run on after SIGTERM
    /// or SIGINT before they are cut (default 30).
    pub shutdown_timeout: u64,
    /// `RELAIS_SHUTDOWN_DRAIN_MS`: after SIGTERM or SIGINT, how long the requests already sent on
    /// open connections are still read and answered (with `Connection: close`) before the
    /// server stops accepting (default 500).
    pub shutdown_drain: Duration,
    /// `RELAIS_DB_CHECKOUT_TIMEOUT_MS`, `RELAIS_DB_STATEMENT_TIMEOUT_MS`,
    /// `RELAIS_DB_LOCK_TIMEOUT_MS`, `RELAIS_DB_CONNECT_TIMEOUT_SECONDS` and
    /// `RELAIS_SQLITE_SYNCHRONOUS`: how long the database may keep a caller waiting, and how
    /// durable a SQLite commit is.
    pub db: relais_persistence::DbSettings,
    /// `RELAIS_DATA_KEYS` and `RELAIS_AUDIT_KEY`, or the zero-set-up key file: the keys that
    /// seal the most sensitive columns and chain the audit trail, kept outside the database.
    pub keys: crate::keys::KeySettings,
    /// `RELAIS_REQUEST_DEADLINE_MS`: the longest a request's database work may take (default
    /// 5000); past it the answer is 503 with `Retry-After`.
    pub deadline: Duration,
    /// `RELAIS_AUDIT_COPY`: `off` (default), or `stdout` for a copy of every audit event as one
    /// JSON line on stdout once committed (`relais serve`).
    pub audit_copy: AuditCopy,
    /// `RELAIS_AUTHORIZATION`: `claims` (default), `memberships` or `both`: where a request's
    /// role and scope come from.
    pub authorization: crate::auth::Authorization,
    /// `RELAIS_OIDC_PROVIDERS`: the OpenID providers whose ID tokens `POST /api/v1/auth/token`
    /// exchanges (a JSON list of `{issuer, client_id, jwks_url?, algorithm?}`, or a file's path).
    pub oidc_providers: Option<String>,
    /// `RELAIS_OIDC_TOKEN_TTL_MINUTES`: how long an exchanged token lives (default 15).
    pub oidc_token_ttl_minutes: u32,
}

/// Where `relais serve` copies the audit trail, outside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditCopy {
    #[default]
    Off,
    /// One JSON line per event on stdout.
    Stdout,
}

/// Audit events are kept at least the floor the database enforces (its triggers refuse to delete
/// younger ones), and at most ten years.
fn audit_retention_days(days: Option<u64>) -> Result<u32, String> {
    use relais_domain::audit::{DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS};
    match days {
        None => Ok(DEFAULT_RETENTION_DAYS),
        Some(d) if (u64::from(MIN_RETENTION_DAYS)..=3650).contains(&d) => {
            Ok(u32::try_from(d).unwrap_or(DEFAULT_RETENTION_DAYS))
        }
        Some(d) => Err(format!(
            "RELAIS_AUDIT_RETENTION_DAYS={d}: must be between {MIN_RETENTION_DAYS} and 3650"
        )),
    }
}

/// The highest `RELAIS_JWT_MAX_TTL_MINUTES` admitted (thirty days): a stolen bearer token works
/// until it expires, so the maximum must stay a bound, not a way to turn the check off.
const MAX_TOKEN_LIFETIME_MINUTES: u64 = 30 * 24 * 60;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name}={v} is not a whole number"))
                })
                .transpose()
        };
        let at_least_one = |name: &str, default: u64| -> Result<u64, String> {
            match number(name)? {
                None => Ok(default),
                Some(0) => Err(format!("{name}=0: must be at least 1")),
                Some(n) => Ok(n),
            }
        };
        let retention_days = at_least_one(
            "RELAIS_RETENTION_DAYS",
            u64::from(relais_persistence::retention::DEFAULT_RETENTION_DAYS),
        )?;
        let retention = RetentionSettings {
            days: u32::try_from(retention_days)
                .ok()
                .filter(|d| *d <= 36_500)
                .ok_or(format!(
                    "RELAIS_RETENTION_DAYS={retention_days}: must be at most 36500 (a hundred years)"
                ))?,
            job: match var("RELAIS_PURGE_JOB").as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    return Err(format!("RELAIS_PURGE_JOB={other} is neither on nor off"));
                }
            },
            interval: Duration::from_secs(
                at_least_one("RELAIS_PURGE_INTERVAL_HOURS", 24)?
                    .min(24 * 366)
                    .saturating_mul(3600),
            ),
            audit_days: audit_retention_days(number("RELAIS_AUDIT_RETENTION_DAYS")?)?,
        };
        let per_minute = |name: &str, default: u32| -> Result<u32, String> {
            number(name)?.map_or(Ok(default), |n| {
                u32::try_from(n).map_err(|_| format!("{name}={n} is too large"))
            })
        };
        let jwks_min_refresh = match number("RELAIS_JWT_JWKS_MIN_REFRESH_SECONDS")? {
            Some(0) => {
                return Err("RELAIS_JWT_JWKS_MIN_REFRESH_SECONDS must be at least 1".into());
            }
            seconds => seconds.map(Duration::from_secs),
        };
        let max_ttl_minutes = match number("RELAIS_JWT_MAX_TTL_MINUTES")? {
            None => None,
            Some(minutes @ 1..=MAX_TOKEN_LIFETIME_MINUTES) => u32::try_from(minutes).ok(),
            Some(minutes) => {
                return Err(format!(
                    "RELAIS_JWT_MAX_TTL_MINUTES={minutes}: must be between 1 and {MAX_TOKEN_LIFETIME_MINUTES} (thirty days)"
                ));
            }
        };
        let switch_or = |name: &str, default: bool| match var(name).as_deref() {
            None => Ok(default),
            Some("on") => Ok(true),
            Some("off") => Ok(false),
            Some(other) => Err(format!("{name}={other} is neither on nor off")),
        };
        let switch = |name: &str| switch_or(name, true);
        let defaults = relais_persistence::DbSettings::default();
        let millis = |name: &str, default: Duration| -> Result<Duration, String> {
            Ok(number(name)?.map_or(default, Duration::from_millis))
        };
        let db = relais_persistence::DbSettings {
            checkout_timeout: millis("RELAIS_DB_CHECKOUT_TIMEOUT_MS", defaults.checkout_timeout)?,
            statement_timeout: millis(
                "RELAIS_DB_STATEMENT_TIMEOUT_MS",
                defaults.statement_timeout,
            )?,
            lock_timeout: millis("RELAIS_DB_LOCK_TIMEOUT_MS", defaults.lock_timeout)?,
            connect_timeout: Duration::from_secs(at_least_one(
                "RELAIS_DB_CONNECT_TIMEOUT_SECONDS",
                defaults.connect_timeout.as_secs(),
            )?),
            sqlite_synchronous: match var("RELAIS_SQLITE_SYNCHRONOUS").as_deref() {
                None | Some("full") => relais_persistence::Synchronous::Full,
                Some("normal") => relais_persistence::Synchronous::Normal,
                Some(other) => {
                    return Err(format!(
                        "RELAIS_SQLITE_SYNCHRONOUS={other} is neither full nor normal"
                    ));
                }
            },
        };
        let deadline = Duration::from_millis(at_least_one(
            "RELAIS_REQUEST_DEADLINE_MS",
            u64::try_from(crate::http::state::DEFAULT_DEADLINE.as_millis()).unwrap_or(5000),
        )?);
        let days = |name: &str, default: u32| -> Result<u32, String> {
            let days = at_least_one(name, u64::from(default))?;
            u32::try_from(days)
                .ok()
                .filter(|d| *d <= 3650)
                .ok_or(format!("{name}={days}: must be at most 3650 (ten years)"))
        };
        let deadlines = relais_domain::follow_up::Deadlines::default();
        let follow_up = FollowUpSettings {
            deadlines: relais_domain::follow_up::Deadlines {
                remind_days: days("RELAIS_HAND_OFF_REMIND_DAYS", deadlines.remind_days)?,
                expire_days: days("RELAIS_HAND_OFF_EXPIRE_DAYS", deadlines.expire_days)?,
                outcome_days: days("RELAIS_HAND_OFF_OUTCOME_DAYS", deadlines.outcome_days)?,
            },
            job: switch("RELAIS_FOLLOW_UP_JOB")?,
            idle_days: days("RELAIS_IDLE_SITUATION_DAYS", 30)?,
            interval: Duration::from_secs(
                at_least_one("RELAIS_FOLLOW_UP_INTERVAL_MINUTES", 60)?
                    .min(24 * 60)
                    .saturating_mul(60),
            ),
        };
        let webhooks_per_partner = at_least_one(
            "RELAIS_WEBHOOKS_PER_PARTNER",
            u64::from(relais_domain::webhook::DEFAULT_MAX_PER_PARTNER),
        )?;
        let webhooks_per_partner = u32::try_from(webhooks_per_partner)
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or(format!(
                "RELAIS_WEBHOOKS_PER_PARTNER={webhooks_per_partner}: must be at most 1000"
            ))?;
        let audit_copy = match var("RELAIS_AUDIT_COPY").as_deref() {
            None | Some("off") => AuditCopy::Off,
            Some("stdout") => AuditCopy::Stdout,
            Some(other) => {
                return Err(format!(
                    "RELAIS_AUDIT_COPY={other} is neither off nor stdout"
                ));
            }
        };
        let authorization = var("RELAIS_AUTHORIZATION")
            .map(|v| v.parse())
            .transpose()?
            .unwrap_or_default();
        let database_url = var("DATABASE_URL").unwrap_or_else(|| "relais.db".to_owned());
        Ok(Self {
            authorization,
            oidc_providers: var("RELAIS_OIDC_PROVIDERS"),
            oidc_token_ttl_minutes: match number("RELAIS_OIDC_TOKEN_TTL_MINUTES")? {
                None => crate::auth::DEFAULT_EXCHANGED_TTL_MINUTES,
                Some(minutes @ 1..=MAX_TOKEN_LIFETIME_MINUTES) => {
                    u32::try_from(minutes).unwrap_or(crate::auth::DEFAULT_EXCHANGED_TTL_MINUTES)
                }
                Some(minutes) => {
                    return Err(format!(
                        "RELAIS_OIDC_TOKEN_TTL_MINUTES={minutes}: must be between 1 and {MAX_TOKEN_LIFETIME_MINUTES}"
                    ));
                }
            },
            keys: crate::keys::KeySettings::from_env(&database_url),
            db,
            deadline,
            audit_copy,
            retention,
            follow_up,
            metrics: switch("RELAIS_METRICS")?,
            shutdown_timeout: number("RELAIS_SHUTDOWN_TIMEOUT_SECONDS")?.unwrap_or(30),
            shutdown_drain: Duration::from_millis(
                number("RELAIS_SHUTDOWN_DRAIN_MS")?.unwrap_or(500),
            ),
            protection: ProtectionSettings {
                cors_origins: cors_origins(var("RELAIS_CORS_ORIGINS").as_deref().unwrap_or(""))?,
                per_token_per_minute: per_minute(
                    "RELAIS_RATE_LIMIT_PER_MINUTE",
                    DEFAULT_PER_TOKEN_PER_MINUTE,
                )?,
                per_address_per_minute: per_minute(
                    "RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE",
                    DEFAULT_PER_ADDRESS_PER_MINUTE,
                )?,
            },
            database_url,
            bind: var("RELAIS_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            pool_size: number("RELAIS_DB_POOL_SIZE")?
                .map_or(10, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            workers: number("RELAIS_WORKERS")?.map(|n| usize::try_from(n).unwrap_or(1)),
            grids_dir: var("RELAIS_GRIDS_DIR").map(std::path::PathBuf::from),
            jwt: JwtSettings {
                secret: var("RELAIS_JWT_SECRET"),
                public_key: var("RELAIS_JWT_PUBLIC_KEY"),
                public_keys: var("RELAIS_JWT_PUBLIC_KEYS"),
                jwks_url: var("RELAIS_JWT_JWKS_URL"),
                jwks_min_refresh,
                private_key: var("RELAIS_JWT_PRIVATE_KEY"),
                algorithm: var("RELAIS_JWT_ALGORITHM"),
                issuer: var("RELAIS_JWT_ISSUER").unwrap_or_else(|| "relais".to_owned()),
                audience: var("RELAIS_JWT_AUDIENCE").unwrap_or_else(|| "relais".to_owned()),
                max_ttl_minutes,
            },
            webhooks_per_partner,
            webhooks: WorkerSettings {
                enabled: switch("RELAIS_WEBHOOKS")?,
                poll: Duration::from_millis(
                    number("RELAIS_WEBHOOK_POLL_MS")?.unwrap_or(1000).max(1),
                ),
                retry_base: Duration::from_millis(
                    number("RELAIS_WEBHOOK_RETRY_BASE_MS")?
                        .unwrap_or(5000)
                        .max(1),
                ),
                lease: Duration::from_secs(
                    number("RELAIS_WEBHOOK_LEASE_SECONDS")?.unwrap_or(60).max(1),
                ),
                private_addresses: switch_or("RELAIS_WEBHOOK_PRIVATE_ADDRESSES", false)?,
            },
        })
    }
}

/// Comma-separated exact origins: `scheme://host[:port]`, nothing after.
fn cors_origins(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let exact = url::Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .map(|url| url.origin().ascii_serialization());
            match exact {
                Some(exact) if exact == origin => Ok(origin.to_owned()),
                _ => Err(format!(
                    "RELAIS_CORS_ORIGINS: {origin} is not an origin such as https://app.example.fr (scheme, host and port only, no path or trailing slash, no wildcard)"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::cors_origins;

    #[test]
    fn cors_origins_are_exact() {
        assert_eq!(
            cors_origins(" https://a.example.fr, http://localhost:5173 ,").unwrap(),
            ["https://a.example.fr", "http://localhost:5173"]
        );
        assert!(cors_origins("").unwrap().is_empty());
        for bad in [
            "*",
            "https://a.example.fr/",
            "a.example.fr",
            "ftp://a.example.fr",
        ] {
            assert!(
                cors_origins(bad)
                    .unwrap_err()
                    .contains("RELAIS_CORS_ORIGINS"),
                "{bad}"
            );
        }
    }
}
