//! Tokens: only a valid bearer token for this service gets in, and the answer says why not.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::support::{TEST_SECRET, TestApp};

fn sign(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(exp_offset: i64, aud: &str) -> serde_json::Value {
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    json!({"sub": "x", "role": "admin", "iss": "relais", "aud": aud, "iat": now, "nbf": now, "exp": now + exp_offset})
}

#[test]
fn a_missing_token_is_refused_with_a_bearer_challenge() {
    let app = TestApp::init().spawn();
    let answer = app.call("GET", "/api/v1/posts", None, None, &[]);
    answer.assert_problem(401);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
}

#[test]
fn expired_badly_signed_and_foreign_tokens_are_refused() {
    let app = TestApp::init().spawn();
    let cases = [
        (sign(claims(-3600, "relais"), TEST_SECRET), "expired"),
        (
            sign(
                claims(3600, "relais"),
                "another-secret-another-secret-another",
            ),
            "signature",
        ),
        (sign(claims(3600, "somebody-else"), TEST_SECRET), "audience"),
        ("not-a-jwt".to_owned(), "malformed"),
    ];
    for (token, reason) in cases {
        let answer = app.get("/api/v1/posts", &token);
        answer.assert_problem(401);
        assert!(
            answer.body["detail"].as_str().unwrap().contains(reason),
            "{reason}: {}",
            answer.body
        );
    }
}

#[test]
fn unsigned_tokens_are_refused() {
    let app = TestApp::init().spawn();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64.encode(claims(3600, "relais").to_string());
    let answer = app.get("/api/v1/posts", &format!("{header}.{body}."));
    answer.assert_problem(401);
}

#[test]
fn a_social_worker_token_without_a_post_is_refused() {
    let app = TestApp::init().spawn();
    // Relais' own issuer refuses to sign such a token; an identity provider might not.
    let mut scopeless = claims(3600, "relais");
    scopeless["role"] = json!("social_worker");
    let answer = app.get("/api/v1/situations", &sign(scopeless, TEST_SECRET));
    answer.assert_problem(401);
    assert!(answer.body["detail"].as_str().unwrap().contains("post_ids"));
}

#[test]
fn a_valid_token_gets_in() {
    let app = TestApp::init().spawn();
    assert_eq!(app.get("/api/v1/posts", &app.admin()).status, 200);
}
