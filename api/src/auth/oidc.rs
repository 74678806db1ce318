//! The OpenID providers whose ID tokens the token exchange takes (`RELAIS_OIDC_PROVIDERS`).
//!
//! Each provider is named by its issuer, the client id of the front-end (the audience of its ID
//! tokens), its algorithm (RS256 by default, or ES256: one per provider, pinned as for bearer
//! tokens) and its JWK Set, given as `jwks_url` or found by discovery
//! (`{issuer}/.well-known/openid-configuration`, its `jwks_uri`) at start-up. An ID token is
//! routed to its provider by its `iss`, read before any check; then everything is checked with
//! that provider's keys: signature, `iss`, `aud` containing the client id, `exp`, `iat`.
//!
//! A machine of a provider (a client doing client credentials, mapped to a partner or a unit by
//! an administrator) exchanges its **access token** instead (RFC 9068 JWT access tokens): the
//! same keys and `iss`, `aud` containing this service's audience (`RELAIS_JWT_AUDIENCE`) rather
//! than the front-end's client id, and a `client_id` claim naming the client.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;

use super::jwks::Jwks;
use super::tokens::{Identity, LEEWAY_SECONDS};
use crate::clock::{Clock, SystemClock};

/// How long discovery may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One provider as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The provider's `iss`, exactly as its ID tokens carry it.
    pub issuer: String,
    /// The front-end's client id at this provider: the audience its ID tokens must name.
    pub client_id: String,
    /// The provider's JWK Set; found by discovery when absent.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `RS256` (default) or `ES256`.
    #[serde(default)]
    pub algorithm: Option<String>,
}

/// Who an ID token names. Its names (`given_name`, `usual_name`, `name`) are not read: every
/// membership has the display name its granter gave.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    pub identity: Identity,
}

/// The claims of an ID token that Relais reads (OpenID Connect Core §2, §5.1).
#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    iss: String,
    iat: i64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

/// The claims of a signed UserInfo answer that Relais reads (OpenID Connect Core §5.3.2).
#[derive(Deserialize)]
struct UserInfoClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

/// The claims of a provider's JWT access token that Relais reads (RFC 9068 §2.2).
#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    iss: String,
    iat: i64,
    #[serde(default)]
    client_id: Option<String>,
}

/// The `iss` of a token not yet verified, to choose its provider.
#[derive(Deserialize)]
struct Unverified {
    iss: String,
}

struct Provider {
    settings: ProviderSettings,
    algorithm: Algorithm,
    validation: Validation,
    /// For its access tokens: `aud` must contain this service's audience.
    access_validation: Validation,
    jwks: Jwks,
}

/// The configured providers.
pub struct Providers(Vec<Provider>);

/// Why an ID token was refused (`invalid_grant`), said to the front-end.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IdTokenRefused(pub String);

fn refused(text: impl Into<String>) -> IdTokenRefused {
    IdTokenRefused(text.into())
}

impl Providers {
    /// The providers of `RELAIS_OIDC_PROVIDERS`: a JSON list, or the path of a file holding one.
    /// Fetches each JWK Set (after discovery if needed), so that a wrong setting stops the start.
    /// `audience` is this service's (`RELAIS_JWT_AUDIENCE`), which the providers' access tokens
    /// must name.
    pub fn from_setting(
        value: &str,
        min_refresh: Duration,
        audience: &str,
    ) -> Result<Self, String> {
        let text = if value.trim_start().starts_with('[') {
            value.to_owned()
        } else {
            std::fs::read_to_string(value)
                .map_err(|e| format!("RELAIS_OIDC_PROVIDERS: cannot read {value}: {e}"))?
        };
        let list: Vec<ProviderSettings> = serde_json::from_str(&text).map_err(|e| {
            format!("RELAIS_OIDC_PROVIDERS is not a JSON list of {{issuer, client_id, jwks_url?, algorithm?}}: {e}")
        })?;
        Self::new(list, min_refresh, audience)
    }

