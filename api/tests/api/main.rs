#![allow(clippy::unwrap_used, clippy::expect_used)]

//! API tests: each test runs the real application over HTTP on a database of its own.
//! The same tests run on SQLite (default) and PostgreSQL (`RELAIS_TEST_DATABASE_URL`).
//!
//! One file per resource of `api/src/routes/` (beneficiaries, hand_offs, ...), plus the
//! cross-cutting ones: the access matrix, authentication and tokens, protection (headers, CORS,
//! rate limits), operations (request ids, probes, metrics), the retention job, the router's
//! fallbacks. The harness and the fixtures are in `support/`, the snapshots in `snapshots/`.

mod access_matrix;
mod audit;
mod audit_chain;
mod auth;
mod beneficiaries;
mod clients;
mod disclosure;
mod evaluations;
mod events;
mod exchange;
mod follow_up;
mod gate;
mod hand_offs;
mod interventions;
mod members;
mod names;
mod operations;
mod partners;
mod posts;
mod protection;
mod reference;
mod referrals;
mod reports;
mod requisitions;
mod retention;
mod router;
mod sealing;
mod situations;
mod statistics;
mod submissions;
mod support;
mod tokens;
mod units;
mod webhooks;
mod worklist;
