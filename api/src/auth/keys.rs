//! Where the signing keys come from: configuration, or a secret the instance makes itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use relais_persistence::{Database, secrets};

use super::{TokenIssuer, TokenVerifier};

/// Name of the instance's own HS256 secret in `instance_secrets`.
const INSTANCE_SECRET: &str = "jwt_hs256_secret";
/// A configured HS256 secret shorter than this is refused: it could be guessed.
const MIN_SECRET_BYTES: usize = 32;

/// JWT configuration, from `RELAIS_JWT_*`.
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    /// `RELAIS_JWT_SECRET`: a shared HS256 secret.
    pub secret: Option<String>,
    /// `RELAIS_JWT_PUBLIC_KEY`: PEM text, or the path of a PEM file, of an identity provider's key.
    pub public_key: Option<String>,
    /// `RELAIS_JWT_PRIVATE_KEY`: the matching private key, only for `relais token`.
    pub private_key: Option<String>,
    /// `RELAIS_JWT_ALGORITHM`: `RS256` or `ES256` with a public key (default `RS256`).
    pub algorithm: Option<String>,
    /// `RELAIS_JWT_ISSUER` (default `relais`).
    pub issuer: String,
    /// `RELAIS_JWT_AUDIENCE` (default `relais`).
    pub audience: String,
}

/// A key configuration that cannot work; the message names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Which key the service verifies with, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    ConfiguredSecret,
    ConfiguredPublicKey(Algorithm),
    InstanceSecret,
}

fn pem(value: &str) -> Result<Vec<u8>, KeyError> {
    if value.trim_start().starts_with("-----BEGIN") {
        Ok(value.as_bytes().to_vec())
    } else {
        std::fs::read(value).map_err(|e| KeyError(format!("cannot read the key file {value}: {e}")))
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
    if let Some(public) = &settings.public_key {
        let algorithm = match settings.algorithm.as_deref().unwrap_or("RS256") {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(KeyError(format!(
                    "RELAIS_JWT_ALGORITHM={other}: a public key works with RS256 or ES256"
                )));
            }
        };
        let public = pem(public)?;
        let decoding = match algorithm {
            Algorithm::ES256 => DecodingKey::from_ec_pem(&public),
            _ => DecodingKey::from_rsa_pem(&public),
        }
        .map_err(key_error("RELAIS_JWT_PUBLIC_KEY"))?;
        let issuer = match &settings.private_key {
            Some(private) => {
                let private = pem(private)?;
                let encoding = match algorithm {
                    Algorithm::ES256 => EncodingKey::from_ec_pem(&private),
                    _ => EncodingKey::from_rsa_pem(&private),
                }
                .map_err(key_error("RELAIS_JWT_PRIVATE_KEY"))?;
                Some(TokenIssuer::new(encoding, algorithm, iss, aud))
            }
            None => None,
        };
        return Ok((
            TokenVerifier::new(decoding, algorithm, iss, aud),
            issuer,
            KeySource::ConfiguredPublicKey(algorithm),
        ));
    }
    if settings.algorithm.as_deref().is_some_and(|a| a != "HS256") {
        return Err(KeyError(
            "RELAIS_JWT_ALGORITHM names an asymmetric algorithm but RELAIS_JWT_PUBLIC_KEY is not set".into(),
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
        ),
        Some(TokenIssuer::new(
            EncodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
            iss,
            aud,
        )),
        source,
    ))
}