    pub fn new(
        list: Vec<ProviderSettings>,
        min_refresh: Duration,
        audience: &str,
    ) -> Result<Self, String> {
        if list.is_empty() {
            return Err("RELAIS_OIDC_PROVIDERS names no provider".into());
        }
        let mut providers = Vec::with_capacity(list.len());
        for settings in list {
            let what = format!("RELAIS_OIDC_PROVIDERS: {}", settings.issuer);
            if providers
                .iter()
                .any(|p: &Provider| p.settings.issuer == settings.issuer)
            {
                return Err(format!("{what}: named twice"));
            }
            if settings.client_id.trim().is_empty() {
                return Err(format!("{what}: client_id is empty"));
            }
            let algorithm = match settings.algorithm.as_deref().unwrap_or("RS256") {
                "RS256" => Algorithm::RS256,
                "ES256" => Algorithm::ES256,
                other => return Err(format!("{what}: algorithm {other} is not RS256 nor ES256")),
            };
            let jwks_url = match &settings.jwks_url {
                Some(url) => url.clone(),
                None => discover(&settings.issuer).map_err(|e| format!("{what}: {e}"))?,
            };
            check_url(&jwks_url).map_err(|e| format!("{what}: {e}"))?;
            let jwks = Jwks::fetch(&jwks_url, algorithm, min_refresh)
                .map_err(|e| format!("{what}: {e}"))?;
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[settings.issuer.as_str()]);
            validation.set_audience(&[settings.client_id.as_str()]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.leeway = LEEWAY_SECONDS;
            let mut access_validation = validation.clone();
            access_validation.set_audience(&[audience]);
            providers.push(Provider {
                settings,
                algorithm,
                validation,
                access_validation,
                jwks,
            });
        }
        Ok(Self(providers))
    }

