//! Tokens of an external identity provider: the pinned algorithm, keys chosen by `kid` for
//! rotation, and a JWK Set served over HTTP (here by the test itself) and fetched again when an
//! unknown `kid` arrives, at most once per interval. And the longest lifetime of any token,
//! `RELAIS_JWT_MAX_TTL_MINUTES`, whoever signed it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use relais_api::auth::{JwtSettings, resolve_keys};
use relais_persistence::Database;
use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

use crate::support::{TEST_SECRET, TestApp};

const ISSUER: &str = "https://idp.example.fr/realms/relais";
const AUDIENCE: &str = "relais-api";

pub(crate) fn fixture(name: &str) -> String {
    format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn private(name: &str) -> EncodingKey {
    let pem = std::fs::read(fixture(name)).unwrap();
    if name.starts_with("es256") {
        EncodingKey::from_ec_pem(&pem).unwrap()
    } else {
        EncodingKey::from_rsa_pem(&pem).unwrap()
    }
}

/// The first and the rotated RSA key, and an EC key.
fn first() -> EncodingKey {
    private("rs256-private.pem")
}
fn second() -> EncodingKey {
    private("rs256-second-private.pem")
}

/// Claims valid now for this service, with `changes` applied.
fn claims(changes: Value) -> Value {
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    let mut claims = json!({"sub": "idp-user", "role": "admin", "iss": ISSUER, "aud": AUDIENCE,
                            "iat": now, "nbf": now, "exp": now + 600});
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

fn sign(algorithm: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

fn rs256(kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    sign(Algorithm::RS256, kid, claims, key)
}

fn provider(changes: impl FnOnce(&mut JwtSettings)) -> JwtSettings {
    let mut jwt = JwtSettings {
        algorithm: Some("RS256".into()),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        ..JwtSettings::default()
    };
    changes(&mut jwt);
    jwt
}

/// Asserts a 401 problem whose detail mentions `reason`.
#[track_caller]
fn refused(app: &TestApp, token: &str, reason: &str) {
    let answer = app.get("/api/v1/posts", token);
    answer.assert_problem(401);
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(detail.contains(reason), "{reason}: {detail}");
}

#[track_caller]
fn accepted(app: &TestApp, token: &str) {
    let answer = app.get("/api/v1/posts", token);
    assert_eq!(answer.status, 200, "{:#}", answer.body);
}

fn now() -> i64 {
    relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp()
}

/// Signed with the test secret, as the default `TestApp` expects.
fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
}

/// Claims of the default `TestApp`, issued now and living `minutes`.
fn living(minutes: i64) -> Value {
    let now = now();
    json!({"sub": "x", "role": "admin", "iss": "relais", "aud": "relais",
           "iat": now, "nbf": now, "exp": now + minutes * 60})
}

#[test]
fn tokens_living_longer_than_the_maximum_are_refused() {
    let app = TestApp::init().spawn();
    accepted(&app, &hs256(&living(720)));
    refused(&app, &hs256(&living(721)), "lives 721 minutes");
    refused(
        &app,
        &hs256(&living(52_560_000)),
        "RELAIS_JWT_MAX_TTL_MINUTES",
    );
    let mut without_iat = living(10);
    without_iat.as_object_mut().unwrap().remove("iat");
    refused(&app, &hs256(&without_iat), "no iat");
    // A holder of the key cannot push exp away by moving iat into the future.
    let now = now();
    let ahead = json!({"sub": "x", "role": "admin", "iss": "relais", "aud": "relais",
                       "iat": now + 3600 * 24, "nbf": now, "exp": now + 3600 * 24 + 600});
    refused(&app, &hs256(&ahead), "iat (issued at) is in the future");
    // Issued long ago, within the maximum, still valid: accepted.
    let old = json!({"sub": "x", "role": "admin", "iss": "relais", "aud": "relais",
                     "iat": now - 700 * 60, "nbf": now - 700 * 60, "exp": now + 20 * 60});
    accepted(&app, &hs256(&old));

    // The issuer of `relais token` will not sign what the service would refuse.
    let admin = relais_domain::access::Principal {
        subject: "x".into(),
        role: relais_domain::reference::Role::Admin,
        post_ids: vec![],
        unit_id: None,
        partner_id: None,
    };
    assert!(
        app.issuer
            .issue(&admin, chrono::Duration::minutes(720))
            .is_ok()
    );
    let error = app
        .issuer
        .issue(&admin, chrono::Duration::minutes(721))
        .err()
        .unwrap();
    assert!(error.to_string().contains("720 minutes"), "{error}");
}

#[test]
fn a_configured_maximum_bounds_the_tokens_of_an_identity_provider() {
    let app = TestApp::init()
        .with_jwt(provider(|jwt| {
            jwt.public_key = Some(fixture("rs256-public.pem"));
            jwt.max_ttl_minutes = Some(60);
        }))
        .spawn();
    let now = now();
    accepted(
        &app,
        &rs256(None, &claims(json!({"exp": now + 60 * 60})), &first()),
    );
    refused(
        &app,
        &rs256(None, &claims(json!({"exp": now + 61 * 60})), &first()),
        "lives 61 minutes from iat to exp, longer than the 60 minutes",
    );
}

#[test]
fn token_attacks_are_refused_with_keys_chosen_by_kid() {
    let app = TestApp::init()
        .with_jwt(provider(|jwt| {
            jwt.public_keys = Some(format!(
                "first={}, second={}",
                fixture("rs256-public.pem"),
                fixture("rs256-second-public.pem")
            ));
        }))
        .spawn();
    let good = claims(json!({}));
    accepted(&app, &rs256(Some("first"), &good, &first()));

    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT","kid":"first"}"#),
        b64.encode(good.to_string())
    );
    refused(&app, &unsigned, "algorithm");
    refused(&app, &rs256(Some("first"), &good, &second()), "signature");
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    let expired = claims(json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}));
    refused(&app, &rs256(Some("first"), &expired, &first()), "expired");
    let early = claims(json!({"nbf": now + 3600, "exp": now + 7200}));
    refused(
        &app,
        &rs256(Some("first"), &early, &first()),
        "not valid yet",
    );
    let elsewhere = claims(json!({"aud": "another-service"}));
    refused(
        &app,
        &rs256(Some("first"), &elsewhere, &first()),
        "audience",
    );
    let foreign = claims(json!({"iss": "https://evil.example"}));
    refused(&app, &rs256(Some("first"), &foreign, &first()), "issuer");
    refused(&app, &rs256(Some("third"), &good, &first()), "unknown key");
    refused(&app, &rs256(None, &good, &first()), "names no key");
    // HS256 with the RSA public key as shared secret: the algorithm is pinned to RS256.
    let public_pem = std::fs::read(fixture("rs256-public.pem")).unwrap();
    let confused = sign(
        Algorithm::HS256,
        Some("first"),
        &good,
        &EncodingKey::from_secret(&public_pem),
    );
    refused(&app, &confused, "algorithm");
    // ES256 is refused too, whatever the key.
    refused(
        &app,
        &sign(
            Algorithm::ES256,
            Some("first"),
            &good,
            &private("es256-private.pem"),
        ),
        "algorithm",
    );
}

