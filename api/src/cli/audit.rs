//! `relais audit verify [--from DATE]`: walks the audit trail's MAC chain and says whether it is
//! intact, or names each event that was edited, removed from the middle or inserted behind
//! Relais's back (see `relais_persistence::audit_chain`). Also the copy of the trail on stdout
//! (`RELAIS_AUDIT_COPY=stdout`).

use std::io::Write as _;

use chrono::{NaiveDate, SecondsFormat};
use relais_persistence::audit_chain::{self, ChainedEvent, Verification};
use relais_persistence::audit_copy::AuditSink;
use relais_persistence::{Database, StoreError};

/// `relais audit …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the audit trail's MAC chain (needs the audit key): "OK" with the count of events
    /// verified, or each event edited, removed or inserted, and a non-zero exit code.
    Verify(VerifyArgs),
}

/// The options of `relais audit verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Start at the last checkpoint written at or before this day (00:00 UTC), so that the
    /// events of that day and after are verified, rather than at the oldest event kept.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,
}

/// What `relais audit verify` finds: the chain walked from its latest purge checkpoint, or
/// from the checkpoint before `from`.
pub fn verify(db: &Database, from: Option<NaiveDate>) -> Result<Verification, StoreError> {
    db.read(|conn| audit_chain::verify(conn, from))
}

/// `relais audit …`.
pub fn command(db: &Database, command: &AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::Verify(args) => {
            let verification =
                verify(db, args.from).map_err(|e| format!("cannot read the audit trail: {e}"))?;
            if verification.is_intact() {
                // Written, not println!-ed: a closed pipe must not abort the run.
                let _ = writeln!(std::io::stdout(), "{verification}");
                Ok(())
            } else {
                Err(verification.to_string())
            }
        }
    }
}

/// One event of the trail as a JSON line of `RELAIS_AUDIT_COPY`: its columns, its position,
/// the audit key's id and its MAC (so that a copy can be held against the database).
pub fn copy_line(event: &ChainedEvent) -> String {
    serde_json::json!({
        "position": event.position,
        "id": event.id,
        "at": event.at.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true),
        "subject": event.subject,
        "role": event.role,
        "action": event.action,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "post_id": event.post_id,
        "beneficiary_id": event.beneficiary_id,
        "outcome": event.outcome,
        "status": event.status,
        "key_id": event.key_id,
        "mac": event.mac,
    })
    .to_string()
}

/// `RELAIS_AUDIT_COPY=stdout`: every committed audit event as one JSON line on stdout, for a
/// log collector (the logs go to stderr).
#[derive(Debug, Default)]
pub struct StdoutCopy;

impl AuditSink for StdoutCopy {
    fn committed(&self, events: &[ChainedEvent]) {
        let mut lines = String::new();
        for event in events {
            lines.push_str(&copy_line(event));
            lines.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(lines.as_bytes())
            .and_then(|()| stdout.flush())
        {
            log::warn!(
                "RELAIS_AUDIT_COPY: {} audit event(s) not copied to stdout: {e}",
                events.len()
            );
        }
    }
}
