//! Background jobs: they run beside the server (or from the command line) and change records
//! only through the workflows and persistence, never through HTTP.

pub mod follow_up;
pub mod periodic;
pub mod purge;
pub mod webhooks;
