//! The feed (`GET /api/v1/events`): ordered, scoped to the reader, resumable, and free of
//! personal data.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::fixtures::{SentHandOff, act, draft_hand_off, kinds};
use crate::support::{TestApp, contract};

#[test]
fn the_feed_is_ordered_scoped_and_resumable() {
    let app = TestApp::init().spawn();
    let SentHandOff {
        case,
        partner: ccas,
        partner_token: partner,
        id: first,
    } = SentHandOff::create(&app, json!(["identity"]));
    let second = case.sent_hand_off(&app, &ccas, json!(["identity"]));
    let page = app.get("/api/v1/events?limit=1", &partner);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["items"][0]["record_id"], json!(first));
    let rest = app.get(
        &format!("/api/v1/events?after={}", page.body["next_after"]),
        &partner,
    );
    assert_eq!(rest.body["items"][0]["record_id"], json!(second));
    let end = app.get(
        &format!("/api/v1/events?after={}", rest.body["next_after"]),
        &partner,
    );
    assert_eq!(end.body["items"], json!([]));
    assert_eq!(end.body["next_after"], rest.body["next_after"]);
    let post_feed = app.get("/api/v1/events", &case.sw);
    assert_eq!(
        kinds(&post_feed),
        [
            "hand_off.created",
            "hand_off.sent",
            "hand_off.created",
            "hand_off.sent"
        ]
    );
    let seqs: Vec<i64> = post_feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(
        !post_feed.body.to_string().contains("Martin"),
        "events carry no personal data"
    );
    let other_post = app.create_post("Other");
    assert_eq!(
        app.get(
            "/api/v1/events",
            &app.token(Role::SocialWorker, &[&other_post])
        )
        .body["items"],
        json!([])
    );
    app.get("/api/v1/events", &app.admin()).assert_problem(403);
}

/// Every event the workflows emit, in the feed of each audience, matches the published `Event`
/// schema (its type in the catalogue, its `data` of its family's shape), and the post's feed
/// sees each kind of change it made.
#[test]
fn every_emitted_event_matches_the_catalogue() {
    let app = TestApp::init().spawn();
    let SentHandOff {
        case,
        partner,
        partner_token,
        id: completed,
    } = SentHandOff::create(&app, json!(["identity"]));
    for (action, body) in [
        ("acknowledge", json!({})),
        ("accept", json!({})),
        (
            "complete",
            json!({"result": "supported", "outcome": "Aide alimentaire accordée"}),
        ),
    ] {
        act(&app, &partner_token, &completed, action, Some(body), &[]).expect_status(200);
    }
    let declined = case.sent_hand_off(&app, &partner, json!(["identity"]));
    for (action, body) in [
        ("acknowledge", json!({})),
        ("decline", json!({"reason": "no_capacity"})),
    ] {
        act(&app, &partner_token, &declined, action, Some(body), &[]).expect_status(200);
    }
    let withdrawn = case.sent_hand_off(&app, &partner, json!(["identity"]));
    app.post(
        &format!("/api/v1/hand-offs/{withdrawn}/consent/withdraw"),
        &case.sw,
        json!({}),
    )
    .expect_status(200);
    let crip = app.create_partner("CRIP", "child_protection");
    draft_hand_off(
        &app,
        &case.sw,
        &case.situation,
        &crip,
        json!({"legal_exception": "information_preoccupante", "reasons": ["child_in_danger"]}),
    )
    .expect_status(201);
    let unit = app.create_unit(&case.post);
    let officer = app.officer(&unit);
    let referral = app
        .post(
            "/api/v1/referrals",
            &officer,
            json!({"post_id": case.post, "person": {"first_name": "Alex", "last_name": "Durand"},
                   "reason": "Différend familial", "agreed_to_be_contacted": true}),
        )
        .expect_status(201)
        .id();
    for (step, body) in [
        ("contacted", json!({})),
        ("close", json!({"reason": "person_declined"})),
    ] {
        app.post(
            &format!("/api/v1/referrals/{referral}/{step}"),
            &case.sw,
            body,
        )
        .expect_status(200);
    }

    let validator = contract::validator("Event");
    let mut seen = std::collections::BTreeSet::new();
    for token in [&case.sw, &partner_token, &officer] {
        let feed = app
            .get("/api/v1/events?limit=500", token)
            .expect_status(200);
        contract::assert_matches("EventPage", &feed.body);
        for event in feed.body["items"].as_array().unwrap() {
            assert!(validator.is_valid(event), "{event:#}");
            // The coded result travels with the completion, and with it only.
            let completion = event["type"] == "hand_off.completed";
            let result = completion.then(|| json!("supported"));
            assert_eq!(event["data"].get("result"), result.as_ref(), "{event:#}");
            seen.insert(event["type"].as_str().unwrap().to_owned());
        }
    }
    for kind in [
        "hand_off.created",
        "hand_off.sent",
        "hand_off.received",
        "hand_off.accepted",
        "hand_off.completed",
        "hand_off.declined",
        "hand_off.cancelled",
        "hand_off.consent_withdrawn",
        "referral.received",
        "referral.person_contacted",
        "referral.no_follow_up",
    ] {
        assert!(seen.contains(kind), "{kind} not seen in {seen:?}");
    }
}
