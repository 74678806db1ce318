//! The HTTP surface: security headers, CORS closed by default, rate limits, strict bodies.

use relais_api::http::protection::{API_CSP, ProtectionSettings, SWAGGER_UI_CSP};
use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::{Answer, TestApp};

#[track_caller]
fn assert_security_headers(answer: &Answer, csp: &str) {
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{answer:?}");
    assert_eq!(answer.header("content-security-policy"), Some(csp));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn every_answer_carries_the_security_headers() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    for answer in [
        app.call("GET", "/health", None, None, &[]),
        app.call("GET", "/api/v1/posts", None, None, &[]),
        app.get("/api/v1/posts", &admin),
        app.get("/api/v1/no-such-thing", &admin),
        app.post("/api/v1/posts", &admin, json!({"name": 1})),
        app.call("GET", "/api-docs/openapi.json", None, None, &[]),
    ] {
        assert_security_headers(&answer, API_CSP);
    }
    // Swagger UI gets a policy it can work with: its own scripts, styles and images, no framing.
    let page = app.call("GET", "/swagger-ui/", None, None, &[]);
    assert_eq!(page.status, 200);
    assert_security_headers(&page, SWAGGER_UI_CSP);
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
        "swagger-ui.css",
    ] {
        let answer = app.call("GET", &format!("/swagger-ui/{asset}"), None, None, &[]);
        assert_eq!(answer.status, 200, "{asset}");
        assert_security_headers(&answer, SWAGGER_UI_CSP);
    }
}

fn preflight(app: &TestApp, origin: &str) -> Answer {
    app.call(
        "OPTIONS",
        "/api/v1/posts",
        None,
        None,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
    )
}

fn cors_headers(answer: &Answer) -> Vec<&String> {
    answer
        .headers
        .keys()
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[test]
fn cors_is_closed_by_default() {
    let app = TestApp::init().spawn();
    let origin = "https://app.example.fr";
    assert_eq!(
        cors_headers(&preflight(&app, origin)),
        Vec::<&String>::new()
    );
    let answer = app.call(
        "GET",
        "/api/v1/posts",
        Some(&app.admin()),
        None,
        &[("Origin", origin)],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(cors_headers(&answer), Vec::<&String>::new());
}

#[test]
fn cors_answers_the_configured_origins_only() {
    let allowed = "https://app.example.fr";
    let app = TestApp::init()
        .with_protection(ProtectionSettings {
            cors_origins: vec![allowed.into(), "http://localhost:5173".into()],
            ..ProtectionSettings::default()
        })
        .spawn();
    let answer = preflight(&app, allowed);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), Some(allowed));
    let methods = answer.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = answer
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("if-match"));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));

    let other = preflight(&app, "https://evil.example");
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(other.header("access-control-allow-methods"), None);

    let get = |origin: &str| {
        app.call(
            "GET",
            "/api/v1/posts",
            Some(&app.admin()),
            None,
            &[("Origin", origin)],
        )
    };
    let answer = get(allowed);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), Some(allowed));
    let exposed = answer
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag") && exposed.contains("ratelimit-remaining"));
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let answer = get("https://evil.example");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

fn limited(per_token: u32, per_address: u32) -> TestApp {
    TestApp::init()
        .with_protection(ProtectionSettings {
            per_token_per_minute: per_token,
            per_address_per_minute: per_address,
            ..ProtectionSettings::default()
        })
        .spawn()
}

#[track_caller]
fn assert_too_many(answer: &Answer, limit: &str) {
    answer.assert_problem(429);
    assert_eq!(answer.body["title"], "Too Many Requests");
    let retry_after: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(answer.header("ratelimit-limit"), Some(limit));
    assert_eq!(answer.header("ratelimit-remaining"), Some("0"));
    let reset: u64 = answer.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset >= retry_after && reset <= 60, "{reset}");
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
}

