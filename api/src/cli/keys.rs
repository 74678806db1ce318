//! `relais keys`: make a key, or move every sealed value under the active data key.

use std::io::{IsTerminal, Write as _};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use relais_persistence::{Database, rotation};

use crate::clock::{Clock, SystemClock};
use crate::keys::{KeyOrigin, KeySettings};

/// Values moved per transaction by a rotation.
const ROTATION_BATCH: i64 = 500;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random key as RELAIS_DATA_KEYS and RELAIS_AUDIT_KEY take it (`id:base64`).
    Generate {
        /// `data` (ids start with `k`), `audit` (with `a`) or `signing` (with `s`: the seed of
        /// the statistics signing key, for RELAIS_STATISTICS_SIGNING_KEY).
        #[arg(long, default_value = "data")]
        purpose: String,
    },
    /// Seal again, under the active data key, every value sealed with another key (or stored in
    /// clear); resumable, and reads go on meanwhile. With --new-key and the zero-set-up key file,
    /// first add a new active key to that file.
    Rotate {
        #[arg(long)]
        new_key: bool,
    },
}

/// `relais keys generate`: needs no database.
pub fn generate(purpose: &str) -> Result<(), String> {
    let prefix = match purpose {
        "data" => "k",
        "audit" => "a",
        "signing" => "s",
        other => return Err(format!("--purpose {other}: data, audit or signing")),
    };
    let key = crate::keys::generate(prefix, SystemClock.now().date_naive());
    println!("{}", crate::keys::entry(&key));
    Ok(())
}

/// `relais keys rotate [--new-key]`, before the keys are installed (a new key changes them).
pub fn prepare_rotation(settings: &KeySettings, new_key: bool) -> Result<(), String> {
    if !new_key {
        return Ok(());
    }
    if settings.data.is_some() {
        return Err(
            "--new-key adds a key to the zero-set-up key file; with RELAIS_DATA_KEYS, \
             put a new key (relais keys generate) first in RELAIS_DATA_KEYS on every replica, \
             then run relais keys rotate"
                .into(),
        );
    }
    let key = crate::keys::add_data_key(&settings.default_file)?;
    eprintln!(
        "relais: added the data key {} to {}, now active",
        key.id,
        settings.default_file.display()
    );
    Ok(())
}

/// `relais keys rotate`, the keys installed.
pub fn rotate(db: &Database, origin: &KeyOrigin) -> Result<(), String> {
    let keys = relais_persistence::keys::installed().map_err(|e| e.to_string())?;
    let active = keys.active.id.clone();
    let total = db.read(rotation::pending).map_err(|e| e.to_string())?;
    let bar = if std::io::stderr().is_terminal() && total > 0 {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} values, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let moved = rotation::reseal_all(db, ROTATION_BATCH, |n| bar.set_position(n))
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let retired: Vec<String> = keys.retired.iter().map(|k| k.id.clone()).collect();
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "rotation: {moved} value(s) sealed again under the data key {active}; none is left under another key"
    );
    if !retired.is_empty() {
        let whence = match origin {
            KeyOrigin::Configured => "RELAIS_DATA_KEYS".to_owned(),
            KeyOrigin::File { path, .. } => path.display().to_string(),
        };
        let _ = writeln!(
            out,
            "the older key(s) {} may now be removed from {whence} (keep them with old backups)",
            retired.join(", ")
        );
    }
    Ok(())
}
