//! Snapshots (insta) of answers whose every field matters, with what differs from run to run
//! or from SQLite to PostgreSQL redacted: ids, instants, versions, request ids.
