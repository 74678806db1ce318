//! Relais storage. One code path serves SQLite (the embedded default) and PostgreSQL:
//! the connection is a diesel `MultiConnection`, the schema uses portable types, and the
//! few statements that must differ sit side by side in one `match` on the backend.

pub mod audit;
pub mod audit_chain;
pub mod audit_copy;
pub mod beneficiaries;
pub mod bulk;
mod codes;
pub mod consolidation;
mod convert;
pub use convert::stored;
pub mod db;
pub mod error;
pub mod evaluations;
pub mod events;
pub mod follow_up;
pub mod hand_offs;
pub mod idempotency;
pub mod interventions;
pub mod keys;
pub mod members;
pub mod page;
pub mod partners;
pub mod posts;
pub mod referrals;
pub mod requisitions;
pub mod retention;
pub mod rotation;
pub mod schema;
pub mod sealing;
pub mod secrets;
pub mod situations;
pub mod statistics;
pub mod submissions;
#[cfg(feature = "testing")]
pub mod testing;
pub mod units;
pub mod webhooks;

pub use db::{Backend, Database, DbConnection, DbSettings, Synchronous};
pub use error::StoreError;
pub use page::{Page, PageRequest};
