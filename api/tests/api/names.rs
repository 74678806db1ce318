//! Display names: the post's staff read, beside each principal naming a membership, the member's
//! display name as it is now (`recorded_by_name`, `by_name`, `subject_name`…); a principal naming
//! no membership has a `null` name; partners and officers never read a name, nor the field.

use relais_api::auth::Authorization;
use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{act, sent_hand_off};

/// The issuer of the test app's tokens (`RELAIS_JWT_ISSUER`).
const ISSUER: &str = "relais";
// Names no fixture uses elsewhere (the person of the fixtures is a Camille Martin).
const WORKER: &str = "Alix Travailleuse";
const RENAMED: &str = "Alix Renommée";
const COORDINATOR: &str = "Noé Coordinateur";
/// Every field that carries a name in the post's views.
const NAME_FIELDS: &[&str] = &[
    "\"recorded_by_name\"",
    "\"created_by_name\"",
    "\"withdrawn_by_name\"",
    "\"written_by_name\"",
    "\"decided_by_name\"",
    "\"produced_by_name\"",
    "\"subject_name\"",
    "\"by_name\"",
];

/// Machines (and `relais token`) on claims, people on memberships.
fn app() -> TestApp {
    TestApp::init()
        .with_authorization(Authorization::Both)
        .spawn()
}

/// A post with a social worker and a coordinator who are members (their ids and identity
/// tokens), and a social worker on claims (a `relais token`).
struct Post {
    id: String,
    worker: String,
    worker_token: String,
    coordinator: String,
    coordinator_token: String,
    claims_worker: String,
}

impl Post {
    fn create(app: &TestApp) -> Self {
        let id = app.create_post("Poste A");
        let worker = app.grant_member(json!({
            "display_name": WORKER, "role": "social_worker", "post_ids": [id],
            "issuer": ISSUER, "subject": "oidc-camille"
        }));
        let coordinator = app.grant_member(json!({
            "display_name": COORDINATOR, "role": "coordinator", "post_ids": [id],
            "issuer": ISSUER, "subject": "oidc-dominique"
        }));
        Post {
            worker_token: app.identity_token("oidc-camille", None),
            coordinator_token: app.identity_token("oidc-dominique", None),
            claims_worker: app.token(Role::SocialWorker, &[&id]),
            id,
            worker,
            coordinator,
        }
    }
}

fn intervene(app: &TestApp, token: &str, situation: &str) -> Value {
    app.post(
        &format!("/api/v1/situations/{situation}/interventions"),
        token,
        json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 30}),
    )
    .expect_status(201)
    .body
}

/// The items of a page whose `field` is `value`.
fn items_where<'a>(page: &'a Value, field: &str, value: &str) -> Vec<&'a Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item[field] == value)
        .collect()
}

/// No name of a member, nor any `*_name` field, anywhere in the bytes of an answer.
fn assert_nameless(body: &str) {
    for name in [WORKER, RENAMED, COORDINATOR, "Alix", "Noé"] {
        assert!(!body.contains(name), "{name} in {body}");
    }
    for field in NAME_FIELDS {
        assert!(!body.contains(field), "{field} in {body}");
    }
}

