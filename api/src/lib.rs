//! Relais's service: everything above the domain and persistence crates.
//!
//! - [`http`]: the HTTP layer (routes, extractors, the access gate, problem+json, OpenAPI);
//! - [`workflows`]: the use cases, free of HTTP, called by handlers and jobs alike;
//! - [`jobs`]: the background jobs (webhook delivery, retention purge);
//! - [`cli`]: the `relais` command line and its settings;
//! - and what they share: [`writes`] (the write path and group commit), [`auth`] (token
//!   verification and issuance), [`clock`], [`grids`], [`exports`] (the statistics as CSV and
//!   XLSX files) and [`report`].
//!
//! A request travels http → workflows → persistence; a job travels jobs → workflows →
//! persistence; nothing travels back up. See docs/ARCHITECTURE.md.

pub mod auth;
pub mod causes;
pub mod cli;
pub mod clock;
pub mod events;
pub mod exports;
pub mod grids;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod report;
pub mod signing;
pub mod workflows;
pub mod writes;

pub use http::{app, openapi_document};
