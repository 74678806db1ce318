//! Authentication: JWT bearer tokens, verified with a pinned algorithm, issuer and audience.

pub mod client_secrets;
mod front_door;
mod jwks;
mod keys;
mod oidc;
mod tokens;

pub use front_door::{DEFAULT_EXCHANGED_TTL_MINUTES, FrontDoor};
pub use jwks::Jwks;
pub use keys::{
    DEFAULT_JWKS_MIN_REFRESH, DEFAULT_MAX_TTL_MINUTES, JwtSettings, KeyError, KeySource,
    resolve_keys,
};
pub use oidc::{IdTokenRefused, ProviderSettings, Providers, VerifiedIdToken};
pub use tokens::{Claims, Identity, Refusal, TokenIssuer, TokenVerifier, legible_client_id};

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

/// Where a request's role and scope come from (`RELAIS_AUTHORIZATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Authorization {
    /// The token's own claims (`role`, `post_ids`, `unit_id`, `partner_id`): an identity provider
    /// with claim mappers, or `relais token`. The default: zero set-up.
    #[default]
    Claims,
    /// The membership of the token's identity (`iss`, `sub`), read at each request; a token's
    /// role claims are ignored.
    Memberships,
    /// A token carrying `role` is taken at its claims; one carrying an identity only is mapped
    /// to its membership.
    Both,
}

impl std::str::FromStr for Authorization {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "claims" => Ok(Self::Claims),
            "memberships" => Ok(Self::Memberships),
            "both" => Ok(Self::Both),
            other => Err(format!(
                "RELAIS_AUTHORIZATION={other} is none of claims, memberships, both"
            )),
        }
    }
}

impl Authorization {
    /// Its name, as configured.
    pub fn name(self) -> &'static str {
        match self {
            Self::Claims => "claims",
            Self::Memberships => "memberships",
            Self::Both => "both",
        }
    }
}
