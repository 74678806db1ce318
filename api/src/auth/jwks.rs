//! Verification keys published by an identity provider as a JWK Set (`RELAIS_JWT_JWKS_URL`).
//!
//! The set is fetched at start-up and fetched again when a token names a `kid` that no configured
//! key has, at most once per `min_interval`, so that a flood of tokens with made-up `kid`s cannot
//! turn Relais into a client hammering the provider. Keys are parsed by jsonwebtoken
//! (`DecodingKey::from_jwk`); a key that does not fit the pinned algorithm is left out. A token
//! verified with one of these keys meets every other check of `TokenVerifier`, its longest
//! lifetime (`RELAIS_JWT_MAX_TTL_MINUTES`) included: the provider's own policy is not trusted
//! for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// How long a fetch of the set may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWK Set larger than this is refused (a provider publishes a handful of keys).
const MAX_SET_BYTES: u64 = 1024 * 1024;

/// A JWK Set (RFC 7517 §5) whose keys are read one by one into jsonwebtoken's `Jwk`.
#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// The keys of one JWK Set URL, by `kid`.
pub struct Jwks {
    url: String,
    algorithm: Algorithm,
    min_interval: Duration,
    agent: ureq::Agent,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// When the set was last fetched, or a fetch last claimed.
    last_fetch: Mutex<Instant>,
}

impl Jwks {
    /// Fetches the set at `url` once; fails when it cannot be read, so that a wrong URL is found
    /// at start-up rather than at the first token.
    pub fn fetch(url: &str, algorithm: Algorithm, min_interval: Duration) -> Result<Self, String> {
        let mut agent = ureq::AgentBuilder::new()
            .timeout(FETCH_TIMEOUT)
            .redirects(0)
            .user_agent(concat!("Relais/", env!("CARGO_PKG_VERSION")));
        match ureq::native_tls::TlsConnector::new() {
            Ok(tls) => agent = agent.tls_connector(Arc::new(tls)),
            Err(e) => log::error!("jwks: no TLS, an https JWKS URL cannot be fetched: {e}"),
        }
        let jwks = Self {
            url: url.to_owned(),
            algorithm,
            min_interval,
            agent: agent.build(),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(Instant::now()),
        };
        jwks.refresh()?;
        Ok(jwks)
    }

    /// The key named `kid`, if the last fetched set has it.
    pub fn get(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .ok()
            .and_then(|keys| keys.get(kid).cloned())
    }

    /// How many usable keys the last fetched set had.
    pub fn len(&self) -> usize {
        self.keys.read().map(|keys| keys.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether a refresh may start now; if so, the slot is taken, so that concurrent callers
    /// (and every other caller for `min_interval`) get `false`.
    pub fn claim_refresh(&self) -> bool {
        let Ok(mut last) = self.last_fetch.lock() else {
            return false;
        };
        if last.elapsed() < self.min_interval {
            return false;
        }
        *last = Instant::now();
        true
    }

    /// Fetches the set and replaces the keys with it (a key the provider withdrew is dropped).
    /// Blocking: call it at start-up or on the blocking thread pool. On failure the keys are kept.
    pub fn refresh(&self) -> Result<usize, String> {
        let set = self.download()?;
        let mut usable = HashMap::new();
        for value in set.keys {
            // Key by key rather than as one `JwkSet`: a provider may publish a key type that
            // jsonwebtoken does not know (for encryption, say), which must not hide the others.
            let jwk = match serde_json::from_value::<Jwk>(value) {
                Ok(jwk) => jwk,
                Err(e) => {
                    log::debug!("jwks: key left out: {e}");
                    continue;
                }
            };
            match self.usable(&jwk) {
                Ok((kid, key)) => {
                    usable.insert(kid, Arc::new(key));
                }
                Err(reason) => log::debug!("jwks: key left out: {reason}"),
            }
        }
        let count = usable.len();
        if count == 0 {
            log::warn!(
                "jwks: {} has no key usable with {:?}",
                self.url,
                self.algorithm
            );
        }
        if let Ok(mut keys) = self.keys.write() {
            *keys = usable;
        }
        if let Ok(mut last) = self.last_fetch.lock() {
            *last = Instant::now();
        }
        Ok(count)
    }

    fn download(&self) -> Result<RawSet, String> {
        let response = self
            .agent
            .get(&self.url)
            .set("Accept", "application/json")
            .call()
            .map_err(|e| format!("cannot fetch the JWKS at {}: {e}", self.url))?;
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(response.into_reader(), MAX_SET_BYTES + 1),
            &mut body,
        )
        .map_err(|e| format!("cannot read the JWKS at {}: {e}", self.url))?;
        if body.len() as u64 > MAX_SET_BYTES {
            return Err(format!(
                "the JWKS at {} is larger than {MAX_SET_BYTES} bytes",
                self.url
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("the document at {} is not a JWK Set: {e}", self.url))
    }

    /// The key with its `kid`, if it may verify tokens signed with the pinned algorithm.
    fn usable(&self, jwk: &Jwk) -> Result<(String, DecodingKey), String> {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or("a key without kid cannot be chosen")?;
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return Err(format!("{kid}: not a signing key (use)"));
        }
        if let Some(alg) = jwk.common.key_algorithm
            && alg.to_string().parse::<Algorithm>().ok() != Some(self.algorithm)
        {
            return Err(format!("{kid}: for {alg}, not {:?}", self.algorithm));
        }
        if let AlgorithmParameters::EllipticCurve(params) = &jwk.algorithm
            && self.algorithm == Algorithm::ES256
            && params.curve != EllipticCurve::P256
        {
            return Err(format!("{kid}: ES256 needs a P-256 key"));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{kid}: {e}"))?;
        if key.family() != self.algorithm.family() {
            return Err(format!("{kid}: not a key for {:?}", self.algorithm));
        }
        Ok((kid, key))
    }
}
