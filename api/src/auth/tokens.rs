//! Token claims, issuing and verification.

use chrono::{Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use relais_domain::access::Principal;
use relais_domain::ids::{PartnerId, PostId, UnitId};
use relais_domain::reference::Role;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

/// Clock skew tolerated between Relais and an identity provider.
const LEEWAY_SECONDS: u64 = 30;

/// What a Relais token says of its holder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// The posts the holder works for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_ids: Vec<PostId>,
    /// A single post, as some identity providers send it; merged into `post_ids`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<PostId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl Claims {
    /// The principal the claims describe, if they are coherent for the role.
    pub fn into_principal(self) -> Result<Principal, ApiError> {
        let mut post_ids = self.post_ids;
        if let Some(post) = self.post_id.filter(|p| !post_ids.contains(p)) {
            post_ids.push(post);
        }
        let principal = Principal {
            subject: self.sub,
            role: self.role,
            post_ids,
            unit_id: self.unit_id,
            partner_id: self.partner_id,
        };
        match missing_scope_claim(&principal) {
            Some(claim) => Err(ApiError::Unauthorized(format!(
                "a token for the role {} must carry the claim {claim}",
                principal.role
            ))),
            None => Ok(principal),
        }
    }
}

/// The scope claim a role needs and the principal lacks, if any.
pub fn missing_scope_claim(principal: &Principal) -> Option<&'static str> {
    match principal.role {
        Role::SocialWorker | Role::Coordinator if principal.post_ids.is_empty() => Some("post_ids"),
        Role::Officer if principal.unit_id.is_none() => Some("unit_id"),
        Role::Partner if principal.partner_id.is_none() => Some("partner_id"),
        _ => None,
    }
}

/// Checks tokens: signature with the one configured algorithm, `exp`, `nbf`, `iss` and `aud`.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(key: DecodingKey, algorithm: Algorithm, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self { key, validation }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidAudience => "the token is not meant for this service (audience)",
                ErrorKind::InvalidIssuer => "the token comes from an unknown issuer",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::InvalidAlgorithm => {
                    "the token is signed with an algorithm this service does not accept"
                }
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                ErrorKind::Json(_) => "the token's claims are not those of a Relais token",
                _ => "the token is malformed",
            };
            ApiError::Unauthorized(reason.to_owned())
        })?;
        data.claims.into_principal()
    }
}

/// Signs tokens, for `relais token` and the tests.
pub struct TokenIssuer {
    key: EncodingKey,
    algorithm: Algorithm,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    pub fn new(key: EncodingKey, algorithm: Algorithm, issuer: &str, audience: &str) -> Self {
        Self {
            key,
            algorithm,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// A token for `principal`, valid for `ttl` from now; refused if the role's scope is missing,
    /// since the service would refuse the token anyway.
    pub fn issue(&self, principal: &Principal, ttl: Duration) -> Result<String, ApiError> {
        if let Some(claim) = missing_scope_claim(principal) {
            return Err(ApiError::invalid(
                claim,
                "required",
                format!("a token for the role {} needs {claim}", principal.role),
            ));
        }
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: principal.subject.clone(),
            role: principal.role,
            post_ids: principal.post_ids.clone(),
            post_id: None,
            unit_id: principal.unit_id,
            partner_id: principal.partner_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl.num_seconds(),
        };
        encode(&Header::new(self.algorithm), &claims, &self.key)
            .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))
    }
}
