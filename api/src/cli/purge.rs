//! `relais purge [--dry-run]`: the retention job, run once from the command line.

use std::io::{IsTerminal, Write as _};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use relais_persistence::Database;
use relais_persistence::retention::Cutoff;

use relais_persistence::retention::{DEFAULT_BATCH, PurgeOutcome};

use relais_persistence::stored;

use crate::clock::{Clock, SystemClock};
use crate::jobs::purge::{RetentionSettings, describe, purge};

/// The options of `relais purge`.
#[derive(Debug, Clone, clap::Args)]
pub struct PurgeArgs {
    /// List what would be anonymised (ids and counts only) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `relais purge [--dry-run]`.
pub fn command(
    settings: &RetentionSettings,
    db: &Database,
    args: &PurgeArgs,
) -> Result<(), String> {
    let days = settings.days;
    let now = SystemClock.now();
    let cutoff = Cutoff::before(stored(now), days);
    // Written, not println!-ed: a closed pipe (`relais purge | head`) must not abort the run.
    let say = |text: &str| {
        let _ = std::io::stdout().write_all(text.as_bytes());
    };
    say(&format!(
        "retention: {days} days after the last contact; last contacts before {} are past\n",
        cutoff.day
    ));
    let bar = ProgressBar::hidden();
    let mut progress = |done: u64, total: u64| {
        // Drawn on long runs only, and only on a terminal.
        if done == 0 && total > DEFAULT_BATCH as u64 && std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} records, eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
        }
        bar.set_length(total);
        bar.set_position(done);
    };
    let outcome =
        purge(db, settings, now, args.dry_run, &mut progress).map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    match outcome {
        PurgeOutcome::Busy => Err(
            "another replica is purging this database now (its advisory lock is held); try again later"
                .to_owned(),
        ),
        PurgeOutcome::Ran(report) => {
            say(&describe(&report, args.dry_run));
            Ok(())
        }
    }
}