#[test]
fn both_keys_of_a_rotation_are_accepted() {
    let app = TestApp::init()
        .with_jwt(provider(|jwt| {
            jwt.public_key = Some(fixture("rs256-public.pem"));
            jwt.public_keys = Some(format!(
                "2026-01={},2026-07={}",
                fixture("rs256-public.pem"),
                fixture("rs256-second-public.pem")
            ));
        }))
        .spawn();
    let good = claims(json!({}));
    accepted(&app, &rs256(Some("2026-01"), &good, &first()));
    accepted(&app, &rs256(Some("2026-07"), &good, &second()));
    // Without kid, the single RELAIS_JWT_PUBLIC_KEY.
    accepted(&app, &rs256(None, &good, &first()));
    refused(&app, &rs256(Some("2026-07"), &good, &first()), "signature");
}

#[test]
fn an_hs256_token_signed_with_the_public_key_is_refused_by_a_single_key_service() {
    // With RELAIS_JWT_PUBLIC_KEY alone, any kid is checked with that key.
    let app = TestApp::init()
        .with_jwt(provider(|jwt| {
            jwt.public_key = Some(fixture("rs256-public.pem"));
        }))
        .spawn();
    let good = claims(json!({}));
    accepted(&app, &rs256(None, &good, &first()));
    accepted(&app, &rs256(Some("whatever"), &good, &first()));
    let public_pem = std::fs::read(fixture("rs256-public.pem")).unwrap();
    for kid in [None, Some("whatever")] {
        let confused = sign(
            Algorithm::HS256,
            kid,
            &good,
            &EncodingKey::from_secret(&public_pem),
        );
        refused(&app, &confused, "algorithm");
    }
}

