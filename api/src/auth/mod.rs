//! Authentication: JWT bearer tokens, verified with a pinned algorithm, issuer and audience.

mod jwks;
mod keys;
mod tokens;

pub use jwks::Jwks;
pub use keys::{DEFAULT_JWKS_MIN_REFRESH, JwtSettings, KeyError, KeySource, resolve_keys};
pub use tokens::{Claims, Refusal, TokenIssuer, TokenVerifier};
