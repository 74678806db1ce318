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
use super::keys::{DEFAULT_MAX_TTL_MINUTES, KeySource};
use crate::clock::{Clock, SystemClock};
use relais_domain::validation::Invalid;

use super::AuthError;

/// Clock skew tolerated between Relais and an identity provider.
pub(super) const LEEWAY_SECONDS: u64 = 30;

/// What a Relais token says of its holder: its role and scope (claims mode), or only who it is
/// (`iss`, `sub`, and `email` at an invitation's first login), mapped to its membership.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Absent from a token that carries an identity only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
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
    /// When the token was issued. Optional in the claims so that a token without it is refused
    /// with a reason (see `TokenVerifier::check_lifetime`) rather than as unreadable claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub nbf: i64,
    pub exp: i64,
    /// The holder's e-mail, as an identity provider sends it: binds an invitation at the first
    /// login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider verified the e-mail; an e-mail said unverified binds no invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The OAuth client the token was issued to (RFC 9068 §2.2), as a provider's access tokens
    /// obtained by client credentials carry it: maps a machine to its membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Who a token names, for the mapping to a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// The e-mail, unless the provider says it is not verified.
    pub verified_email: Option<String>,
    /// The OAuth client the token was issued to (`client_id`), if it says: a machine's
    /// membership is found by it when no membership names the subject.
    pub client_id: Option<String>,
}

impl Claims {
    /// Whether the token carries Relais's own claims (a role), rather than an identity only.
    pub fn carries_role(&self) -> bool {
        self.role.is_some()
    }

    /// Who the token names.
    pub fn identity(&self) -> Result<Identity, AuthError> {
        check_subject(&self.sub)?;
        Ok(Identity {
            issuer: self.iss.clone(),
            subject: self.sub.clone(),
            verified_email: self
                .email
                .clone()
                .filter(|_| self.email_verified != Some(false)),
            // A client id no membership could name (control characters, too long) names none.
            client_id: self.client_id.clone().filter(|id| legible_client_id(id)),
        })
    }

    /// The principal the claims describe, if they are coherent for the role.
    pub fn into_principal(self) -> Result<Principal, AuthError> {
        let Some(role) = self.role else {
            return Err(AuthError::Refused(
                "the token carries no role: this service takes a token's role and scope from its claims (RELAIS_AUTHORIZATION=claims); set memberships or both to map identities to memberships".into(),
            ));
        };
        let mut post_ids = self.post_ids;
        if let Some(post) = self.post_id.filter(|p| !post_ids.contains(p)) {
            post_ids.push(post);
        }
        let principal = Principal {
            subject: self.sub,
            role,
            post_ids,
            unit_id: self.unit_id,
            partner_id: self.partner_id,
        };
        if principal.is_system() {
            return Err(AuthError::Refused(SYSTEM_ROLE_REFUSED.into()));
        }
        check_subject(&principal.subject)?;
        match missing_scope_claim(&principal) {
            Some(claim) => Err(AuthError::Refused(format!(
                "a token for the role {} must carry the claim {claim}",
                principal.role
            ))),
            None => Ok(principal),
        }
    }
}

/// The trail names the holder by `sub` (claims) or maps it to a membership: it must name
/// someone, legibly.
fn check_subject(subject: &str) -> Result<(), AuthError> {
    if subject.trim().is_empty() || subject.chars().any(relais_domain::validation::deceives) {
        return Err(AuthError::Refused(
            "the token's sub must name its holder: not empty, without control characters nor bidi overrides".into(),
        ));
    }
    Ok(())
}