/// A JWK Set served over HTTP on 127.0.0.1, counting the fetches; `publish` changes it.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    set: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub(crate) fn start(set: &JwkSet) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(serde_json::to_string(set).unwrap()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (body, count) = (Arc::clone(&served), Arc::clone(&fetches));
        // Lives as long as the test process; one request per connection.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                count.fetch_add(1, Ordering::SeqCst);
                let body = body.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self {
            url,
            set: served,
            fetches,
        }
    }

    fn publish(&self, set: &JwkSet) {
        *self.set.lock().unwrap() = serde_json::to_string(set).unwrap();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The public JWK of `key` for `algorithm`, named `kid`, built by jsonwebtoken.
pub(crate) fn jwk(key: &EncodingKey, algorithm: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, algorithm).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn jwks_provider(server: &JwksServer, min_refresh: Duration) -> JwtSettings {
    provider(|jwt| {
        jwt.jwks_url = Some(server.url.clone());
        jwt.jwks_min_refresh = Some(min_refresh);
    })
}

#[test]
fn keys_of_a_jwks_are_used_and_a_key_added_later_is_picked_up() {
    let server = JwksServer::start(&JwkSet {
        keys: vec![
            jwk(&first(), Algorithm::RS256, "first"),
            // Keys for another algorithm are left out, even a good RSA key published for RS384.
            jwk(&private("es256-private.pem"), Algorithm::ES256, "ec"),
            jwk(&second(), Algorithm::RS384, "rs384"),
        ],
    });
    let app = TestApp::init()
        .with_jwt(jwks_provider(&server, Duration::from_secs(1)))
        .spawn();
    assert_eq!(server.fetches(), 1, "fetched at start-up");
    let good = claims(json!({}));
    accepted(&app, &rs256(Some("first"), &good, &first()));
    let lasting = claims(json!({"exp": now() + 721 * 60}));
    refused(
        &app,
        &rs256(Some("first"), &lasting, &first()),
        "lives 721 minutes",
    );
    refused(&app, &rs256(Some("rs384"), &good, &second()), "unknown key");
    refused(
        &app,
        &sign(
            Algorithm::ES256,
            Some("ec"),
            &good,
            &private("es256-private.pem"),
        ),
        "algorithm",
    );

    // The provider rotates: the new key is published, then used.
    server.publish(&JwkSet {
        keys: vec![
            jwk(&first(), Algorithm::RS256, "first"),
            jwk(&second(), Algorithm::RS256, "second"),
        ],
    });
    std::thread::sleep(Duration::from_millis(1100));
    let before = server.fetches();
    accepted(&app, &rs256(Some("second"), &good, &second()));
    assert_eq!(
        server.fetches(),
        before + 1,
        "the unknown kid made it fetch again"
    );
    accepted(&app, &rs256(Some("first"), &good, &first()));
    assert_eq!(server.fetches(), before + 1, "known kids fetch nothing");
}

#[test]
fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval() {
    let server = JwksServer::start(&JwkSet {
        keys: vec![jwk(&first(), Algorithm::RS256, "first")],
    });
    let app = TestApp::init()
        .with_jwt(jwks_provider(&server, Duration::from_secs(2)))
        .spawn();
    let good = claims(json!({}));
    // Signed beforehand: RSA signing is slow in debug builds, and the flood must be quick.
    let flood: Vec<String> = (0..20)
        .map(|n| rs256(Some(&format!("made-up-{n}")), &good, &first()))
        .collect();
    std::thread::sleep(Duration::from_millis(2100));
    for token in &flood {
        refused(&app, token, "unknown key");
    }
    assert_eq!(
        server.fetches(),
        2,
        "one fetch at start-up, one for the whole flood"
    );
    accepted(&app, &rs256(Some("first"), &good, &first()));
}

#[test]
fn an_unreachable_jwks_stops_the_start_with_the_setting_named() {
    let database = TestDatabase::create();
    let db = Database::open(&database.url, 1).unwrap();
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", unused.local_addr().unwrap());
    drop(unused);
    let settings = provider(|jwt| jwt.jwks_url = Some(url));
    let error = resolve_keys(&settings, &db).err().unwrap().to_string();
    assert!(error.contains("RELAIS_JWT_JWKS_URL"), "{error}");
    let mixed = JwtSettings {
        secret: Some("a-shared-secret-that-is-long-enough-for-hs256".into()),
        public_key: Some(fixture("rs256-public.pem")),
        ..settings
    };
    let error = resolve_keys(&mixed, &db).err().unwrap().to_string();
    assert!(error.contains("RELAIS_JWT_SECRET"), "{error}");
}