#[test]
fn each_token_has_its_own_rate_limit() {
    let app = limited(3, 0);
    let (first, second) = (app.admin(), app.token(Role::Statistics, &[]));
    for remaining in ["2", "1", "0"] {
        let answer = app.get("/api/v1/posts", &first);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ratelimit-limit"), Some("3"));
        assert_eq!(answer.header("ratelimit-remaining"), Some(remaining));
        assert!(answer.header("ratelimit-reset").is_some());
    }
    assert_too_many(&app.get("/api/v1/posts", &first), "3");
    // Another token of the same client is not held back by the first one's use.
    let answer = app.get("/api/v1/reference", &second);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("ratelimit-remaining"), Some("2"));
    // Without a per-address limit, a request without token is not limited.
    let anonymous = app.call("GET", "/api/v1/reference", None, None, &[]);
    assert_eq!(anonymous.status, 200);
    assert_eq!(anonymous.header("ratelimit-limit"), None);
}

#[test]
fn each_client_address_has_its_own_rate_limit_whatever_its_tokens() {
    let app = limited(100, 2);
    let first = app.get("/api/v1/posts", &app.admin());
    assert_eq!(first.status, 200);
    // The tightest limit is the one reported.
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    assert_eq!(
        app.call("GET", "/api/v1/reference", None, None, &[]).status,
        200
    );
    assert_too_many(
        &app.get("/api/v1/posts", &app.token(Role::Statistics, &[])),
        "2",
    );
    assert_too_many(&app.call("GET", "/api/v1/reference", None, None, &[]), "2");
    // The probes are never limited.
    let health = app.call("GET", "/health", None, None, &[]);
    assert_eq!(health.status, 200);
    assert_eq!(health.header("ratelimit-limit"), None);
}

#[test]
fn the_test_harness_sends_no_rate_limit_headers() {
    let app = TestApp::init().spawn();
    let answer = app.get("/api/v1/posts", &app.admin());
    assert_eq!(answer.header("ratelimit-limit"), None);
}

/// Every operation that takes a body, with its path parameters filled in, from the contract.
fn operations_with_a_body() -> Vec<(String, String, String)> {
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            // The token endpoint takes a form, judged by its own tests (`exchange`).
            if operation.get("requestBody").is_some() && path != "/api/v1/auth/token" {
                let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
                assert!(!concrete.contains('{'), "fill in the parameters of {path}");
                found.push((method.to_uppercase(), concrete, path.clone()));
            }
        }
    }
    assert!(found.len() > 20, "{found:?}");
    found
}

#[test]
fn every_request_body_refuses_unknown_fields_and_oversized_bodies() {
    let app = TestApp::init().spawn();
    let headers = [("If-Match", "\"1\""), ("Idempotency-Key", "strict-json")];
    let post = uuid::Uuid::now_v7().to_string();
    for (method, path, template) in operations_with_a_body() {
        // A role the access matrix lets through, so that the body is what gets judged.
        let rule = relais_api::http::access::rule_for(&method.parse().unwrap(), &template).unwrap();
        let relais_api::http::access::Allowed::Roles(grants) = rule.allowed else {
            panic!("{method} {template} takes a body without a token");
        };
        let token = app.token(grants[0].0, &[&post]);
        let body = json!({"surprise": true});
        let answer = app.call(&method, &path, Some(&token), Some(&body), &headers);
        assert!(
            matches!(answer.status, 400 | 422),
            "{method} {path}: {}",
            answer.status
        );
        answer.assert_problem(answer.status);
        assert_eq!(answer.fields(), ["surprise"], "{method} {path}");

        let huge = json!({"name": "x".repeat(129 * 1024)}).to_string();
        let answer = app.send_raw_with(
            &method,
            &path,
            &token,
            "application/json",
            huge.as_bytes(),
            &headers,
        );
        answer.assert_problem(413);
    }
    // Nested objects are as strict.
    let post = app.create_post("Poste de Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let mut body: Value = crate::support::fixtures::situation_body(&post);
    body["beneficiary"]["surprise"] = json!(1);
    let answer = app.post("/api/v1/situations", &sw, body);
    answer.assert_problem(422);
    assert_eq!(answer.fields(), ["beneficiary.surprise"]);
}
