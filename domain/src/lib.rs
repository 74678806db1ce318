//! The Relais domain: what a post, a person, a situation and an intervention are,
//! the national reference lists, and the rules that keep records valid.
//!
//! Nothing here does I/O: persistence maps these types to rows, the API to JSON.

pub mod access;
pub mod audit;
pub mod beneficiary;
pub mod consolidation;
pub mod disclosure;
pub mod event;
pub mod follow_up;
pub mod grid;
pub mod hand_off;
pub mod ids;
pub mod intervention;
pub mod member;
pub mod partner;
pub mod post;
pub mod reference;
pub mod referral;
pub mod requisition;
pub mod situation;
pub mod statistics;
pub mod submission;
pub mod validation;
pub mod version;
pub mod webhook;

pub use validation::{FieldError, Validation};
