//! Where the signing keys come from: configuration, or a secret the instance makes itself.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use relais_persistence::{Database, secrets};

use super::jwks::Jwks;
use super::{TokenIssuer, TokenVerifier};

/// Name of the instance's own HS256 secret in `instance_secrets`.
const INSTANCE_SECRET: &str = "jwt_hs256_secret";
/// A configured HS256 secret shorter than this is refused: it could be guessed.
const MIN_SECRET_BYTES: usize = 32;
/// Default least time between two fetches of the JWK Set caused by unknown `kid`s.
pub const DEFAULT_JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Default longest lifetime of a token (`exp` − `iat`), in minutes: twelve hours.
pub const DEFAULT_MAX_TTL_MINUTES: u32 = 720;

/// JWT configuration, from `RELAIS_JWT_*`.
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    /// `RELAIS_JWT_SECRET`: a shared HS256 secret.
    pub secret: Option<String>,
    /// `RELAIS_JWT_PUBLIC_KEY`: PEM text, or the path of a PEM file, of an identity provider's key.
    pub public_key: Option<String>,
    /// `RELAIS_JWT_PUBLIC_KEYS`: keys chosen by the token's `kid`, for rotation:
    /// `kid=PEM-or-path` pairs separated by commas.
    pub public_keys: Option<String>,
    /// `RELAIS_JWT_JWKS_URL`: the JWK Set of an identity provider.
    pub jwks_url: Option<String>,
    /// `RELAIS_JWT_JWKS_MIN_REFRESH_SECONDS`: the least time between two fetches of the JWK Set
    /// triggered by unknown `kid`s (default 60 s).
    pub jwks_min_refresh: Option<Duration>,
    /// `RELAIS_JWT_PRIVATE_KEY`: the matching private key, only for `relais token`.
    pub private_key: Option<String>,
    /// `RELAIS_JWT_ALGORITHM`: `RS256` or `ES256` with public keys (default `RS256`).
    pub algorithm: Option<String>,
    /// `RELAIS_JWT_ISSUER` (default `relais`).
    pub issuer: String,
    /// `RELAIS_JWT_AUDIENCE` (default `relais`).
    pub audience: String,
    /// `RELAIS_JWT_MAX_TTL_MINUTES`: the longest lifetime (`exp` − `iat`) of a token the service
    /// accepts and `relais token` issues, whoever signed it (default 720).
    pub max_ttl_minutes: Option<u32>,
}

impl JwtSettings {
    /// The longest lifetime of a token.
    pub fn max_ttl(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(
            self.max_ttl_minutes.unwrap_or(DEFAULT_MAX_TTL_MINUTES),
        ))
    }
}

/// A key configuration that cannot work; the message names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Which key the service verifies with, for the start-up log and the readiness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `RELAIS_JWT_SECRET`.
    ConfiguredSecret,
    /// `RELAIS_JWT_PUBLIC_KEY`, `RELAIS_JWT_PUBLIC_KEYS` and/or `RELAIS_JWT_JWKS_URL`.
    ConfiguredPublicKey(Algorithm),
    /// The secret this instance made itself and keeps in its database (zero set-up): whoever
    /// reads the database can sign tokens.
    InstanceSecret,
}

fn pem(value: &str) -> Result<Vec<u8>, KeyError> {
    if value.trim_start().starts_with("-----BEGIN") {
        Ok(value.as_bytes().to_vec())
    } else {
        std::fs::read(value).map_err(|e| KeyError(format!("cannot read the key file {value}: {e}")))
    }
}

/// `kid=PEM-or-path` pairs separated by commas (a PEM holds no comma; a kid holds no `=`).
fn named_keys(list: &str) -> Result<Vec<(&str, &str)>, KeyError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((kid, value)) if !kid.trim().is_empty() && !value.trim().is_empty() => {
                Ok((kid.trim(), value.trim()))
            }
            _ => Err(KeyError(format!(
                "RELAIS_JWT_PUBLIC_KEYS: {:?} is not kid=PEM-or-path",
                entry.chars().take(40).collect::<String>()
            ))),
        })
        .collect()
}

fn jwks_url(url: &str) -> Result<(), KeyError> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => Ok(()),
        _ => Err(KeyError(format!(
            "RELAIS_JWT_JWKS_URL={url} is not an http(s) URL"
        ))),
    }
}

fn key_error(what: &str) -> impl Fn(jsonwebtoken::errors::Error) -> KeyError + '_ {
    move |e| KeyError(format!("{what} is not usable: {e}"))
}

