//! The token endpoint (`POST /api/v1/auth/token`): what it signs Relais tokens with, and the
//! OpenID providers whose ID tokens it exchanges, if any.
//!
//! It exists whenever the instance can sign (its own HS256 secret, `RELAIS_JWT_SECRET`, or
//! `RELAIS_JWT_PRIVATE_KEY`), providers or not: the client credentials grant of partner and unit
//! systems needs no provider. The token it answers is signed by the instance's own
//! `TokenIssuer`, so the verifier of every bearer token takes it in every mode. It names the
//! membership (`sub` = `member:<id>`, `iss` = `RELAIS_JWT_ISSUER`) and carries the membership's
//! role and scope: in `claims` mode (and `both`) those claims are taken for the token's short
//! life; in `memberships` mode they are ignored and the membership is read again at each request
//! by its id, so a revocation holds at the next request.

use std::sync::Arc;

use chrono::Duration;
use relais_domain::ids::MemberId;

use super::oidc::Providers;
use super::tokens::TokenIssuer;

/// How long an issued token lives unless `RELAIS_OIDC_TOKEN_TTL_MINUTES` says otherwise:
/// short, since the front-end exchanges a fresh ID token (or refreshes at its provider), and a
/// machine asks for a new token with its credentials, anyway.
pub const DEFAULT_EXCHANGED_TTL_MINUTES: u32 = 15;

pub struct FrontDoor {
    /// The providers whose ID tokens are exchanged (`RELAIS_OIDC_PROVIDERS`); `None` when none
    /// is configured: the token exchange is then refused, client credentials are not.
    pub providers: Option<Arc<Providers>>,
    pub issuer: TokenIssuer,
    /// How long the tokens it signs live.
    pub ttl: Duration,
}

impl FrontDoor {
    /// The membership a token of this instance names (`iss` its own, `sub` = `member:<id>`).
    pub fn member_named(&self, issuer: &str, subject: &str) -> Option<MemberId> {
        if issuer != self.issuer.issuer() {
            return None;
        }
        // The token's `sub` is the member's principal (`Member::principal`).
        relais_domain::member::member_of_principal(subject)
    }
}
