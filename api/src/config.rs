//! Configuration from the environment, with defaults that start the embedded SQLite service at once.

use std::time::Duration;

use crate::auth::JwtSettings;
use crate::retention::RetentionSettings;
use crate::webhooks::worker::WorkerSettings;

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
    /// `RELAIS_RETENTION_DAYS`, `RELAIS_PURGE_JOB` and `RELAIS_PURGE_INTERVAL_HOURS`: how long
    /// records are kept after the last contact, and the job that anonymises them.
    pub retention: RetentionSettings,
}

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
        };
        Ok(Self {
            retention,
            database_url: var("DATABASE_URL").unwrap_or_else(|| "relais.db".to_owned()),
            bind: var("RELAIS_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            pool_size: number("RELAIS_DB_POOL_SIZE")?
                .map_or(10, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            workers: number("RELAIS_WORKERS")?.map(|n| usize::try_from(n).unwrap_or(1)),
            grids_dir: var("RELAIS_GRIDS_DIR").map(std::path::PathBuf::from),
            jwt: JwtSettings {
                secret: var("RELAIS_JWT_SECRET"),
                public_key: var("RELAIS_JWT_PUBLIC_KEY"),
                private_key: var("RELAIS_JWT_PRIVATE_KEY"),
                algorithm: var("RELAIS_JWT_ALGORITHM"),
                issuer: var("RELAIS_JWT_ISSUER").unwrap_or_else(|| "relais".to_owned()),
                audience: var("RELAIS_JWT_AUDIENCE").unwrap_or_else(|| "relais".to_owned()),
            },
            webhooks: WorkerSettings {
                enabled: match var("RELAIS_WEBHOOKS").as_deref() {
                    None | Some("on") => true,
                    Some("off") => false,
                    Some(other) => {
                        return Err(format!("RELAIS_WEBHOOKS={other} is neither on nor off"));
                    }
                },
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
            },
        })
    }
}