/// The verifier the service uses, and an issuer when this instance can sign tokens.
pub fn resolve_keys(
    settings: &JwtSettings,
    db: &Database,
) -> Result<(TokenVerifier, Option<TokenIssuer>, KeySource), KeyError> {
    let (iss, aud) = (settings.issuer.as_str(), settings.audience.as_str());
    let asymmetric = settings.public_key.is_some()
        || settings.public_keys.is_some()
        || settings.jwks_url.is_some();
    if asymmetric {
        if settings.secret.is_some() {
            return Err(KeyError(
                "RELAIS_JWT_SECRET cannot be combined with RELAIS_JWT_PUBLIC_KEY, RELAIS_JWT_PUBLIC_KEYS or RELAIS_JWT_JWKS_URL: one algorithm is accepted".into(),
            ));
        }
        let algorithm = match settings.algorithm.as_deref().unwrap_or("RS256") {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(KeyError(format!(
                    "RELAIS_JWT_ALGORITHM={other}: public keys work with RS256 or ES256"
                )));
            }
        };
        let decoding = |pem: &[u8], what: &str| {
            match algorithm {
                Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
                _ => DecodingKey::from_rsa_pem(pem),
            }
            .map_err(key_error(what))
        };
        let default_key = settings
            .public_key
            .as_deref()
            .map(|public| decoding(&pem(public)?, "RELAIS_JWT_PUBLIC_KEY"))
            .transpose()?;
        let mut named = HashMap::new();
        for (kid, value) in named_keys(settings.public_keys.as_deref().unwrap_or(""))? {
            let key = decoding(
                &pem(value)?,
                &format!("RELAIS_JWT_PUBLIC_KEYS: the key {kid}"),
            )?;
            if named.insert(kid.to_owned(), key).is_some() {
                return Err(KeyError(format!(
                    "RELAIS_JWT_PUBLIC_KEYS names the kid {kid} twice"
                )));
            }
        }
        let jwks = settings
            .jwks_url
            .as_deref()
            .map(|url| {
                jwks_url(url)?;
                Jwks::fetch(
                    url,
                    algorithm,
                    settings
                        .jwks_min_refresh
                        .unwrap_or(DEFAULT_JWKS_MIN_REFRESH),
                )
                .map_err(|e| KeyError(format!("RELAIS_JWT_JWKS_URL: {e}")))
            })
            .transpose()?;
        let issuer = match (&settings.private_key, &settings.public_key) {
            (Some(private), Some(_)) => {
                let private = pem(private)?;
                let encoding = match algorithm {
                    Algorithm::ES256 => EncodingKey::from_ec_pem(&private),
                    _ => EncodingKey::from_rsa_pem(&private),
                }
                .map_err(key_error("RELAIS_JWT_PRIVATE_KEY"))?;
                Some(TokenIssuer::new(encoding, algorithm, iss, aud))
            }
            (Some(_), None) => {
                return Err(KeyError(
                    "RELAIS_JWT_PRIVATE_KEY needs the matching RELAIS_JWT_PUBLIC_KEY".into(),
                ));
            }
            (None, _) => None,
        };
        let source = KeySource::ConfiguredPublicKey(algorithm);
        return Ok((
            TokenVerifier::with_keys(default_key, named, jwks, algorithm, iss, aud)
                .with_max_lifetime(settings.max_ttl())
                .with_source(source),
            issuer.map(|issuer| issuer.with_max_ttl(settings.max_ttl())),
            source,
        ));
    }
    if settings.algorithm.as_deref().is_some_and(|a| a != "HS256") {
        return Err(KeyError(
            "RELAIS_JWT_ALGORITHM names an asymmetric algorithm but none of RELAIS_JWT_PUBLIC_KEY, RELAIS_JWT_PUBLIC_KEYS, RELAIS_JWT_JWKS_URL is set".into(),
        ));
    }
    let (secret, source) = match &settings.secret {
        Some(secret) if secret.len() < MIN_SECRET_BYTES => {
            return Err(KeyError(format!(
                "RELAIS_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long"
            )));
        }
        Some(secret) => (secret.clone(), KeySource::ConfiguredSecret),
        None => (
            db.write(|conn| {
                secrets::get_or_create(conn, INSTANCE_SECRET, || {
                    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
                })
            })
            .map_err(|e: relais_persistence::StoreError| {
                KeyError(format!("cannot read or create the instance secret: {e}"))
            })?,
            KeySource::InstanceSecret,
        ),
    };
    Ok((
        TokenVerifier::new(
            DecodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
            iss,
            aud,
        )
        .with_max_lifetime(settings.max_ttl())
        .with_source(source),
        Some(
            TokenIssuer::new(
                EncodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
                iss,
                aud,
            )
            .with_max_ttl(settings.max_ttl()),
        ),
        source,
    ))
}
