//! `relais statistics`: national consolidation from the command line. An instance prints its
//! public key and exports its posts' submissions as a signed document; an observatory imports
//! such a document (the same verification and storage as `POST /api/v1/statistics/submissions`).

use std::io::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;
use relais_domain::access::Principal;
use relais_domain::consolidation::{ExportPayload, ExportedPost, PAYLOAD_FORMAT, SignedDocument};
use relais_persistence::statistics::StatScope;
use relais_persistence::{Database, StoreError, submissions};

use crate::cli::config::Settings;
use crate::clock::{Clock, SystemClock};
use crate::signing::StatisticsSigner;
use crate::workflows::WorkflowError;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum StatisticsCommand {
    /// Print this instance's id and the public key that verifies its exports (what an
    /// observatory registers).
    PublicKey,
    /// Print, signed, the latest version each post submitted for exactly this period.
    Export {
        /// First day of the period, as submitted.
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: NaiveDate,
        /// Last day of the period, as submitted.
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: NaiveDate,
        /// Grid version; default: the one in force on --from.
        #[arg(long)]
        grid: Option<String>,
    },
    /// Verify a signed document from a registered instance and import its posts' figures.
    Import {
        /// The document (`relais statistics export` there); `-` for standard input.
        file: PathBuf,
    },
}

/// The instance's id in its documents: `RELAIS_INSTANCE_ID`, `relais` by default.
fn instance_id() -> Result<String, String> {
    let id = std::env::var("RELAIS_INSTANCE_ID")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "relais".to_owned());
    if relais_domain::consolidation::is_instance_id(&id) {
        Ok(id)
    } else {
        Err(format!(
            "RELAIS_INSTANCE_ID={id:?}: 1 to 64 of a-z, 0-9, '-' and '_'"
        ))
    }
}

fn signer(settings: &Settings) -> Result<StatisticsSigner, String> {
    let configured = std::env::var("RELAIS_STATISTICS_SIGNING_KEY").ok();
    let seed = crate::keys::signing_key(configured.as_deref(), &settings.keys)?;
    Ok(StatisticsSigner::new(&seed))
}

fn say(text: &str) {
    // Written, not println!-ed: a closed pipe must not abort the run.
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// `relais statistics public-key`: needs no database.
pub fn public_key(settings: &Settings) -> Result<(), String> {
    let answer = serde_json::json!({
        "instance": instance_id()?,
        "algorithm": "Ed25519",
        "public_key": signer(settings)?.public_key(),
    });
    say(&format!("{answer:#}\n"));
    Ok(())
}

/// `relais statistics export --from --to [--grid]`.
pub fn export(
    settings: &Settings,
    db: &Database,
    from: NaiveDate,
    to: NaiveDate,
    grid: Option<&str>,
) -> Result<(), String> {
    let instance = instance_id()?;
    let signer = signer(settings)?;
    let grids = crate::grids::GridSet::load(settings.grids_dir.as_deref())?;
    let grid = match grid {
        Some(version) => grids
            .version(version)
            .ok_or_else(|| format!("--grid {version}: no such grid version"))?,
        None => grids
            .in_force(from)
            .ok_or_else(|| format!("--from {from}: no grid version is in force then"))?,
    };
    let version = grid.version.clone();
    let found = db
        .read(|conn| submissions::latest_in_scope(conn, &StatScope::National, &version, from, to))
        .map_err(|e: StoreError| e.to_string())?;
    let posts: Vec<ExportedPost> = found
        .into_iter()
        .filter_map(|(post, submission)| {
            submission.map(|s| ExportedPost {
                post_id: post.id,
                name: post.name,
                department_code: post.department_code,
                version: s.version,
                submitted_at: s.submitted_at,
                statistics: s.statistics,
            })
        })
        .collect();
    let payload = ExportPayload {
        format: PAYLOAD_FORMAT.to_owned(),
        instance,
        grid: grid.version.clone(),
        from,
        to,
        exported_at: SystemClock.now(),
        posts,
    };
    let document = signer.sign(&payload)?;
    log::info!(
        "exported {} posts' submissions of {from}..{to} (grid {}), signed as {}",
        payload.posts.len(),
        payload.grid,
        payload.instance
    );
    let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    say(&format!("{text}\n"));
    Ok(())
}

/// `relais statistics import FILE`.
pub fn import(db: &Database, file: &std::path::Path) -> Result<(), String> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let document: SignedDocument = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a signed statistics document: {e}", file.display()))?;
    let by = Principal::system("statistics-import");
    let now = SystemClock.now();
    let report = db
        .write(|conn| crate::workflows::consolidation::import(conn, &by, &document, now))
        .map_err(|e| match e {
            WorkflowError::Invalid(invalid) => invalid.to_string(),
            other => other.to_string(),
        })?;
    say(&format!(
        "{}: {} posts imported, {} already imported ({} {}..{})\n",
        report.instance,
        report.imported.len(),
        report.unchanged.len(),
        report.grid,
        report.from,
        report.to
    ));
    Ok(())
}
