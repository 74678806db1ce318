//! `/api/v1/members` and `RELAIS_AUTHORIZATION`: who works where kept in Relais, tokens that
//! name an identity only mapped to the membership at each request.

use relais_api::auth::Authorization;
use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::situation_body;

/// The issuer of the test app's tokens (`RELAIS_JWT_ISSUER`).
const ISSUER: &str = "relais";

fn memberships_app() -> TestApp {
    TestApp::init()
        .with_authorization(Authorization::Memberships)
        .spawn()
}

/// An administrator granted behind the API (`relais members add`), and its identity token.
fn first_admin(app: &TestApp) -> String {
    app.grant_member(json!({
        "display_name": "Dominique Admin", "role": "admin",
        "issuer": ISSUER, "subject": "admin-dominique"
    }));
    app.identity_token("admin-dominique", None)
}

fn invitation(post: &str, email: &str) -> Value {
    json!({"display_name": "Camille Martin", "role": "social_worker", "post_ids": [post], "email": email})
}

fn etag(app: &TestApp, token: &str, member: &str) -> String {
    app.get(&format!("/api/v1/members/{member}"), token)
        .expect_status(200)
        .etag
        .expect("an ETag")
}

fn event_types(app: &TestApp, token: &str) -> Vec<String> {
    let feed = app
        .get("/api/v1/events?limit=200", token)
        .expect_status(200);
    feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_invitation_is_bound_at_the_first_login_and_the_social_worker_works_at_its_post() {
    let app = memberships_app();
    let admin = first_admin(&app);
    let post = app.create_post_as(&admin, "Poste A");
    let member = app
        .post(
            "/api/v1/members",
            &admin,
            invitation(&post, "Camille.Martin@example.org"),
        )
        .expect_status(201);
    assert_eq!(member.body["status"], "invited");
    assert_eq!(member.body["email"], "camille.martin@example.org");
    let id = member.id();

    // The first login: the provider's token names the person and its (verified) e-mail.
    let first = app.identity_token("oidc-camille", Some("camille.martin@example.org"));
    let opened = app.create_situation(&first, &post);
    let bound = app
        .get(&format!("/api/v1/members/{id}"), &admin)
        .expect_status(200);
    assert_eq!(bound.body["status"], "active");
    assert_eq!(bound.body["issuer"], ISSUER);
    assert_eq!(bound.body["subject"], "oidc-camille");

    // Later logins need no e-mail: the identity is bound.
    let later = app.identity_token("oidc-camille", None);
    let situation = opened.id();
    app.get(&format!("/api/v1/situations/{situation}"), &later)
        .expect_status(200);
    // What the member records is attributed to its membership.
    let intervention = app
        .post(
            &format!("/api/v1/situations/{situation}/interventions"),
            &later,
            json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 30}),
        )
        .expect_status(201);
    assert_eq!(intervention.body["recorded_by"], format!("member:{id}"));
    // The post's feed tells the grant and the binding; the e-mail and name stay out of it.
    let types = event_types(&app, &later);
    assert!(types.contains(&"member.granted".to_owned()), "{types:?}");
    assert!(types.contains(&"member.bound".to_owned()), "{types:?}");
    let feed = app.get("/api/v1/events?limit=200", &later).body.to_string();
    assert!(
        !feed.contains("example.org") && !feed.contains("Camille"),
        "{feed}"
    );
}

#[test]
fn an_email_said_unverified_binds_no_invitation_and_another_email_none() {
    let app = memberships_app();
    let admin = first_admin(&app);
    let post = app.create_post_as(&admin, "Poste A");
    app.post(
        "/api/v1/members",
        &admin,
        invitation(&post, "camille@example.org"),
    )
    .expect_status(201);
    let other = app.identity_token("oidc-someone", Some("someone@example.org"));
    app.get("/api/v1/situations", &other).assert_problem(403);
    let unverified = app.issuer_claims_token(
        json!({"sub": "oidc-camille", "email": "camille@example.org", "email_verified": false}),
    );
    app.get("/api/v1/situations", &unverified)
        .assert_problem(403);
}

#[test]
fn a_person_with_no_membership_nor_invitation_writes_nothing_at_its_requests() {
    let app = memberships_app();
    let admin = first_admin(&app);
    let post = app.create_post_as(&admin, "Poste A");
    app.post(
        "/api/v1/members",
        &admin,
        invitation(&post, "camille@example.org"),
    )
    .expect_status(201);
    let stranger = app.identity_token("oidc-someone", Some("someone@example.org"));
    let before = app.state.writes.transactions();
    for _ in 0..3 {
        app.get("/api/v1/situations", &stranger).assert_problem(403);
    }
    // A read found neither a membership nor an invitation: no write transaction was opened.
    assert_eq!(app.state.writes.transactions(), before);
    // The invited person's first login still binds (a write, the only one).
    let invited = app.identity_token("oidc-camille", Some("camille@example.org"));
    app.get("/api/v1/situations", &invited).expect_status(200);
    assert_eq!(app.state.writes.transactions(), before + 1);
}