/// Whether `client_id` could name a machine's membership: 1 to 300 characters, none a control
/// character nor a bidi override (PostgreSQL refuses NUL in text, and so would the lookup).
pub fn legible_client_id(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= 300
        && !client_id.chars().any(relais_domain::validation::deceives)
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

/// Checks tokens: signature with the one configured algorithm, `exp`, `nbf`, `iss` and `aud`,
/// and a lifetime (`exp` − `iat`) of at most `RELAIS_JWT_MAX_TTL_MINUTES`.
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
    /// The longest lifetime (`exp` − `iat`) accepted.
    max_lifetime: Duration,
    /// Where the keys come from, for the start-up log and the readiness probe.
    source: KeySource,
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
        // A verifier built from keys in hand verifies with configured keys; `resolve_keys` says
        // when the secret is the instance's own.
        let source = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeySource::ConfiguredSecret,
            other => KeySource::ConfiguredPublicKey(other),
        };
        Self {
            algorithm,
            validation,
            default_key,
            named,
            jwks,
            max_lifetime: Duration::minutes(i64::from(DEFAULT_MAX_TTL_MINUTES)),
            source,
        }
    }

    /// The same verifier refusing tokens that live longer than `max` (`exp` − `iat`).
    pub fn with_max_lifetime(self, max: Duration) -> Self {
        Self {
            max_lifetime: max,
            ..self
        }
    }

    /// The same verifier, its keys said to come from `source`.
    pub fn with_source(self, source: KeySource) -> Self {
        Self { source, ..self }
    }

    /// Where the keys come from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// The longest lifetime of a token accepted.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// The pinned algorithm and where the keys come from, for the start-up log.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "{:?}, at most {} minutes from iat to exp",
            self.algorithm,
            self.max_lifetime.num_minutes()
        )];
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
        self.check(token)
            .map_err(AuthError::from)
            .and_then(Claims::into_principal)
    }

    /// As [`Self::claims_refreshing`], then the principal of the token's own claims.
    pub async fn verify_refreshing(self: Arc<Self>, token: String) -> Result<Principal, AuthError> {
        self.claims_refreshing(token)
            .await
            .and_then(Claims::into_principal)
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
    pub async fn claims_refreshing(self: Arc<Self>, token: String) -> Result<Claims, AuthError> {
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
                self.check(&token).map_err(AuthError::from)
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

    /// The token's claims, once its signature, `exp`, `nbf`, `iss`, `aud` and lifetime check.
    fn check(&self, token: &str) -> Result<Claims, Refusal> {
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
        // jsonwebtoken checks `exp` and `nbf` against the system's clock; so does this.
        self.check_lifetime(&data.claims, SystemClock.now().timestamp())
            .map_err(Refusal::Invalid)?;
        Ok(data.claims)
    }

    /// Refuses a token whose lifetime (`exp` − `iat`) exceeds the maximum, whoever issued it.
    ///
    /// A token without `iat` is refused rather than measured from now: its lifetime cannot be
    /// known, and measuring `exp` − now instead would admit a century-long token in its last
    /// hours, the same token being refused or accepted depending on when it is shown. RFC 9068
    /// (JWT access tokens) and OpenID Connect both require `iat`, so a provider that leaves it
    /// out is misconfigured, and the refusal names the claim.
    ///
    /// `iat` must not lie in the future (beyond the clock skew tolerated): else a holder of the
    /// key could set `iat` to `exp` − the maximum and have `exp` as far as it likes. With both
    /// checks a token accepted now expires at most the maximum (plus the skew) from now.
    fn check_lifetime(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        let max_minutes = self.max_lifetime.num_minutes();
        let Some(iat) = claims.iat else {
            return Err(AuthError::Refused(format!(
                "the token has no iat (issued at) claim: this service accepts tokens that live at most {max_minutes} minutes (RELAIS_JWT_MAX_TTL_MINUTES) and cannot tell how long this one lives"
            )));
        };
        if iat > now.saturating_add_unsigned(LEEWAY_SECONDS) {
            return Err(AuthError::Refused(
                "the token's iat (issued at) is in the future".into(),
            ));
        }
        let lifetime = claims.exp.saturating_sub(iat);
        if lifetime > self.max_lifetime.num_seconds() {
            // Rounded up: a token of 720 minutes and one second is said to live 721.
            let minutes = lifetime.saturating_add(59) / 60;
            return Err(AuthError::Refused(format!(
                "the token lives {minutes} minutes from iat to exp, longer than the {max_minutes} minutes this service accepts (RELAIS_JWT_MAX_TTL_MINUTES)"
            )));
        }
        Ok(())
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
    /// The longest lifetime issued: the verifier's maximum.
    max_ttl: Duration,
}

impl TokenIssuer {
    pub fn new(key: EncodingKey, algorithm: Algorithm, issuer: &str, audience: &str) -> Self {
        Self {
            key,
            algorithm,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            max_ttl: Duration::minutes(i64::from(DEFAULT_MAX_TTL_MINUTES)),
        }
    }

    /// The same issuer refusing to sign tokens that live longer than `max`.
    pub fn with_max_ttl(self, max: Duration) -> Self {
        Self {
            max_ttl: max,
            ..self
        }
    }

    /// The `iss` of the tokens it signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of the tokens it signs.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The longest lifetime this issuer signs.
    pub fn max_ttl(&self) -> Duration {
        self.max_ttl
    }

    /// A token for `principal`, valid for `ttl` from now; refused if the role's scope is missing
    /// or `ttl` is longer than the maximum, since the service would refuse the token anyway.
    pub fn issue(&self, principal: &Principal, ttl: Duration) -> Result<String, AuthError> {
        self.check_ttl(ttl)?;
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
            role: Some(principal.role),
            post_ids: principal.post_ids.clone(),
            post_id: None,
            unit_id: principal.unit_id,
            partner_id: principal.partner_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: Some(now),
            nbf: now,
            exp: now + ttl.num_seconds(),
            email: None,
            email_verified: None,
            client_id: None,
        };
        self.sign(&claims)
    }

    /// A token naming only an identity (`sub`, and `email` for an invitation's first login),
    /// for a memberships deployment: its role and scope are the membership's.
    pub fn issue_identity(
        &self,
        subject: &str,
        email: Option<&str>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        self.check_ttl(ttl)?;
        if check_subject(subject).is_err() {
            return Err(AuthError::Invalid(Invalid::one(
                "subject",
                "invalid_subject",
                "the subject must name the holder: not empty, without control characters nor bidi overrides",
            )));
        }
        let now = SystemClock.now().timestamp();
        self.sign(&Claims {
            sub: subject.to_owned(),
            role: None,
            post_ids: Vec::new(),
            post_id: None,
            unit_id: None,
            partner_id: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: Some(now),
            nbf: now,
            exp: now + ttl.num_seconds(),
            email: email.map(str::to_owned),
            email_verified: None,
            client_id: None,
        })
    }

    fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        encode(&Header::new(self.algorithm), claims, &self.key)
            .map_err(|e| AuthError::Internal(format!("cannot sign a token: {e}")))
    }

    fn check_ttl(&self, ttl: Duration) -> Result<(), AuthError> {
        if ttl < Duration::minutes(1) || ttl > self.max_ttl {
            return Err(AuthError::Invalid(Invalid::one(
                "ttl_minutes",
                "out_of_range",
                format!(
                    "a token lives from 1 to {} minutes (RELAIS_JWT_MAX_TTL_MINUTES); the service refuses longer ones",
                    self.max_ttl.num_minutes()
                ),
            )));
        }
        Ok(())
    }
}