    /// The issuers, for the start-up log.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|p| {
                format!(
                    "{} (client {}, {:?}, {} key(s) from {})",
                    p.settings.issuer,
                    p.settings.client_id,
                    p.algorithm,
                    p.jwks.len(),
                    p.jwks.url()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Verifies `token` as an ID token of one of the providers. A `kid` its provider's set
    /// lacks fetches the set again first, at most once per interval (see `Jwks`), off the
    /// event loop.
    pub async fn verify(self: Arc<Self>, token: String) -> Result<VerifiedIdToken, IdTokenRefused> {
        let (index, kid) = Arc::clone(&self).route(&token, "ID token").await?;
        self.0[index].check(&token, &kid)
    }

    /// The verified e-mail of a signed UserInfo answer (OpenID Connect Core §5.3.2: a JWT, its
    /// `iss` and `aud` those of the ID token) about the person `verified` names. Providers such
    /// as ProConnect give the e-mail in UserInfo only, not in the ID token: an invitation's first
    /// login needs it. Its signature is checked with the provider's keys; its `sub` must be the
    /// ID token's (Core §5.3.2: "MUST be verified to exactly match").
    pub async fn verified_email_of_userinfo(
        self: Arc<Self>,
        token: String,
        verified: &VerifiedIdToken,
    ) -> Result<Option<String>, IdTokenRefused> {
        let (index, kid) = Arc::clone(&self).route(&token, "userinfo").await?;
        let provider = &self.0[index];
        if provider.settings.issuer != verified.identity.issuer {
            return Err(refused(
                "the userinfo and the ID token come from two providers",
            ));
        }
        provider.check_userinfo(&token, &kid, &verified.identity.subject)
    }

    /// Verifies `token` as a JWT access token of one of the providers, issued to an OAuth client
    /// (its `client_id` claim) for this service (`aud`): who a machine of the provider is.
    pub async fn verify_access_token(
        self: Arc<Self>,
        token: String,
    ) -> Result<Identity, IdTokenRefused> {
        let (index, kid) = Arc::clone(&self).route(&token, "access token").await?;
        self.0[index].check_access(&token, &kid)
    }

    /// The provider of `token` (by its unverified `iss`) and the `kid` to check it with, its
    /// keys fetched again first for a `kid` they lack (at most once per interval).
    async fn route(
        self: Arc<Self>,
        token: &str,
        what: &str,
    ) -> Result<(usize, String), IdTokenRefused> {
        let header =
            decode_header(token).map_err(|_| refused(format!("the {what} is not a JWT")))?;
        // Read unverified only to choose the provider; nothing of it is trusted before `decode`.
        let issuer = jsonwebtoken::dangerous::insecure_decode::<Unverified>(token)
            .map_err(|_| refused(format!("the {what} carries no iss")))?
            .claims
            .iss;
        let index = self
            .0
            .iter()
            .position(|p| p.settings.issuer == issuer)
            .ok_or_else(|| {
                refused(format!(
                    "the {what} comes from {issuer}, which is not a provider of this service"
                ))
            })?;
        if header.alg != self.0[index].algorithm {
            return Err(refused(format!(
                "the {what} is signed with {:?}; this provider is configured for {:?}",
                header.alg, self.0[index].algorithm
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused(format!("the {what} names no key (kid)")))?;
        if self.0[index].jwks.get(&kid).is_none() && self.0[index].jwks.claim_refresh() {
            let providers = Arc::clone(&self);
            match actix_web::web::block(move || providers.0[index].jwks.refresh()).await {
                Ok(Ok(count)) => {
                    log::info!("oidc: {issuer}: keys fetched again for kid {kid:?}: {count}");
                }
                Ok(Err(e)) => log::warn!("oidc: {issuer}: {e}"),
                Err(e) => log::warn!("oidc: blocking pool: {e}"),
            }
        }
        Ok((index, kid))
    }
}

impl Provider {
    /// The provider's key `kid`, which `Providers::route` made sure it publishes (unless its set
    /// changed since).
    fn key(&self, kid: &str, what: &str) -> Result<Arc<jsonwebtoken::DecodingKey>, IdTokenRefused> {
        self.jwks.get(kid).ok_or_else(|| {
            refused(format!(
                "the {what} is signed with a key its provider does not publish (kid)"
            ))
        })
    }

    fn check_access(&self, token: &str, kid: &str) -> Result<Identity, IdTokenRefused> {
        use jsonwebtoken::errors::ErrorKind;
        let key = self.key(kid, "access token")?;
        let claims = decode::<AccessClaims>(token, &key, &self.access_validation)
            .map_err(|e| {
                refused(match e.kind() {
                    ErrorKind::ExpiredSignature => "the access token has expired",
                    ErrorKind::ImmatureSignature => "the access token is not valid yet",
                    ErrorKind::InvalidAudience => {
                        "the access token is not meant for this service (aud lacks RELAIS_JWT_AUDIENCE)"
                    }
                    ErrorKind::InvalidSignature => "the access token's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => "the access token lacks a required claim (exp, aud or sub)",
                    ErrorKind::Json(_) => "the access token's claims are not those of a JWT access token (sub, iss, iat)",
                    _ => "the access token is malformed",
                })
            })?
            .claims;
        check_issued_and_subject(claims.iat, &claims.sub, "access token")?;
        let client_id = claims
            .client_id
            .filter(|id| super::tokens::legible_client_id(id))
            .ok_or_else(|| {
                refused("the access token names no OAuth client (client_id): a person exchanges its ID token")
            })?;
        Ok(Identity {
            issuer: claims.iss,
            subject: claims.sub,
            verified_email: None,
            client_id: Some(client_id),
        })
    }

    fn check(&self, token: &str, kid: &str) -> Result<VerifiedIdToken, IdTokenRefused> {
        use jsonwebtoken::errors::ErrorKind;
        let key = self.key(kid, "ID token")?;
        let claims = decode::<IdClaims>(token, &key, &self.validation)
            .map_err(|e| {
                refused(match e.kind() {
                    ErrorKind::ExpiredSignature => "the ID token has expired",
                    ErrorKind::ImmatureSignature => "the ID token is not valid yet",
                    ErrorKind::InvalidAudience => {
                        "the ID token is not meant for this front-end (aud lacks the provider's client_id)"
                    }
                    ErrorKind::InvalidSignature => "the ID token's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => "the ID token lacks a required claim (exp, aud or sub)",
                    ErrorKind::Json(_) => "the ID token's claims are not those of an ID token (sub, iss, iat)",
                    _ => "the ID token is malformed",
                })
            })?
            .claims;
        check_issued_and_subject(claims.iat, &claims.sub, "ID token")?;
        Ok(VerifiedIdToken {
            identity: Identity {
                issuer: claims.iss,
                subject: claims.sub,
                verified_email: claims
                    .email
                    .filter(|_| claims.email_verified != Some(false)),
                // A person's ID token: never mapped to a machine.
                client_id: None,
            },
        })
    }

    fn check_userinfo(
        &self,
        token: &str,
        kid: &str,
        subject: &str,
    ) -> Result<Option<String>, IdTokenRefused> {
        use jsonwebtoken::errors::ErrorKind;
        let key = self.key(kid, "userinfo")?;
        // UserInfo need not carry `exp` (Core §5.3.2 names only `iss` and `aud`); one that does
        // is held to it.
        let mut validation = self.validation.clone();
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        let claims = decode::<UserInfoClaims>(token, &key, &validation)
            .map_err(|e| {
                refused(match e.kind() {
                    ErrorKind::ExpiredSignature => "the userinfo has expired",
                    ErrorKind::InvalidAudience => {
                        "the userinfo is not meant for this front-end (aud lacks the provider's client_id)"
                    }
                    ErrorKind::InvalidSignature => "the userinfo's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => "the userinfo lacks a required claim (iss, aud or sub)",
                    _ => "the userinfo is malformed",
                })
            })?
            .claims;
        if claims.sub != subject {
            return Err(refused(
                "the userinfo names another person than the ID token (sub)",
            ));
        }
        Ok(claims
            .email
            .filter(|_| claims.email_verified != Some(false)))
    }
}

/// `iat` in the future (beyond the skew) is refused, as for bearer tokens; a `sub` must name its
/// holder legibly. The same for ID tokens and providers' access tokens.
fn check_issued_and_subject(iat: i64, sub: &str, what: &str) -> Result<(), IdTokenRefused> {
    let now = SystemClock.now().timestamp();
    if iat > now.saturating_add_unsigned(LEEWAY_SECONDS) {
        return Err(refused(format!(
            "the {what}'s iat (issued at) is in the future"
        )));
    }
    if sub.trim().is_empty() || sub.chars().any(relais_domain::validation::deceives) {
        return Err(refused(format!(
            "the {what}'s sub does not name its holder legibly"
        )));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => Ok(()),
        _ => Err(format!("{url} is not an http(s) URL")),
    }
}

/// The `jwks_uri` of the provider's discovery document (OpenID Connect Discovery §4).
fn discover(issuer: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let mut agent = ureq::AgentBuilder::new()
        .timeout(DISCOVERY_TIMEOUT)
        .redirects(0)
        .user_agent(concat!("Relais/", env!("CARGO_PKG_VERSION")));
    if let Ok(tls) = ureq::native_tls::TlsConnector::new() {
        agent = agent.tls_connector(Arc::new(tls));
    }
    let document: Discovery = agent
        .build()
        .get(&url)
        .call()
        .map_err(|e| format!("no jwks_url, and discovery at {url} failed: {e}"))?
        .into_json()
        .map_err(|e| format!("the discovery document at {url} is not readable: {e}"))?;
    // Discovery §4.3: the document's issuer must be the one asked for.
    if document.issuer != issuer {
        return Err(format!(
            "the discovery document at {url} names the issuer {}",
            document.issuer
        ));
    }
    Ok(document.jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_setting(value: &str) -> String {
        match Providers::from_setting(value, Duration::from_secs(1), "relais") {
            Ok(_) => panic!("{value} was taken"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_wrong_setting_stops_the_start_naming_what_is_wrong() {
        assert!(refused_setting("[]").contains("names no provider"));
        assert!(refused_setting("/nonexistent/providers.json").contains("cannot read"));
        assert!(refused_setting(r#"[{"issuer": "https://a"}]"#).contains("JSON list"));
        let unknown_field = r#"[{"issuer": "https://a", "client_id": "c", "jwks": "x"}]"#;
        assert!(refused_setting(unknown_field).contains("JSON list"));
        let hs256 = r#"[{"issuer": "https://a", "client_id": "c", "jwks_url": "http://127.0.0.1:1/k", "algorithm": "HS256"}]"#;
        assert!(refused_setting(hs256).contains("not RS256 nor ES256"));
        let ftp = r#"[{"issuer": "https://a", "client_id": "c", "jwks_url": "ftp://x"}]"#;
        assert!(refused_setting(ftp).contains("not an http(s) URL"));
        let empty_client = r#"[{"issuer": "https://a", "client_id": " ", "jwks_url": "http://x"}]"#;
        assert!(refused_setting(empty_client).contains("client_id is empty"));
    }
}