#[test]
fn the_post_reads_who_recorded_and_moved_by_name_and_a_claims_token_has_none() {
    let app = app();
    let post = Post::create(&app);
    let member = format!("member:{}", post.worker);
    let situation = app.create_situation(&post.worker_token, &post.id).id();
    let recorded = intervene(&app, &post.worker_token, &situation);
    // The writer reads its own name in the answer.
    assert_eq!(recorded["recorded_by"], json!(member));
    assert_eq!(recorded["recorded_by_name"], WORKER);
    let by_claims = intervene(&app, &post.claims_worker, &situation);
    assert_eq!(by_claims["recorded_by"], "test-social_worker");
    assert_eq!(by_claims["recorded_by_name"], Value::Null);

    // The coordinator reads the situation's interventions.
    let page = app
        .get(
            &format!("/api/v1/situations/{situation}/interventions"),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body;
    let mine = items_where(&page, "recorded_by", &member);
    assert_eq!(mine.len(), 1, "{page:#}");
    assert_eq!(mine[0]["recorded_by_name"], WORKER);
    let theirs = items_where(&page, "recorded_by", "test-social_worker");
    assert_eq!(theirs.len(), 1, "{page:#}");
    // Present and null: the field is always there in the post's views.
    assert_eq!(theirs[0].get("recorded_by_name"), Some(&Value::Null));

    // The evaluation, written by the member.
    app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &post.worker_token,
        None,
        json!({"text": "Une évaluation."}),
    )
    .expect_status(201);
    let evaluation = app
        .get(
            &format!("/api/v1/situations/{situation}/evaluation"),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body;
    assert_eq!(evaluation["written_by"], json!(member));
    assert_eq!(evaluation["written_by_name"], WORKER);
}

#[test]
fn the_post_reads_a_hand_offs_history_by_name_and_its_partner_reads_no_name() {
    let app = app();
    let post = Post::create(&app);
    let member = format!("member:{}", post.worker);
    let situation = app.create_situation(&post.worker_token, &post.id).id();
    let partner = app.create_partner("CCAS", "ccas");
    let partner_token = app.partner(&partner);
    let hand_off = sent_hand_off(
        &app,
        &post.worker_token,
        &situation,
        &partner,
        json!(["identity", "problems", "message"]),
        json!({}),
    );
    let acknowledged =
        act(&app, &partner_token, &hand_off, "acknowledge", None, &[]).expect_status(200);
    assert_nameless(&acknowledged.body.to_string());

    // The post's coordinator: the creator, the consent's recorder and the sender by name; the
    // partner's system (claims) with none.
    let detail = app
        .get(
            &format!("/api/v1/hand-offs/{hand_off}"),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body;
    assert_eq!(detail["view"], "post");
    assert_eq!(detail["created_by"], json!(member));
    assert_eq!(detail["created_by_name"], WORKER);
    assert_eq!(detail["consent"]["recorded_by_name"], WORKER);
    assert_eq!(detail["consent"]["withdrawn_by_name"], Value::Null);
    let history = detail["history"].as_array().unwrap();
    let sent = history.iter().find(|t| t["to"] == "sent").unwrap();
    assert_eq!(sent["by"], json!(member));
    assert_eq!(sent["by_name"], WORKER);
    let received = history.iter().find(|t| t["to"] == "received").unwrap();
    assert_eq!(received["by"], "test-partner");
    assert_eq!(received.get("by_name"), Some(&Value::Null));
    // The same in the situation's list of hand-offs.
    let listed = app
        .get(
            &format!("/api/v1/situations/{situation}/hand-offs"),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body;
    assert_eq!(listed["items"][0]["created_by_name"], WORKER);
    assert_eq!(listed["items"][0]["history"][1]["by_name"], WORKER);

    // The partner: its hand-off, its list and its feed carry no name, nor the field.
    for path in [
        format!("/api/v1/hand-offs/{hand_off}"),
        "/api/v1/hand-offs".to_owned(),
        "/api/v1/events?limit=200".to_owned(),
    ] {
        let answer = app.get(&path, &partner_token).expect_status(200);
        assert_nameless(&answer.body.to_string());
    }
    // Nor does the post's feed: events carry no names at all.
    let feed = app
        .get("/api/v1/events?limit=200", &post.coordinator_token)
        .expect_status(200);
    assert!(
        !feed.body["items"].as_array().unwrap().is_empty(),
        "{:#}",
        feed.body
    );
    assert_nameless(&feed.body.to_string());
}

#[test]
fn the_trail_names_members_as_they_are_now_renamed_or_revoked() {
    let app = app();
    let post = Post::create(&app);
    let member = format!("member:{}", post.worker);
    let situation = app.create_situation(&post.worker_token, &post.id).id();
    intervene(&app, &post.worker_token, &situation);
    intervene(&app, &post.claims_worker, &situation);
    let trail = |app: &TestApp| {
        app.get(
            &format!("/api/v1/audit?post_id={}&limit=500", post.id),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body
    };

    let page = trail(&app);
    let by_member = items_where(&page, "subject", &member);
    assert!(!by_member.is_empty(), "{page:#}");
    assert!(by_member.iter().all(|e| e["subject_name"] == WORKER));
    let by_claims = items_where(&page, "subject", "test-social_worker");
    assert!(!by_claims.is_empty(), "{page:#}");
    assert!(
        by_claims
            .iter()
            .all(|e| e.get("subject_name") == Some(&Value::Null))
    );
    // The coordinator's own reads are in the trail, under its name.
    let coordinator = format!("member:{}", post.coordinator);
    let own = items_where(&page, "subject", &coordinator);
    assert!(own.iter().all(|e| e["subject_name"] == COORDINATOR));

    // Renamed: the trail and the histories show the new name.
    let admin = app.admin();
    let path = format!("/api/v1/members/{}", post.worker);
    let read = app.get(&path, &admin).expect_status(200);
    let renamed = app
        .put(
            &path,
            &admin,
            read.etag.as_deref(),
            json!({"display_name": RENAMED, "role": "social_worker", "post_ids": [post.id]}),
        )
        .expect_status(200);
    let page = trail(&app);
    assert!(
        items_where(&page, "subject", &member)
            .iter()
            .all(|e| e["subject_name"] == RENAMED),
        "{page:#}"
    );
    let interventions = app
        .get(
            &format!("/api/v1/situations/{situation}/interventions"),
            &post.coordinator_token,
        )
        .expect_status(200)
        .body;
    assert_eq!(
        items_where(&interventions, "recorded_by", &member)[0]["recorded_by_name"],
        RENAMED
    );

    // Revoked: the trail stays readable, with the name.
    app.call(
        "DELETE",
        &path,
        Some(admin.as_str()),
        None,
        &[("If-Match", renamed.etag.as_deref().unwrap())],
    )
    .expect_status(200);
    let page = trail(&app);
    let by_member = items_where(&page, "subject", &member);
    assert!(!by_member.is_empty());
    assert!(
        by_member.iter().all(|e| e["subject_name"] == RENAMED),
        "{page:#}"
    );
}

#[test]
fn a_requisition_names_who_recorded_and_who_decided_it() {
    let app = app();
    let post = Post::create(&app);
    let opened = app.create_situation(&post.worker_token, &post.id);
    let person = opened.body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = app.create_unit(&post.id);
    let recorded = app
        .post(
            "/api/v1/requisitions",
            &post.worker_token,
            json!({"beneficiary_id": person, "legal_basis": "cpp_77_1_1", "procedure_reference": "PV 2026/001234",
                   "requesting_authority": "OPJ Martin, commissariat de Privas", "requesting_unit_id": unit,
                   "received_on": "2026-11-20"}),
        )
        .expect_status(201);
    assert_eq!(recorded.body["recorded_by_name"], WORKER);
    assert_eq!(recorded.body["decided_by_name"], Value::Null);
    let id = recorded.id();
    let approved = app
        .post(
            &format!("/api/v1/requisitions/{id}/approve"),
            &post.coordinator_token,
            json!({}),
        )
        .expect_status(200);
    assert_eq!(approved.body["decided_by_name"], COORDINATOR);
    let page = app
        .get("/api/v1/requisitions", &post.coordinator_token)
        .expect_status(200)
        .body;
    assert_eq!(page["items"][0]["recorded_by_name"], WORKER);
    assert_eq!(page["items"][0]["decided_by_name"], COORDINATOR);
    assert_eq!(page["items"][0]["produced_by_name"], Value::Null);
    // The record handed to the police names no member by name; the post's requisition does.
    let export = app
        .post(
            &format!("/api/v1/requisitions/{id}/export"),
            &post.worker_token,
            json!({}),
        )
        .expect_status(200);
    assert!(export.body["record"].is_object(), "{:#}", export.body);
    assert_nameless(&export.body["record"].to_string());
    assert_eq!(export.body["requisition"]["produced_by_name"], WORKER);
    let read = app
        .get(
            &format!("/api/v1/requisitions/{id}"),
            &post.coordinator_token,
        )
        .expect_status(200);
    assert_eq!(read.body["produced_by_name"], WORKER);
}
