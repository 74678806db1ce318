//! `relais follow-up [--dry-run] [--as-of YYYY-MM-DD]`: the follow-up of hand-offs, run once
//! from the command line (an operator may schedule it; a test moves time with `--as-of`).

use std::io::Write as _;

use chrono::NaiveDate;
use relais_persistence::Database;

use crate::clock::{Clock, SystemClock};
use crate::jobs::follow_up::{FollowUpSettings, describe, run};

/// The options of `relais follow-up`.
#[derive(Debug, Clone, clap::Args)]
pub struct FollowUpArgs {
    /// List what would be reminded or expired (hand-off ids only) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Follow up as at the end of this day (UTC) instead of now: deadlines are counted to it,
    /// and what the run writes is dated then.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
}

/// `relais follow-up`.
pub fn command(
    settings: &FollowUpSettings,
    db: &Database,
    args: &FollowUpArgs,
) -> Result<(), String> {
    let now = match args.as_of {
        // The last second of the day: a deadline falling that day is due.
        Some(day) => day
            .and_hms_opt(23, 59, 59)
            .ok_or("--as-of: not a day")?
            .and_utc(),
        None => SystemClock.now(),
    };
    let d = settings.deadlines;
    // Written, not println!-ed: a closed pipe must not abort the run.
    let say = |text: &str| {
        let _ = std::io::stdout().write_all(text.as_bytes());
    };
    say(&format!(
        "follow-up as of {now}: reminders after {} days, expiry after {}, outcome reminders after {}\n",
        d.remind_days, d.expire_days, d.outcome_days
    ));
    let report = run(db, &settings.deadlines, now, args.dry_run).map_err(|e| e.to_string())?;
    say(&describe(&report, args.dry_run));
    Ok(())
}
