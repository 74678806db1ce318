//! Authentication: JWT bearer tokens, verified with a pinned algorithm, issuer and audience.

mod keys;
mod tokens;
mod user;

pub use keys::{JwtSettings, KeyError, KeySource, resolve_keys};
pub use tokens::{Claims, TokenIssuer, TokenVerifier};
pub use user::{CurrentUser, authenticate};
