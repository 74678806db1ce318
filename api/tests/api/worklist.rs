//! The worklist (`GET /api/v1/worklist`): what waits on a post's staff and on a partner's
//! system, oldest first, scoped to the reader, paged, and free of personal data.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::fixtures::{Case, SentHandOff, act, give_consent, sent_hand_off};
use crate::support::{TestApp, contract};

/// The worklist's items as (kind, record id), in order.
fn work(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let page = app
        .get("/api/v1/worklist?limit=200", token)
        .expect_status(200);
    contract::assert_matches("WorklistPage", &page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["record_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(work: &[(String, String)], kind: &str, id: &str) -> bool {
    work.iter().any(|(k, i)| k == kind && i == id)
}

#[test]
fn a_post_and_a_partner_each_see_what_waits_on_them_and_nothing_of_others() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    let (sw, partner) = (&sent.case.sw, &sent.partner_token);
    // A referral to take up.
    let unit = app.create_unit(&sent.case.post);
    let referral = app
        .post(
            "/api/v1/referrals",
            &app.officer(&unit),
            json!({"post_id": sent.case.post, "person": {"first_name": "Alex", "last_name": "Durand"},
                   "reason": "Différend familial", "agreed_to_be_contacted": true}),
        )
        .expect_status(201)
        .id();
    // A draft without consent, and one with: only the first waits.
    let bare = sent
        .case
        .draft_hand_off(&app, &sent.partner, json!({}))
        .expect_status(201)
        .id();
    let consented = sent
        .case
        .draft_hand_off(&app, &sent.partner, json!({}))
        .expect_status(201)
        .id();
    give_consent(&app, sw, &consented, json!(["identity"])).expect_status(200);

    let post_work = work(&app, sw);
    assert!(
        has(&post_work, "referral_to_take_up", &referral),
        "{post_work:?}"
    );
    assert!(
        has(&post_work, "hand_off_awaiting_partner", &sent.id),
        "{post_work:?}"
    );
    assert!(
        has(&post_work, "draft_without_consent", &bare),
        "{post_work:?}"
    );
    assert!(
        !post_work.iter().any(|(_, id)| id == &consented),
        "{post_work:?}"
    );
    let coordinator = app.token(Role::Coordinator, &[&sent.case.post]);
    assert_eq!(
        work(&app, &coordinator),
        post_work,
        "a coordinator sees the post's"
    );

    // The partner: what waits for its answer, then for its outcome.
    assert_eq!(
        work(&app, partner),
        [("hand_off_to_answer".to_owned(), sent.id.clone())]
    );
    act(&app, partner, &sent.id, "acknowledge", None, &[]).expect_status(200);
    act(&app, partner, &sent.id, "accept", None, &[]).expect_status(200);
    assert_eq!(
        work(&app, partner),
        [("hand_off_outcome_due".to_owned(), sent.id.clone())]
    );
    assert!(!has(&work(&app, sw), "hand_off_awaiting_partner", &sent.id));

    // Declined: to hand to another partner, until the post does.
    let declined = sent_hand_off(
        &app,
        sw,
        &sent.case.situation,
        &sent.partner,
        json!(["identity"]),
        json!({}),
    );
    act(&app, partner, &declined, "acknowledge", None, &[]).expect_status(200);
    act(
        &app,
        partner,
        &declined,
        "decline",
        Some(json!({"reason": "no_capacity"})),
        &[],
    )
    .expect_status(200);
    assert!(has(&work(&app, sw), "hand_off_to_reorient", &declined));
    let other = app.create_partner("Secours populaire", "charity");
    sent_hand_off(
        &app,
        sw,
        &sent.case.situation,
        &other,
        json!(["identity"]),
        json!({}),
    );
    assert!(
        !has(&work(&app, sw), "hand_off_to_reorient", &declined),
        "handed on since"
    );

    // Nothing of another post, nor of another partner; no role without a worklist.
    let stranger = app.token(Role::SocialWorker, &[&app.create_post("Ailleurs")]);
    assert_eq!(work(&app, &stranger), []);
    let other_partner = app.partner(&app.create_partner("Autre CCAS", "ccas"));
    assert_eq!(work(&app, &other_partner), []);
    app.get("/api/v1/worklist", &app.officer(&unit))
        .assert_problem(403);
    app.get("/api/v1/worklist", &app.admin())
        .assert_problem(403);
    let body = app.get("/api/v1/worklist", sw).body.to_string();
    assert!(
        !body.contains("Martin") && !body.contains("Durand"),
        "no personal data: {body}"
    );
}

#[test]
fn the_worklist_is_oldest_first_and_paged() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS", "ccas");
    for _ in 0..3 {
        case.draft_hand_off(&app, &partner, json!({}))
            .expect_status(201);
    }
    let whole = app
        .get("/api/v1/worklist?limit=200", &case.sw)
        .expect_status(200);
    let items = whole.body["items"].as_array().unwrap().clone();
    // The situation opened in March with no intervention since is idle, and the oldest.
    assert_eq!(items[0]["kind"], "idle_situation");
    assert_eq!(items[0]["record_id"], json!(case.situation));
    assert_eq!(items[0]["overdue"], true);
    assert_eq!(items.len(), 4, "{items:#?}");
    let since: Vec<&str> = items.iter().map(|i| i["since"].as_str().unwrap()).collect();
    assert!(since.windows(2).all(|w| w[0] <= w[1]), "{since:?}");
    let mut paged = Vec::new();
    let mut path = "/api/v1/worklist?limit=3".to_owned();
    loop {
        let page = app.get(&path, &case.sw).expect_status(200);
        paged.extend(page.body["items"].as_array().unwrap().clone());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/worklist?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, items);
}
