//! Token claims, issuing and verification.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use relais_domain::access::Principal;
use relais_domain::ids::{PartnerId, PostId, UnitId};
use relais_domain::reference::Role;
use serde::{Deserialize, Serialize};

use super::jwks::Jwks;
use crate::clock::{Clock, SystemClock};
use relais_domain::validation::Invalid;

use super::AuthError;

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
    pub fn into_principal(self) -> Result<Principal, AuthError> {
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
        if principal.is_system() {
            return Err(AuthError::Refused(SYSTEM_ROLE_REFUSED.into()));
        }
        // The trail names the holder by `sub`: it must name someone, legibly.
        if principal.subject.trim().is_empty()
            || principal
                .subject
                .chars()
                .any(relais_domain::validation::deceives)
        {
            return Err(AuthError::Refused(
                "the token's sub must name its holder: not empty, without control characters nor bidi overrides".into(),
            ));
        }
        match missing_scope_claim(&principal) {
            Some(claim) => Err(AuthError::Refused(format!(
                "a token for the role {} must carry the claim {claim}",
                principal.role
            ))),
            None => Ok(principal),
        }
    }
}

/// Why a token never carries the role `system`.
const SYSTEM_ROLE_REFUSED: &str =
    "the role system belongs to Relais's own background jobs: no token carries it";

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
///
/// The key is chosen by the token header's `kid`: a key of `RELAIS_JWT_PUBLIC_KEYS`, else one of
/// the JWK Set of `RELAIS_JWT_JWKS_URL`. A token without `kid` is checked with the single key
/// (`RELAIS_JWT_PUBLIC_KEY` or the HS256 secret); so is any token when that single key is the
/// only one configured, as identity providers often send a `kid` that nobody configured.
pub struct TokenVerifier {
    algorithm: Algorithm,
    validation: Validation,
    default_key: Option<DecodingKey>,
    named: HashMap<String, DecodingKey>,
    jwks: Option<Jwks>,
}

/// Why a token was refused, with the one case that a JWKS refresh may cure told apart.
pub enum Refusal {
    UnknownKid(String),
    Invalid(AuthError),
}

impl From<Refusal> for AuthError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::UnknownKid(_) => {
                AuthError::Refused("the token is signed with an unknown key (kid)".into())
            }
            Refusal::Invalid(error) => error,
        }
    }
}

impl TokenVerifier {
    /// A verifier with one key, used for every token.
    pub fn new(key: DecodingKey, algorithm: Algorithm, issuer: &str, audience: &str) -> Self {
        Self::with_keys(Some(key), HashMap::new(), None, algorithm, issuer, audience)
    }

