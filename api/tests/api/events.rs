//! The feed (`GET /api/v1/events`): ordered, scoped to the reader, resumable, and free of
//! personal data.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;
use crate::support::fixtures::{SentHandOff, kinds};

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
