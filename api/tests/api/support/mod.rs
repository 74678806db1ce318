//! The test harness: a `TestApp` per test — the real application on a database of its own
//! (SQLite file, or PostgreSQL when `RELAIS_TEST_DATABASE_URL` is set), served over HTTP — the
//! `Answer`s it gives, the fixtures the tests build their records with, and the redactions of
//! the snapshots.

mod answer;
mod app;
pub mod contract;
pub mod fixtures;
pub mod snapshots;

pub use answer::Answer;
pub use app::{TEST_SECRET, TestApp};
