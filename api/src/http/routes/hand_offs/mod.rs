//! Hand-offs (*passage de relais*): a social worker hands a situation to a partner with the
//! person's consent; the partner's system acknowledges, accepts or declines, and reports the
//! outcome. A partner reads exactly what was consented to, and nothing once consent is withdrawn.
//!
//! `dto` holds what the endpoints read, `views` what they answer, `handlers` the endpoints; the
//! use cases themselves are `crate::workflows::hand_offs`.

pub mod dto;
pub mod handlers;
pub mod views;

pub use handlers::configure;
