//! Referrals: who may send them, what their senders may read, and how a post handles them.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, contract};

fn referral_body(post: &str) -> Value {
    json!({"post_id": post, "person": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987},
           "reason": "Différend familial", "agreed_to_be_contacted": true})
}

#[test]
fn only_officers_of_a_unit_working_with_the_post_and_partners_refer() {
    let app = TestApp::init().spawn();
    let (post, other) = (app.create_post("Privas"), app.create_post("Aubenas"));
    let unit = app.create_unit(&post);
    assert_eq!(
        app.post(
            "/api/v1/referrals",
            &app.officer(&unit),
            referral_body(&post)
        )
        .status,
        201
    );
    app.post(
        "/api/v1/referrals",
        &app.officer(&unit),
        referral_body(&other),
    )
    .assert_problem(403);
    let partner = app.create_partner("CCAS", "ccas");
    assert_eq!(
        app.post(
            "/api/v1/referrals",
            &app.partner(&partner),
            referral_body(&other)
        )
        .status,
        201
    );
    let sw = app.token(Role::SocialWorker, &[&post]);
    app.post("/api/v1/referrals", &sw, referral_body(&post))
        .assert_problem(403);
    app.post("/api/v1/referrals", &app.admin(), referral_body(&post))
        .assert_problem(403);
    let long = app.post("/api/v1/referrals", &app.officer(&unit), {
        let mut b = referral_body(&post);
        b["reason"] = json!("x".repeat(501));
        b
    });
    long.assert_problem(422);
    assert_eq!(long.fields(), ["reason"]);
}

#[test]
fn senders_read_only_the_status_and_only_their_own() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let (unit, other_unit) = (app.create_unit(&post), app.create_unit(&post));
    let officer = app.officer(&unit);
    let id = app
        .post("/api/v1/referrals", &officer, referral_body(&post))
        .id();
    let receipt = app.get(&format!("/api/v1/referrals/{id}"), &officer);
    assert_eq!(receipt.body["status"], "received");
    assert!(receipt.body.get("person").is_none() && receipt.body.get("reason").is_none());
    app.get(
        &format!("/api/v1/referrals/{id}"),
        &app.officer(&other_unit),
    )
    .assert_problem(404);
    assert_eq!(
        app.get("/api/v1/referrals", &app.officer(&other_unit)).body["items"],
        json!([])
    );
    let listed = app.get("/api/v1/referrals", &officer);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert!(listed.body["items"][0].get("reason").is_none());

    let sw = app.token(Role::SocialWorker, &[&post]);
    let full = app.get(&format!("/api/v1/referrals/{id}"), &sw);
    assert_eq!(full.body["person"]["last_name"], "Martin");
    // Each reader's view says which it is, as the contract's discriminator does.
    assert_eq!(full.body["view"], "post");
    contract::assert_matches("ReferralView", &full.body);
    let receipt_again = app.get(&format!("/api/v1/referrals/{id}"), &officer);
    assert_eq!(receipt_again.body["view"], "sender");
    contract::assert_matches("ReferralView", &receipt_again.body);
    assert_eq!(full.body["reason"], "Différend familial");
    let stranger = app.token(Role::SocialWorker, &[&app.create_post("Other")]);
    app.get(&format!("/api/v1/referrals/{id}"), &stranger)
        .assert_problem(404);
}

#[test]
fn a_referral_is_contacted_then_closed_with_a_reason_its_sender_sees() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let unit = app.create_unit(&post);
    let officer = app.officer(&unit);
    let sw = app.token(Role::SocialWorker, &[&post]);
    let id = app
        .post("/api/v1/referrals", &officer, referral_body(&post))
        .id();
    let contacted = app.post(&format!("/api/v1/referrals/{id}/contacted"), &sw, json!({}));
    assert_eq!(contacted.status, 200, "{:#}", contacted.body);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{id}"), &officer).body["status"],
        "person_contacted"
    );
    let no_reason = app.post(&format!("/api/v1/referrals/{id}/close"), &sw, json!({}));
    no_reason.assert_problem(422);
    assert_eq!(no_reason.fields(), ["reason"]);
    let stale = app.call(
        "POST",
        &format!("/api/v1/referrals/{id}/close"),
        Some(&sw),
        Some(&json!({"reason": "person_declined"})),
        &[("If-Match", "\"1\"")],
    );
    stale.assert_problem(412);
    let closed = app.post(
        &format!("/api/v1/referrals/{id}/close"),
        &sw,
        json!({"reason": "person_declined"}),
    );
    assert_eq!(closed.body["status"], "no_follow_up");
    let receipt = app.get(&format!("/api/v1/referrals/{id}"), &officer);
    assert_eq!(receipt.body["status"], "no_follow_up");
    assert_eq!(receipt.body["no_follow_up_reason"], "person_declined");
    let late = app.post(
        &format!("/api/v1/referrals/{id}/take-up"),
        &sw,
        json!({"opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": false,
               "problems": ["other"], "principal_problem": "other"}),
    );
    late.assert_problem(409);
    app.post(
        &format!("/api/v1/referrals/{id}/contacted"),
        &app.token(Role::Coordinator, &[&post]),
        json!({}),
    )
    .assert_problem(403);
}

#[test]
fn a_take_up_with_bad_details_writes_nothing() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let unit = app.create_unit(&post);
    let sw = app.token(Role::SocialWorker, &[&post]);
    let id = app
        .post(
            "/api/v1/referrals",
            &app.officer(&unit),
            referral_body(&post),
        )
        .id();
    let bad = app.post(
        &format!("/api/v1/referrals/{id}/take-up"),
        &sw,
        json!({"opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": false,
               "problems": ["other"], "principal_problem": "addiction"}),
    );
    bad.assert_problem(422);
    assert_eq!(bad.fields(), ["principal_problem"]);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{id}"), &sw).body["status"],
        "received"
    );
    assert_eq!(app.get("/api/v1/situations", &sw).body["items"], json!([]));
    assert_eq!(
        app.get("/api/v1/beneficiaries", &sw).body["items"],
        json!([])
    );
}
