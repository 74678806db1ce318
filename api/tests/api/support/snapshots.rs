//! Snapshots (insta) of answers whose every field matters — where a field-by-field check would
//! miss an extra field — with what differs from run to run or from SQLite to PostgreSQL
//! redacted: ids, instants, versions, request ids. A snapshot is the same bytes on both
//! backends.
//!
//! Use: `redacted().bind(|| insta::assert_json_snapshot!("name", answer.body));` in the test
//! file, so that the snapshot lands in `api/tests/api/snapshots/`. Review a changed snapshot
//! (`cargo insta review`, or the `.snap.new` file left beside it) as a change of the contract.

use insta::Settings;

/// Keys whose values are ids (UUID v7, new each run).
const IDS: [&str; 8] = [
    "id",
    "request_id",
    "post_id",
    "partner_id",
    "situation_id",
    "beneficiary_id",
    "record_id",
    "hand_off_id",
];

/// Keys whose values are instants of the run.
const INSTANTS: [&str; 6] = [
    "created_at",
    "updated_at",
    "at",
    "given_at",
    "withdrawn_at",
    "anonymised_at",
];

/// The settings of every snapshot of the suite: maps sorted, ids, instants and versions
/// redacted wherever they are in the body.
pub fn redacted() -> Settings {
    let mut settings = Settings::clone_current();
    settings.set_sort_maps(true);
    for key in IDS {
        settings.add_redaction(&format!(".**.{key}"), "[id]");
    }
    for key in INSTANTS {
        settings.add_redaction(&format!(".**.{key}"), "[instant]");
    }
    settings.add_redaction(".**.version", "[version]");
    settings
}
