//! The OpenID Connect front door (`POST /api/v1/auth/token`): what it verifies ID tokens with,
//! and what it signs Relais tokens with.
//!
//! The token it answers is signed by the instance's own `TokenIssuer` (the HS256 secret, or
//! `RELAIS_JWT_PRIVATE_KEY`), so the verifier of every bearer token takes it in every mode. It
//! names the membership (`sub` = `member:<id>`, `iss` = `RELAIS_JWT_ISSUER`) and carries the
//! membership's role and scope: in `claims` mode (and `both`) those claims are taken for the
//! token's short life; in `memberships` mode they are ignored and the membership is read again
//! at each request by its id, so a revocation holds at the next request.

use std::sync::Arc;

use chrono::Duration;
use relais_domain::ids::MemberId;

use super::oidc::Providers;
use super::tokens::TokenIssuer;

/// How long an exchanged token lives unless `RELAIS_OIDC_TOKEN_TTL_MINUTES` says otherwise:
/// short, since the front-end exchanges a fresh ID token (or refreshes at its provider) anyway.
pub const DEFAULT_EXCHANGED_TTL_MINUTES: u32 = 15;

/// The prefix of the `sub` of a token naming a membership.
const MEMBER_SUBJECT: &str = "member:";

pub struct FrontDoor {
    pub providers: Arc<Providers>,
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
        subject.strip_prefix(MEMBER_SUBJECT)?.parse().ok()
    }
}
