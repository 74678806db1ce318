//! Placeholder, replaced at merge by the key setup of issue 16 (another branch): loads
//! RELAIS_DATA_KEYS / RELAIS_AUDIT_KEY or the zero-set-up key files and calls
//! `relais_persistence::keys::install`. Kept here with its signature so that the commands that
//! need the audit key (`relais audit verify`, and every command that writes audit events) call
//! it already.

/// Installs the process's data keys and audit key from `settings`' environment.
pub fn install(_settings: &crate::cli::config::Settings) -> Result<(), String> {
    Err("keys are not wired yet".into())
}
