//! Authentication: JWT bearer tokens, verified with a pinned algorithm, issuer and audience.

mod jwks;
mod keys;
mod tokens;

pub use jwks::Jwks;
pub use keys::{
    DEFAULT_JWKS_MIN_REFRESH, DEFAULT_MAX_TTL_MINUTES, JwtSettings, KeyError, KeySource,
    resolve_keys,
};
pub use tokens::{Claims, Refusal, TokenIssuer, TokenVerifier};

/// Why a token was refused, or could not be issued. The HTTP layer answers it as a problem
/// (401, 422 or 500); this module knows nothing of HTTP.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token does not let its holder in.
    #[error("{0}")]
    Refused(String),
    /// What was asked to be put in a token is not valid; the fields are named.
    #[error("{0}")]
    Invalid(relais_domain::validation::Invalid),
    /// Signing failed.
    #[error("{0}")]
    Internal(String),
}
