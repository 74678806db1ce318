//! Retention: `relais purge` and the daily job of `relais serve` that anonymise the records
//! whose last contact is older than the retention period (CNIL framework for the social sector:
//! two years). What "last contact" means, and what is removed and kept, is said in
//! `relais_persistence::retention`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use relais_persistence::retention::{
    self, Cutoff, DEFAULT_BATCH, DEFAULT_RETENTION_DAYS, PurgeOptions, PurgeOutcome, PurgeReport,
};
use relais_persistence::{Database, StoreError};

use crate::clock::SharedClock;
use crate::jobs::periodic::Periodic;

/// How retention runs; see README.md for the variables that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `RELAIS_RETENTION_DAYS`: days kept after the last contact (default 730).
    pub days: u32,
    /// `RELAIS_PURGE_JOB`: `on` (default) or `off`, the job inside `relais serve`.
    pub job: bool,
    /// `RELAIS_PURGE_INTERVAL_HOURS`: time between two runs of the job (default 24).
    pub interval: Duration,
    /// `RELAIS_AUDIT_RETENTION_DAYS`: days audit events are kept (default 365, at least 180).
    pub audit_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            days: DEFAULT_RETENTION_DAYS,
            job: true,
            interval: Duration::from_secs(24 * 3600),
            audit_days: relais_domain::audit::DEFAULT_RETENTION_DAYS,
        }
    }
}

/// Purges what is past its retention period at `now`; `progress(done, total)` follows the work.
pub fn purge(
    db: &Database,
    settings: &RetentionSettings,
    now: DateTime<Utc>,
    dry_run: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PurgeOutcome, StoreError> {
    let at = relais_persistence::stored(now);
    let options = PurgeOptions {
        cutoff: Cutoff::before(at, settings.days),
        at,
        dry_run,
        batch: DEFAULT_BATCH,
        audit_retention_days: settings.audit_days,
    };
    // Each partner still holding a purged person's data is told to erase it, in the batch's
    // transaction.
    let tell = |conn: &mut relais_persistence::DbConnection,
                persons: &[relais_domain::ids::BeneficiaryId]| {
        for person in persons {
            crate::workflows::beneficiaries::tell_partners_to_erase(
                conn,
                *person,
                relais_domain::reference::WithdrawalReason::Retention,
                now,
            )?;
        }
        Ok(())
    };
    retention::purge(db, &options, progress, &tell)
}

/// What a run did or would do: ids and counts, never content.
pub fn describe(report: &PurgeReport, dry_run: bool) -> String {
    use std::fmt::Write as _;
    let verb = if dry_run {
        "would anonymise"
    } else {
        "anonymised"
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{verb} {} person(s) with {} situation(s)",
        report.persons.len(),
        report.situations
    );
    if dry_run {
        for id in &report.persons {
            let _ = writeln!(out, "  person {id}");
        }
    }
    let _ = writeln!(
        out,
        "of whom {} with a hand-off still marked sent, received or accepted but unmoved for the whole period (status left as it is; follow it up with the partner)",
        report.stale_hand_offs.len()
    );
    for id in &report.stale_hand_offs {
        let _ = writeln!(out, "  person {id}");
    }
    let _ = writeln!(
        out,
        "{verb} {} referral(s) never taken up",
        report.referrals.len()
    );
    if dry_run {
        for id in &report.referrals {
            let _ = writeln!(out, "  referral {id}");
        }
    }
    let _ = writeln!(
        out,
        "{} {} stored idempotent answer(s)",
        if dry_run { "would delete" } else { "deleted" },
        report.idempotency_keys
    );
    let _ = writeln!(
        out,
        "{} {} audit event(s) older than their retention period",
        if dry_run { "would delete" } else { "deleted" },
        report.audit_events
    );
    out
}

/// The job of `relais serve`: purges now, then every `settings.interval`.
pub fn spawn_job(db: Database, settings: RetentionSettings, clock: SharedClock) -> Periodic {
    log::info!(
        "retention: purging records {} days after the last contact, every {} h",
        settings.days,
        settings.interval.as_secs() / 3600
    );
    let interval = settings.interval;
    Periodic::spawn("retention", interval, move || {
        run_once(&db, &settings, clock.now());
    })
}

fn run_once(db: &Database, settings: &RetentionSettings, now: DateTime<Utc>) {
    match purge(db, settings, now, false, &mut |_, _| {}) {
        Ok(PurgeOutcome::Busy) => {
            log::info!("retention: another replica is purging; skipped this round");
        }
        Ok(PurgeOutcome::Ran(report)) if report.is_empty() => {
            log::debug!("retention: nothing past the period");
        }
        Ok(PurgeOutcome::Ran(report)) => log::info!(
            "retention: anonymised {} person(s) with {} situation(s) and {} referral(s), deleted {} idempotent answer(s) and {} audit event(s); {} of the persons had a hand-off still marked in progress",
            report.persons.len(),
            report.situations,
            report.referrals.len(),
            report.idempotency_keys,
            report.audit_events,
            report.stale_hand_offs.len()
        ),
        // The next round tries again; each batch was all or nothing.
        Err(e) => log::error!("retention: the purge failed: {e}"),
    }
}