#[test]
fn a_revoked_member_is_refused_at_its_next_request() {
    let app = memberships_app();
    let admin = first_admin(&app);
    let post = app.create_post_as(&admin, "Poste A");
    let id = app.grant_member(json!({
        "display_name": "Camille", "role": "social_worker", "post_ids": [post],
        "issuer": ISSUER, "subject": "oidc-camille"
    }));
    let token = app.identity_token("oidc-camille", None);
    app.get("/api/v1/situations", &token).expect_status(200);

    let version = etag(&app, &admin, &id);
    let revoked = app
        .call(
            "DELETE",
            &format!("/api/v1/members/{id}"),
            Some(&admin),
            None,
            &[("If-Match", &version)],
        )
        .expect_status(200);
    assert_eq!(revoked.body["status"], "revoked");
    assert!(revoked.body["revoked_at"].is_string());
    // The same token, still far from its expiry.
    let refused = app.get("/api/v1/situations", &token);
    refused.assert_problem(403);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("no membership"),
        "{:#}",
        refused.body
    );
    // Revoked once: a second revocation is a conflict; a new grant of the identity works.
    let again = app.call(
        "DELETE",
        &format!("/api/v1/members/{id}"),
        Some(&admin),
        None,
        &[("If-Match", "*")],
    );
    again.assert_problem(409);
    app.post(
        "/api/v1/members",
        &admin,
        json!({"display_name": "Camille", "role": "social_worker", "post_ids": [post],
               "issuer": ISSUER, "subject": "oidc-camille"}),
    )
    .expect_status(201);
    app.get("/api/v1/situations", &token).expect_status(200);
}

#[test]
fn a_member_moved_from_post_a_to_post_b_loses_a_at_once() {
    let app = memberships_app();
    let admin = first_admin(&app);
    let (a, b) = (
        app.create_post_as(&admin, "Poste A"),
        app.create_post_as(&admin, "Poste B"),
    );
    let id = app.grant_member(json!({
        "display_name": "Camille", "role": "social_worker", "post_ids": [a],
        "issuer": ISSUER, "subject": "oidc-camille"
    }));
    let token = app.identity_token("oidc-camille", None);
    let at_a = app.create_situation(&token, &a);
    let situation = at_a.id();

    let version = etag(&app, &admin, &id);
    let moved = app
        .put(
            &format!("/api/v1/members/{id}"),
            &admin,
            Some(&version),
            json!({"display_name": "Camille", "role": "social_worker", "post_ids": [b]}),
        )
        .expect_status(200);
    assert_eq!(moved.body["post_ids"], json!([b]));
    app.get(&format!("/api/v1/situations/{situation}"), &token)
        .assert_problem(404);
    app.post("/api/v1/situations", &token, situation_body(&a))
        .assert_problem(403);
    app.create_situation(&token, &b);
    // Both posts are told: A that it lost the member, B that it gained it.
    app.grant_member(json!({
        "display_name": "Chef", "role": "coordinator", "post_ids": [a, b],
        "issuer": ISSUER, "subject": "oidc-chef"
    }));
    let coordinator = app.identity_token("oidc-chef", None);
    let feed = app
        .get("/api/v1/events?limit=200", &coordinator)
        .expect_status(200);
    let changed: Vec<&Value> = feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "member.changed")
        .collect();
    assert_eq!(changed.len(), 2, "{:#}", feed.body);
    // A stale version is refused.
    app.put(
        &format!("/api/v1/members/{id}"),
        &admin,
        Some(&version),
        json!({"display_name": "Camille", "role": "social_worker", "post_ids": [a]}),
    )
    .assert_problem(412);
}

