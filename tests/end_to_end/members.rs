//! Memberships through the real binary: `relais members add` bootstraps the first administrator
//! of a `RELAIS_AUTHORIZATION=memberships` instance, `relais token` without `--role` signs
//! identity-only tokens, and a revocation holds at the next request.

use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

use super::{Server, create_post, example_situation, relais, token};

const MEMBERSHIPS: &[(&str, &str)] = &[("RELAIS_AUTHORIZATION", "memberships")];

/// Runs `relais members add ARGS` and returns the membership it prints.
fn members_add(database_url: &str, args: &[&str]) -> Value {
    let output = relais(database_url, MEMBERSHIPS)
        .args(["members", "add"])
        .args(args)
        .output()
        .expect("run relais members add");
    assert!(
        output.status.success(),
        "relais members add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the membership as JSON")
}

#[test]
fn the_first_admin_invites_a_social_worker_whose_revocation_holds_at_the_next_request() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, MEMBERSHIPS);
    // A token carrying claims grants nothing here: roles come from memberships.
    let claims = token(&db.url, MEMBERSHIPS, &["--role", "admin"]);
    let (status, body) = server.call("GET", "/api/v1/posts", &claims, None);
    assert_eq!(status, 403, "{body}");

    let first = members_add(
        &db.url,
        &[
            "--role",
            "admin",
            "--display-name",
            "Dominique",
            "--subject",
            "admin-1",
        ],
    );
    assert_eq!(first["status"], "active");
    assert_eq!(first["issuer"], "relais");
    let admin = token(&db.url, MEMBERSHIPS, &["--subject", "admin-1"]);
    let post = create_post(&server, &admin);
    let (status, member) = server.call(
        "POST",
        "/api/v1/members",
        &admin,
        Some(
            json!({"display_name": "Camille", "role": "social_worker", "post_ids": [post],
                    "email": "camille@example.org"}),
        ),
    );
    assert_eq!(status, 201, "{member}");

    // The first login carries the e-mail; the invitation is bound to its identity.
    let social_worker = token(
        &db.url,
        MEMBERSHIPS,
        &["--subject", "camille-1", "--email", "camille@example.org"],
    );
    let (status, situation) = server.call(
        "POST",
        "/api/v1/situations",
        &social_worker,
        Some(example_situation(&post)),
    );
    assert_eq!(status, 201, "{situation}");

    // The post's coordinator reads who recorded an intervention by the member's display name.
    let (status, coordinator) = server.call(
        "POST",
        "/api/v1/members",
        &admin,
        Some(
            json!({"display_name": "Noé", "role": "coordinator", "post_ids": [post],
                    "issuer": "relais", "subject": "noe-1"}),
        ),
    );
    assert_eq!(status, 201, "{coordinator}");
    let coordinator = token(&db.url, MEMBERSHIPS, &["--subject", "noe-1"]);
    let interventions = format!(
        "/api/v1/situations/{}/interventions",
        situation["id"].as_str().unwrap()
    );
    let (status, recorded) = server.call(
        "POST",
        &interventions,
        &social_worker,
        Some(json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 20})),
    );
    assert_eq!(status, 201, "{recorded}");
    let (status, page) = server.call("GET", &interventions, &coordinator, None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["recorded_by_name"], "Camille", "{page}");

    // Revoked: the same token, still valid for hours, is refused at once.
    let id = member["id"].as_str().unwrap();
    let request = ureq::delete(&format!("{}/api/v1/members/{id}", server.base))
        .set("Authorization", &format!("Bearer {admin}"))
        .set("If-Match", "*");
    assert_eq!(request.call().expect("revoke").status(), 200);
    let path = format!("/api/v1/situations/{}", situation["id"].as_str().unwrap());
    let (status, body) = server.call("GET", &path, &social_worker, None);
    assert_eq!(status, 403, "{body}");
    // The trail still names the revoked member.
    let (status, trail) = server.call(
        "GET",
        &format!("/api/v1/audit?post_id={post}"),
        &coordinator,
        None,
    );
    assert_eq!(status, 200, "{trail}");
    let subject = format!("member:{id}");
    let by_member: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == subject.as_str())
        .collect();
    assert!(!by_member.is_empty(), "{trail}");
    assert!(
        by_member.iter().all(|e| e["subject_name"] == "Camille"),
        "{trail}"
    );

    // A bad grant says what is wrong and writes nothing.
    let output = relais(&db.url, MEMBERSHIPS)
        .args([
            "members",
            "add",
            "--role",
            "social_worker",
            "--display-name",
            "X",
            "--email",
            "x@example.org",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--post:"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asks the token endpoint for a token with client credentials by HTTP Basic
/// (`client_secret_basic`); the status and the answer.
fn client_token(server: &Server, client_id: &str, secret: &str) -> (u16, Value) {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    let request = ureq::post(&format!("{}/api/v1/auth/token", server.base))
        .set("Authorization", &format!("Basic {credentials}"));
    match request.send_form(&[("grant_type", "client_credentials")]) {
        Ok(response) | Err(ureq::Error::Status(_, response)) => (
            response.status(),
            response.into_json().unwrap_or(Value::Null),
        ),
        Err(e) => panic!("POST /api/v1/auth/token: {e}"),
    }
}

#[test]
fn a_partners_system_works_with_the_client_relais_issued_until_it_is_revoked() {
    // Zero set-up but for memberships: no identity provider, no RELAIS_OIDC_PROVIDERS.
    let db = TestDatabase::create();
    let server = Server::start(&db.url, MEMBERSHIPS);
    members_add(
        &db.url,
        &[
            "--role",
            "admin",
            "--display-name",
            "Dominique",
            "--subject",
            "admin-1",
        ],
    );
    let admin = token(&db.url, MEMBERSHIPS, &["--subject", "admin-1"]);
    let (status, partner) = server.call(
        "POST",
        "/api/v1/partners",
        &admin,
        Some(json!({"name": "Conseil départemental de la Seine-Saint-Denis", "kind": "departmental_social_services",
                    "department_codes": ["93"], "themes": ["precarity"]})),
    );
    assert_eq!(status, 201, "{partner}");
    let partner = partner["id"].as_str().unwrap();
    let (status, client) = server.call(
        "POST",
        &format!("/api/v1/partners/{partner}/clients"),
        &admin,
        Some(json!({"display_name": "SI du CD 93"})),
    );
    assert_eq!(status, 201, "{client}");
    let (client_id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );

    let (status, answer) = client_token(&server, client_id, secret);
    assert_eq!(status, 200, "{answer}");
    let machine = answer["access_token"].as_str().unwrap();
    let (status, body) = server.call("GET", "/api/v1/hand-offs", machine, None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call("GET", &format!("/api/v1/partners/{partner}"), machine, None);
    assert_eq!(status, 200, "{body}");

    // Revoked: its token is refused at the next request, and it gets no other.
    let request = ureq::delete(&format!(
        "{}/api/v1/partners/{partner}/clients/{client_id}",
        server.base
    ))
    .set("Authorization", &format!("Bearer {admin}"))
    .set("If-Match", "*");
    assert_eq!(request.call().expect("revoke").status(), 200);
    let (status, body) = server.call("GET", "/api/v1/hand-offs", machine, None);
    assert_eq!(status, 403, "{body}");
    let (status, body) = client_token(&server, client_id, secret);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
}
