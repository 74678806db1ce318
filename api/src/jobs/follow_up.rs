//! The follow-up of hand-offs, so that none falls through the cracks: reminders to a partner
//! that does not answer, expiry of a hand-off left unanswered, reminders for an outcome. What is
//! due comes from `relais_domain::follow_up`; each act is a workflow of its own transaction,
//! made as `system:follow-up` with its history, its events and its audit event.
//!
//! Run by `relais serve` (now, then every `RELAIS_FOLLOW_UP_INTERVAL_MINUTES`) and by
//! `relais follow-up`. A second run does nothing more; two replicas running it at once make each
//! act once (a reminder's key, and the hand-off's version, decide which of the two writes it).

use std::time::Duration;

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::follow_up::{Deadlines, Due};
use relais_domain::ids::HandOffId;
use relais_domain::reference::ReminderKind;
use relais_persistence::{Database, StoreError, follow_up};

use crate::clock::SharedClock;
use crate::jobs::periodic::Periodic;
use crate::workflows::{self, WorkflowError};

/// How the follow-up runs; see README.md for the variables that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpSettings {
    pub deadlines: Deadlines,
    /// `RELAIS_FOLLOW_UP_JOB`: `on` (default) or `off`, the job inside `relais serve`.
    pub job: bool,
    /// `RELAIS_FOLLOW_UP_INTERVAL_MINUTES`: time between two runs of the job (default 60).
    pub interval: Duration,
    /// `RELAIS_IDLE_SITUATION_DAYS`: an open situation without an intervention for this long is
    /// on its post's worklist (default 30).
    pub idle_days: u32,
}

impl Default for FollowUpSettings {
    fn default() -> Self {
        Self {
            deadlines: Deadlines::default(),
            job: true,
            interval: Duration::from_secs(3600),
            idle_days: 30,
        }
    }
}

/// What a run did (or, dry, would do): hand-off ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpReport {
    pub reminded: Vec<(HandOffId, ReminderKind)>,
    pub expired: Vec<HandOffId>,
}

impl FollowUpReport {
    pub fn is_empty(&self) -> bool {
        self.reminded.is_empty() && self.expired.is_empty()
    }
}

/// The principal the job acts as.
fn follow_up_job() -> Principal {
    Principal::system("follow-up")
}

/// Acts on every hand-off due at `now`; with `dry_run`, only says what it would do.
pub fn run(
    db: &Database,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<FollowUpReport, StoreError> {
    let candidates = db.read(follow_up::candidates)?;
    let job = follow_up_job();
    let mut report = FollowUpReport::default();
    for candidate in candidates {
        let Some(due) = deadlines.due(&candidate.waiting, now) else {
            continue;
        };
        let id = candidate.id;
        if dry_run {
            match due {
                Due::Expire => report.expired.push(id),
                Due::Remind(kind) => report.reminded.push((id, kind)),
            }
            continue;
        }
        let waiting = candidate.waiting.clone();
        let acted = db.write(|conn| {
            let acted = match due {
                Due::Expire => workflows::hand_offs::expire(conn, &job, id, now).map(|_| true),
                Due::Remind(kind) => {
                    let since = match kind {
                        ReminderKind::Answer => waiting.sent_at,
                        ReminderKind::Outcome => waiting.accepted_at,
                    };
                    workflows::hand_offs::remind(conn, &job, id, kind, since.unwrap_or(now), now)
                }
            };
            match acted {
                Ok(acted) => Ok(acted),
                // Another run (or replica) moved it first: nothing is due any more.
                Err(WorkflowError::Conflict(_) | WorkflowError::Stale { .. }) => Ok(false),
                Err(WorkflowError::Store(e)) => Err(e),
                Err(other) => Err(StoreError::Conflict(other.to_string())),
            }
        });
        match acted {
            Ok(true) => match due {
                Due::Expire => report.expired.push(id),
                Due::Remind(kind) => report.reminded.push((id, kind)),
            },
            Ok(false) => {}
            // The version moved under a concurrent write: the next run looks again.
            Err(StoreError::StaleVersion { .. }) => {}
            Err(e) => log::error!("follow-up: hand-off {id}: {e}"),
        }
    }
    Ok(report)
}

/// What a run did or would do, one line per hand-off.
pub fn describe(report: &FollowUpReport, dry_run: bool) -> String {
    use std::fmt::Write as _;
    let (remind, expire) = if dry_run {
        ("would remind", "would expire")
    } else {
        ("reminded", "expired")
    };
    let mut out = String::new();
    let _ = writeln!(out, "{remind} {} hand-off(s)", report.reminded.len());
    for (id, kind) in &report.reminded {
        let _ = writeln!(out, "  hand-off {id} ({kind})");
    }
    let _ = writeln!(out, "{expire} {} hand-off(s)", report.expired.len());
    for id in &report.expired {
        let _ = writeln!(out, "  hand-off {id}");
    }
    out
}

/// The job of `relais serve`: follows up now, then every `settings.interval`.
pub fn spawn_job(db: Database, settings: FollowUpSettings, clock: SharedClock) -> Periodic {
    let d = settings.deadlines;
    log::info!(
        "follow-up: reminders after {} days, expiry after {}, outcome reminders after {}; every {} min",
        d.remind_days,
        d.expire_days,
        d.outcome_days,
        settings.interval.as_secs() / 60
    );
    Periodic::spawn("follow-up", settings.interval, move || {
        match run(&db, &settings.deadlines, clock.now(), false) {
            Ok(report) if report.is_empty() => log::debug!("follow-up: nothing due"),
            Ok(report) => log::info!(
                "follow-up: reminded {} and expired {} hand-off(s)",
                report.reminded.len(),
                report.expired.len()
            ),
            Err(e) => log::error!("follow-up: the run failed: {e}"),
        }
    })
}