#[test]
fn a_coordinator_manages_only_its_own_posts_social_workers() {
    // `both`: the coordinator's token carries its claims; the members' tokens their identity.
    let app = TestApp::init()
        .with_authorization(Authorization::Both)
        .spawn();
    let (a, b) = (app.create_post("Poste A"), app.create_post("Poste B"));
    let coordinator = app.token(Role::Coordinator, &[&a]);
    let mine = app
        .post(
            "/api/v1/members",
            &coordinator,
            invitation(&a, "camille@example.org"),
        )
        .expect_status(201)
        .id();
    app.post(
        "/api/v1/members",
        &coordinator,
        invitation(&b, "other@example.org"),
    )
    .assert_problem(403);
    app.post(
        "/api/v1/members",
        &coordinator,
        json!({"display_name": "Chef", "role": "coordinator", "post_ids": [a], "email": "chef@example.org"}),
    )
    .assert_problem(403);
    let elsewhere = app
        .post(
            "/api/v1/members",
            &app.admin(),
            invitation(&b, "b@example.org"),
        )
        .expect_status(201)
        .id();
    // Its list and reads reach its posts only.
    let listed = app.get("/api/v1/members", &coordinator).expect_status(200);
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    app.get(&format!("/api/v1/members/{elsewhere}"), &coordinator)
        .assert_problem(404);
    // It may not move its social worker to a post not its own.
    app.put(
        &format!("/api/v1/members/{mine}"),
        &coordinator,
        Some("*"),
        json!({"display_name": "Camille", "role": "social_worker", "post_ids": [b]}),
    )
    .assert_problem(403);
    // Each change is in the post's trail, read by its coordinator.
    app.call(
        "DELETE",
        &format!("/api/v1/members/{mine}"),
        Some(&coordinator),
        None,
        &[("If-Match", "*")],
    )
    .expect_status(200);
    let trail = app
        .get(
            &format!("/api/v1/audit?post_id={a}&limit=200"),
            &coordinator,
        )
        .expect_status(200);
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record_id"] == mine.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"create_member"), "{actions:?}");
    assert!(actions.contains(&"revoke_member"), "{actions:?}");
}

#[test]
fn a_scope_that_does_not_fit_the_role_is_refused_naming_the_field() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let post = app.create_post("Poste A");
    let cases = [
        (
            json!({"display_name": "X", "role": "social_worker", "email": "x@example.org"}),
            "post_ids",
        ),
        (
            json!({"display_name": "X", "role": "officer", "email": "x@example.org"}),
            "unit_id",
        ),
        (
            json!({"display_name": "X", "role": "admin", "post_ids": [post], "email": "x@example.org"}),
            "post_ids",
        ),
        (json!({"display_name": "X", "role": "admin"}), "email"),
        (
            json!({"display_name": "X", "role": "admin", "issuer": ISSUER}),
            "subject",
        ),
        (
            json!({"display_name": "X", "role": "admin", "email": "not an e-mail"}),
            "email",
        ),
        (
            json!({"display_name": "X", "role": "system", "email": "x@example.org"}),
            "role",
        ),
        (
            json!({"display_name": "X", "role": "social_worker", "post_ids": ["0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"], "email": "x@example.org"}),
            "post_ids",
        ),
    ];
    for (body, field) in cases {
        let answer = app.post("/api/v1/members", &admin, body.clone());
        answer.assert_problem(422);
        assert!(
            answer.fields().contains(&field.to_owned()),
            "{body}: {:#}",
            answer.body
        );
    }
    // Nothing was written.
    let listed = app.get("/api/v1/members", &admin).expect_status(200);
    assert_eq!(listed.body["items"], json!([]));
    // A second pending invitation of one e-mail is a conflict.
    app.post(
        "/api/v1/members",
        &admin,
        invitation(&post, "x@example.org"),
    )
    .expect_status(201);
    app.post(
        "/api/v1/members",
        &admin,
        invitation(&post, "X@example.org"),
    )
    .assert_problem(409);
}

#[test]
fn the_authorization_mode_decides_which_tokens_carry_roles() {
    // claims (the default): a token naming an identity only says nothing of its role.
    let claims = TestApp::init().spawn();
    let identity_only = claims.identity_token("someone", None);
    let refused = claims.get("/api/v1/situations", &identity_only);
    refused.assert_problem(401);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("RELAIS_AUTHORIZATION"),
        "{:#}",
        refused.body
    );
    // memberships: a token's own role claims grant nothing.
    let memberships = memberships_app();
    memberships
        .get("/api/v1/posts", &memberships.admin())
        .assert_problem(403);
    // both: claims are taken at their word, and identities mapped.
    let both = TestApp::init()
        .with_authorization(Authorization::Both)
        .spawn();
    both.get("/api/v1/posts", &both.admin()).expect_status(200);
    both.grant_member(
        json!({"display_name": "Admin", "role": "admin", "issuer": ISSUER, "subject": "admin-1"}),
    );
    both.get("/api/v1/posts", &both.identity_token("admin-1", None))
        .expect_status(200);
}
