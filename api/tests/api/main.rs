#![allow(clippy::unwrap_used, clippy::expect_used)]

//! API tests: each test runs the real application over HTTP on a database of its own.
//! The same tests run on SQLite (default) and PostgreSQL (`RELAIS_TEST_DATABASE_URL`).

mod access_matrix;
mod audit;
mod auth;
mod evaluations;
mod hand_offs;
mod interventions;
mod operations;
mod partners;
mod posts;
mod protection;
mod reference;
mod referrals;
mod requisitions;
mod retention;
mod situations;
mod statistics;
mod support;
mod tokens;
mod units;
mod webhooks;