    /// A verifier with an optional key for tokens without `kid`, keys by `kid`, and a JWK Set.
    pub fn with_keys(
        default_key: Option<DecodingKey>,
        named: HashMap<String, DecodingKey>,
        jwks: Option<Jwks>,
        algorithm: Algorithm,
        issuer: &str,
        audience: &str,
    ) -> Self {
        // One algorithm only: a token whose header names another (`none`, or HS256 signed with
        // an RSA public key as secret) is refused before its signature is looked at.
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            algorithm,
            validation,
            default_key,
            named,
            jwks,
        }
    }

    /// The pinned algorithm and where the keys come from, for the start-up log.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{:?}", self.algorithm)];
        if self.default_key.is_some() {
            parts.push("one key for tokens without kid".to_owned());
        }
        if !self.named.is_empty() {
            let mut kids: Vec<&str> = self.named.keys().map(String::as_str).collect();
            kids.sort_unstable();
            parts.push(format!("keys by kid: {}", kids.join(", ")));
        }
        if let Some(jwks) = &self.jwks {
            parts.push(format!(
                "{} key(s) from the JWKS at {}",
                jwks.len(),
                jwks.url()
            ));
        }
        parts.join("; ")
    }

    /// Checks `token` with the keys at hand; never touches the network.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.check(token).map_err(AuthError::from)
    }

    /// As `verify`, but a `kid` that no key has makes the verifier fetch the JWK Set again first,
    /// when one is configured and no fetch happened within its minimum interval.
    ///
    /// The fetch is a blocking HTTP call: it runs on actix's blocking thread pool (`web::block`)
    /// and is awaited, so the worker's event loop keeps serving other requests meanwhile. Requests
    /// that meet an unknown `kid` while a fetch is under way, or within the interval after it,
    /// are refused at once without waiting: the interval bounds what a flood of made-up `kid`s
    /// can cost the identity provider, and a genuinely new key is picked up by the first request
    /// that names it after the interval.
    pub async fn verify_refreshing(self: Arc<Self>, token: String) -> Result<Principal, AuthError> {
        match self.check(&token) {
            Err(Refusal::UnknownKid(kid))
                if self
                    .jwks
                    .as_ref()
                    .is_some_and(super::jwks::Jwks::claim_refresh) =>
            {
                let verifier = Arc::clone(&self);
                let refreshed = actix_web::web::block(move || match &verifier.jwks {
                    Some(jwks) => jwks.refresh(),
                    None => Ok(0),
                })
                .await;
                match refreshed {
                    Ok(Ok(count)) => {
                        log::info!("jwks: fetched again for kid {kid:?}: {count} usable key(s)");
                    }
                    Ok(Err(e)) => log::warn!("jwks: {e}"),
                    Err(e) => log::warn!("jwks: blocking pool: {e}"),
                }
                self.verify(&token)
            }
            other => other.map_err(AuthError::from),
        }
    }

    fn key_for(&self, kid: Option<&str>) -> Result<KeyRef<'_>, Refusal> {
        let only_default = self.named.is_empty() && self.jwks.is_none();
        match (kid, &self.default_key) {
            (None, Some(key)) => Ok(KeyRef::Borrowed(key)),
            (Some(_), Some(key)) if only_default => Ok(KeyRef::Borrowed(key)),
            (None, None) => Err(Refusal::Invalid(AuthError::Refused(
                "the token names no key (kid) and this service has no key for such tokens".into(),
            ))),
            (Some(kid), _) => match self.named.get(kid) {
                Some(key) => Ok(KeyRef::Borrowed(key)),
                None => self
                    .jwks
                    .as_ref()
                    .and_then(|jwks| jwks.get(kid))
                    .map(KeyRef::Shared)
                    .ok_or_else(|| Refusal::UnknownKid(kid.to_owned())),
            },
        }
    }

    fn check(&self, token: &str) -> Result<Principal, Refusal> {
        let header = decode_header(token).map_err(|_| {
            Refusal::Invalid(AuthError::Refused(
                "the token is malformed or its header names an unknown algorithm".into(),
            ))
        })?;
        if header.alg != self.algorithm {
            return Err(Refusal::Invalid(refusal(
                &ErrorKind::InvalidAlgorithm.into(),
            )));
        }
        let key = self.key_for(header.kid.as_deref())?;
        let data = decode::<Claims>(token, key.get(), &self.validation)
            .map_err(|e| Refusal::Invalid(refusal(&e)))?;
        data.claims.into_principal().map_err(Refusal::Invalid)
    }
}

enum KeyRef<'a> {
    Borrowed(&'a DecodingKey),
    Shared(Arc<DecodingKey>),
}

impl KeyRef<'_> {
    fn get(&self) -> &DecodingKey {
        match self {
            KeyRef::Borrowed(key) => key,
            KeyRef::Shared(key) => key,
        }
    }
}

/// The 401 that tells the caller why its token was refused.
fn refusal(e: &jsonwebtoken::errors::Error) -> AuthError {
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
    AuthError::Refused(reason.to_owned())
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
    pub fn issue(&self, principal: &Principal, ttl: Duration) -> Result<String, AuthError> {
        if principal.is_system() {
            return Err(AuthError::Invalid(Invalid::one(
                "role",
                "reserved",
                SYSTEM_ROLE_REFUSED,
            )));
        }
        if principal.subject.trim().is_empty()
            || principal
                .subject
                .chars()
                .any(relais_domain::validation::deceives)
        {
            return Err(AuthError::Invalid(Invalid::one(
                "subject",
                "invalid_subject",
                "the subject must name the holder: not empty, without control characters nor bidi overrides",
            )));
        }
        if let Some(claim) = missing_scope_claim(principal) {
            return Err(AuthError::Invalid(Invalid::one(
                claim,
                "required",
                format!("a token for the role {} needs {claim}", principal.role),
            )));
        }
        let now = SystemClock.now().timestamp();
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
            .map_err(|e| AuthError::Internal(format!("cannot sign a token: {e}")))
    }
}
