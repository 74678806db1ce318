//! Hand-offs: the round trip from a police referral to a partner's outcome, consent and what
//! it lets partners read, the state machine, and idempotent partner writes. (The feed they fill
//! is in `events.rs`.)

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::fixtures::{
    Case, SentHandOff, act, draft_hand_off, give_consent, kinds, sent_hand_off, situation_body,
};
use crate::support::snapshots::redacted;
use crate::support::{Answer, TestApp, contract};

/// The start of the round trip: an officer referred Camille Martin (with her phone) to the
/// post, whose social worker took her up into a situation and wrote an evaluation.
struct TakenUp {
    post: String,
    officer: String,
    sw: String,
    referral: String,
    /// The answer to the take-up: the situation opened.
    taken: Answer,
    situation: String,
}

fn taken_up(app: &TestApp) -> TakenUp {
    let post = app.create_post("Privas");
    let unit = app.create_unit(&post);
    let officer = app.officer(&unit);
    let sw = app.token(Role::SocialWorker, &[&post]);
    let referral = app
        .post(
            "/api/v1/referrals",
            &officer,
            json!({"post_id": post, "person": {"first_name": "Camille", "last_name": "Martin", "phone": "06 12 34 56 78", "sex": "female"},
                   "reason": "Différend conjugal, deux enfants présents", "agreed_to_be_contacted": true}),
        )
        .expect_status(201)
        .id();
    let taken = app
        .post(
            &format!("/api/v1/referrals/{referral}/take-up"),
            &sw,
            json!({"opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
                   "problems": ["conjugal_violence", "precarity"], "principal_problem": "conjugal_violence"}),
        )
        .expect_status(201);
    let situation = taken.id();
    app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &sw,
        None,
        json!({"text": "Violences répétées"}),
    )
    .expect_status(201);
    TakenUp {
        post,
        officer,
        sw,
        referral,
        taken,
        situation,
    }
}

/// Then: the CCAS of Privas is added to the directory, and the situation is handed off to it
/// with consent to share identity, contact and problems, and sent with the version read.
/// Returns (the CCAS, the hand-off).
fn sent_to_the_ccas(app: &TestApp, trip: &TakenUp) -> (String, String) {
    let ccas = app.create_partner("CCAS de Privas", "ccas");
    let id = draft_hand_off(
        app,
        &trip.sw,
        &trip.situation,
        &ccas,
        json!({"message": "Aide alimentaire"}),
    )
    .expect_status(201)
    .id();
    give_consent(
        app,
        &trip.sw,
        &id,
        json!(["identity", "contact", "problems"]),
    )
    .expect_status(200);
    act(app, &trip.sw, &id, "send", None, &[("If-Match", "\"1\"")]).expect_status(200);
    (ccas, id)
}

/// Then: the CCAS reads its feed and acknowledges, accepts and completes the hand-off. Returns
/// the feed page it read first.
fn completed_by_the_ccas(app: &TestApp, ccas: &str, id: &str) -> Answer {
    let partner = app.partner(ccas);
    let feed = app.get("/api/v1/events", &partner);
    for (action, body) in [
        ("acknowledge", None),
        ("accept", Some(json!({"comment": "Rendez-vous fixé"}))),
        (
            "complete",
            Some(json!({"result": "supported", "outcome": "Droits ouverts, colis alimentaires"})),
        ),
    ] {
        let answer = act(app, &partner, id, action, body, &[]);
        assert_eq!(answer.status, 200, "{action}: {:#}", answer.body);
    }
    feed
}

#[test]
fn a_referral_taken_up_opens_a_situation_for_the_referred_person() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    assert_eq!(trip.taken.body["beneficiary"]["last_name"], "Martin");
    assert_eq!(
        app.get(&format!("/api/v1/situations/{}", trip.situation), &trip.sw)
            .body["status"],
        "open"
    );
}

#[test]
fn a_hand_off_sent_to_a_partner_of_the_directory_orients_the_situation() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    let (ccas, _) = sent_to_the_ccas(&app, &trip);
    let found = app.get(
        "/api/v1/partners?kind=ccas&theme=precarity&commune_code=07186",
        &trip.sw,
    );
    assert_eq!(found.body["items"][0]["id"], json!(ccas));
    assert_eq!(
        app.get(&format!("/api/v1/situations/{}", trip.situation), &trip.sw)
            .body["status"],
        "oriented"
    );
}

#[test]
fn the_partner_pulls_the_hand_off_from_its_feed_and_reads_only_what_was_consented() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    let (ccas, id) = sent_to_the_ccas(&app, &trip);
    let partner = app.partner(&ccas);
    let feed = app.get("/api/v1/events", &partner);
    assert_eq!(kinds(&feed), ["hand_off.sent"]);
    assert_eq!(feed.body["items"][0]["record_id"], json!(id));
    let read = app.get(&format!("/api/v1/hand-offs/{id}"), &partner);
    assert_eq!(read.body["person"]["last_name"], "Martin");
    assert_eq!(read.body["person"]["phone"], "06 12 34 56 78");
    assert_eq!(read.body["reasons"], json!(["precarity"]));
    assert!(
        read.body.get("message").is_none(),
        "the message was not consented"
    );
    assert!(
        !read.body.to_string().contains("Violences"),
        "no evaluation reaches a partner"
    );
}

#[test]
fn the_partners_moves_follow_the_hand_off_in_its_feed() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    let (ccas, id) = sent_to_the_ccas(&app, &trip);
    let feed = completed_by_the_ccas(&app, &ccas, &id);
    let next = app.get(
        &format!("/api/v1/events?after={}", feed.body["next_after"]),
        &app.partner(&ccas),
    );
    assert_eq!(
        kinds(&next),
        [
            "hand_off.received",
            "hand_off.accepted",
            "hand_off.completed"
        ]
    );
}

#[test]
fn the_social_worker_reads_the_outcome_and_the_attributed_history() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    let (ccas, id) = sent_to_the_ccas(&app, &trip);
    completed_by_the_ccas(&app, &ccas, &id);
    let seen = app.get(&format!("/api/v1/hand-offs/{id}"), &trip.sw);
    assert_eq!(seen.body["status"], "completed");
    assert_eq!(seen.body["outcome"], "Droits ouverts, colis alimentaires");
    let moves: Vec<(&str, &str)> = seen.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["to"].as_str().unwrap(), t["by_role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        [
            ("draft", "social_worker"),
            ("sent", "social_worker"),
            ("received", "partner"),
            ("accepted", "partner"),
            ("completed", "partner")
        ]
    );
}

#[test]
fn the_referring_officer_sees_only_that_the_referral_was_taken_up() {
    let app = TestApp::init().spawn();
    let trip = taken_up(&app);
    let (ccas, id) = sent_to_the_ccas(&app, &trip);
    completed_by_the_ccas(&app, &ccas, &id);
    let officer = &trip.officer;
    let receipt = app.get(&format!("/api/v1/referrals/{}", trip.referral), officer);
    assert_eq!(receipt.status, 200);
    assert_eq!(receipt.body["status"], "taken_up");
    let mut keys: Vec<&str> = receipt
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "id",
            "no_follow_up_reason",
            "post_id",
            "status",
            "updated_at",
            "version",
            "view"
        ]
    );
    let situation = &trip.situation;
    app.get(&format!("/api/v1/situations/{situation}"), officer)
        .assert_problem(403);
    app.get(
        &format!("/api/v1/situations/{situation}/evaluation"),
        officer,
    )
    .assert_problem(403);
    app.get(&format!("/api/v1/hand-offs/{id}"), officer)
        .assert_problem(403);
    assert_eq!(
        kinds(&app.get("/api/v1/events", officer)),
        ["referral.received", "referral.taken_up"]
    );
    assert_eq!(receipt.body["post_id"], json!(trip.post));
}

#[test]
fn a_partner_sees_only_its_own_hand_offs_and_only_consented_data() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let (a, b) = (
        app.create_partner("A", "ccas"),
        app.create_partner("B", "charity"),
    );
    let id = case.sent_hand_off(&app, &a, json!(["birth"]));
    let partner_b = app.partner(&b);
    app.get(&format!("/api/v1/hand-offs/{id}"), &partner_b)
        .assert_problem(404);
    act(&app, &partner_b, &id, "acknowledge", None, &[]).assert_problem(404);
    assert_eq!(
        app.get("/api/v1/hand-offs", &partner_b).body["items"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/events", &partner_b).body["items"],
        json!([])
    );

    let partner_a = app.partner(&a);
    let read = app.get(&format!("/api/v1/hand-offs/{id}"), &partner_a);
    // Consent to share the birth only: the person is their birth year, nothing else.
    assert_eq!(read.body["person"], json!({"birth_year": 1987}));
    assert!(read.body.get("reasons").is_none() && read.body.get("message").is_none());
    let listed = app.get("/api/v1/hand-offs", &partner_a);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // A draft is invisible to its partner.
    let hidden = case.draft_hand_off(&app, &a, json!({}));
    app.get(&format!("/api/v1/hand-offs/{}", hidden.id()), &partner_a)
        .assert_problem(404);
}

#[test]
fn withdrawing_consent_cancels_and_stops_the_partners_access() {
    let app = TestApp::init().spawn();
    let SentHandOff {
        case,
        partner_token: partner,
        id,
        ..
    } = SentHandOff::create(&app, json!(["identity", "contact"]));
    assert_eq!(
        app.get(&format!("/api/v1/hand-offs/{id}"), &partner).body["person"]["last_name"],
        "Martin"
    );
    let withdrawn = app.post(
        &format!("/api/v1/hand-offs/{id}/consent/withdraw"),
        &case.sw,
        json!({}),
    );
    assert_eq!(withdrawn.status, 200, "{:#}", withdrawn.body);
    assert_eq!(withdrawn.body["status"], "cancelled");
    assert!(withdrawn.body["consent"]["withdrawn_at"].is_string());
    let after = app.get(&format!("/api/v1/hand-offs/{id}"), &partner);
    assert_eq!(after.body["status"], "cancelled");
    assert!(after.body["person"].is_null());
    assert!(!after.body.to_string().contains("Martin"));
    act(&app, &partner, &id, "acknowledge", None, &[]).assert_problem(409);
    assert_eq!(
        kinds(&app.get("/api/v1/events", &partner)),
        [
            "hand_off.sent",
            "hand_off.consent_withdrawn",
            "hand_off.cancelled",
            // The partner is told to erase its copy, with the reason.
            "hand_off.personal_data_withdrawn"
        ]
    );
    app.post(
        &format!("/api/v1/hand-offs/{id}/consent/withdraw"),
        &case.sw,
        json!({}),
    )
    .assert_problem(409);
}

#[test]
fn no_hand_off_is_sent_without_consent_except_to_the_crip() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let id = case.draft_hand_off(&app, &ccas, json!({})).id();
    let refused = act(&app, &case.sw, &id, "send", None, &[]);
    refused.assert_problem(422);
    assert_eq!(refused.fields(), ["consent"]);
    let answer = app.put(
        &format!("/api/v1/hand-offs/{id}/consent"),
        &case.sw,
        None,
        json!({"given": false, "form": "written"}),
    );
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    act(&app, &case.sw, &id, "send", None, &[]).assert_problem(422);
    assert_eq!(
        app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw)
            .body["status"],
        "open"
    );

    let misuse = case.draft_hand_off(
        &app,
        &ccas,
        json!({"legal_exception": "information_preoccupante"}),
    );
    misuse.assert_problem(422);
    assert_eq!(misuse.fields(), ["legal_exception"]);
    let crip = app.create_partner("CRIP de l'Ardèche", "child_protection");
    let ip = case.draft_hand_off(
        &app,
        &crip,
        json!({"legal_exception": "information_preoccupante", "reasons": ["child_in_danger"],
               "parental_authority": {"informed_on": "2026-03-14"}}),
    );
    assert_eq!(ip.status, 201, "{:#}", ip.body);
    let sent = act(&app, &case.sw, &ip.id(), "send", None, &[]);
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    assert_eq!(sent.body["legal_exception"], "information_preoccupante");
    let partner = app.partner(&crip);
    assert_eq!(
        app.get(&format!("/api/v1/hand-offs/{}", ip.id()), &partner)
            .body["parental_authority"]["informed_on"],
        "2026-03-14",
        "the child-protection unit reads the CASF L226-2-2 record"
    );
    assert_eq!(
        app.get(&format!("/api/v1/hand-offs/{}", ip.id()), &partner)
            .body["person"]["last_name"],
        "Martin"
    );
    // The use of the exception is recorded for the post, naming who used it; not for the partner.
    let audit: Vec<Value> = app.get("/api/v1/events", &case.sw).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "hand_off.legal_exception_used")
        .cloned()
        .collect();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["data"]["by"], "test-social_worker");
    assert_eq!(
        audit[0]["data"]["legal_exception"],
        "information_preoccupante"
    );
    let partner_feed = app.get("/api/v1/events", &partner).body.to_string();
    assert!(!partner_feed.contains("legal_exception_used"));
}

#[test]
fn illegal_moves_are_refused_naming_the_states() {
    let app = TestApp::init().spawn();
    let SentHandOff {
        case,
        partner: ccas,
        partner_token: partner,
        id,
    } = SentHandOff::create(&app, json!(["identity"]));
    let early = act(&app, &partner, &id, "accept", None, &[]);
    early.assert_problem(409);
    let detail = early.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`sent`") && detail.contains("accept") && detail.contains("acknowledge"),
        "{detail}"
    );
    act(&app, &case.sw, &id, "accept", None, &[]).assert_problem(403);
    act(&app, &partner, &id, "cancel", None, &[]).assert_problem(403);
    assert_eq!(
        act(&app, &partner, &id, "acknowledge", None, &[]).status,
        200
    );
    let no_reason = act(&app, &partner, &id, "decline", Some(json!({})), &[]);
    no_reason.assert_problem(422);
    assert_eq!(no_reason.fields(), ["reason"]);
    let declined = act(
        &app,
        &partner,
        &id,
        "decline",
        Some(json!({"reason": "no_capacity"})),
        &[],
    );
    assert_eq!(declined.body["decline_reason"], "no_capacity");
    act(&app, &case.sw, &id, "cancel", None, &[]).assert_problem(409);
    act(
        &app,
        &partner,
        &id,
        "complete",
        Some(json!({"result": "supported", "outcome": "x"})),
        &[],
    )
    .assert_problem(409);
    let stale = act(
        &app,
        &case.sw,
        &case.sent_hand_off(&app, &ccas, json!(["identity"])),
        "cancel",
        None,
        &[("If-Match", "\"1\"")],
    );
    stale.assert_problem(412);
}

#[test]
fn a_partner_write_retried_with_its_key_happens_once() {
    let app = TestApp::init().spawn();
    let SentHandOff {
        case,
        partner_token: partner,
        id,
        ..
    } = SentHandOff::create(&app, json!(["identity"]));
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..5)
            .map(|_| {
                scope.spawn(|| {
                    act(
                        &app,
                        &partner,
                        &id,
                        "acknowledge",
                        None,
                        &[("Idempotency-Key", "ack-1")],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        assert_eq!(answer.body, answers[0].body);
    }
    for _ in 0..4 {
        let again = act(
            &app,
            &partner,
            &id,
            "acknowledge",
            None,
            &[("Idempotency-Key", "ack-1")],
        );
        assert_eq!(again.body, answers[0].body);
    }
    let history = app.get(&format!("/api/v1/hand-offs/{id}"), &case.sw).body["history"].clone();
    let received = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["to"] == "received")
        .count();
    assert_eq!(received, 1);
    let reused = act(
        &app,
        &partner,
        &id,
        "accept",
        None,
        &[("Idempotency-Key", "ack-1")],
    );
    reused.assert_problem(422);
    assert_eq!(reused.fields(), ["Idempotency-Key"]);
    // The same key with another body is refused too, and changes nothing.
    let comment = Some(json!({"comment": "autre chose"}));
    let other_body = act(
        &app,
        &partner,
        &id,
        "acknowledge",
        comment,
        &[("Idempotency-Key", "ack-1")],
    );
    other_body.assert_problem(422);
    let events = app.get("/api/v1/events", &partner).body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(events, 2, "sent and received, once each");
}

/// A page of the partner's feed is read in one query per kind of data (consents, histories,
/// people), not per hand-off: each item must still get its own person, as its own consent
/// allows, and its own history.
#[test]
fn each_hand_off_of_a_partners_page_shows_its_own_person_and_history() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let ccas = app.create_partner("CCAS", "ccas");
    let partner = app.partner(&ccas);
    let mut ids = Vec::new();
    for (last_name, shared) in [
        ("Martin", json!(["identity"])),
        ("Durand", json!(["identity", "birth"])),
        ("Petit", json!(["identity"])),
    ] {
        let mut body = situation_body(&post);
        body["beneficiary"]["last_name"] = json!(last_name);
        let situation = app.post("/api/v1/situations", &sw, body).id();
        ids.push((
            last_name,
            sent_hand_off(&app, &sw, &situation, &ccas, shared, json!({})),
        ));
    }
    // Durand's hand-off moves on; Petit withdraws consent.
    assert_eq!(
        act(&app, &partner, &ids[1].1, "acknowledge", None, &[]).status,
        200
    );
    let withdrawn = app.post(
        &format!("/api/v1/hand-offs/{}/consent/withdraw", ids[2].1),
        &sw,
        json!({}),
    );
    assert_eq!(withdrawn.status, 200, "{:#}", withdrawn.body);

    let page = app.get("/api/v1/hand-offs?limit=20", &partner);
    assert_eq!(page.status, 200, "{:#}", page.body);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let item = |id: &str| items.iter().find(|i| i["id"] == id).unwrap();
    let statuses = |id: &str| -> Vec<String> {
        item(id)["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["to"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        item(&ids[0].1)["person"],
        json!({"first_name": "Camille", "last_name": "Martin", "sex": "female"})
    );
    assert_eq!(
        item(&ids[1].1)["person"],
        json!({"first_name": "Camille", "last_name": "Durand", "sex": "female", "birth_year": 1987})
    );
    assert!(item(&ids[2].1)["person"].is_null());
    assert!(!page.body.to_string().contains("Petit"));
    assert_eq!(statuses(&ids[0].1), ["sent"]);
    assert_eq!(statuses(&ids[1].1), ["sent", "received"]);
    assert_eq!(statuses(&ids[2].1), ["sent", "cancelled"]);
    // The page and the single reads agree.
    for (_, id) in &ids {
        assert_eq!(
            &app.get(&format!("/api/v1/hand-offs/{id}"), &partner).body,
            item(id)
        );
    }
}

/// The partner's view as a whole: consent to identity and problems shows the person's name and
/// sex and the hand-off's reasons, and nothing else of the person or the situation (no contact,
/// no birth, no message, no evaluation). A snapshot, so that a field added to the view shows up
/// here.
#[test]
fn the_partners_view_of_a_hand_off_holds_only_what_was_consented() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity", "problems"]));
    let view = app.get(
        &format!("/api/v1/hand-offs/{}", sent.id),
        &sent.partner_token,
    );
    assert_eq!(view.status, 200, "{:#}", view.body);
    assert_eq!(view.body["id"], json!(sent.id));
    assert_eq!(view.body["partner_id"], json!(sent.partner));
    redacted().bind(|| insta::assert_json_snapshot!("partner_view_of_a_hand_off", view.body));
}

/// A move the state machine forbids: the 409 problem names the state and the moves it allows.
#[test]
fn an_illegal_move_is_a_409_problem_naming_the_state() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    let early = act(&app, &sent.partner_token, &sent.id, "accept", None, &[]);
    early.assert_problem(409);
    redacted().bind(|| insta::assert_json_snapshot!("illegal_move_problem", early.body));
}

/// Each move reads its own body: a field of another move is refused and named, decline needs
/// its `reason` and complete its `outcome`; each answer says which view it is.
#[test]
fn each_move_reads_its_own_body_and_answers_a_tagged_view() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS", "ccas");
    let partner_token = app.partner(&partner);
    let id = case
        .draft_hand_off(&app, &partner, json!({}))
        .expect_status(201)
        .id();
    give_consent(&app, &case.sw, &id, json!(["identity"])).expect_status(200);

    let misplaced = act(
        &app,
        &case.sw,
        &id,
        "send",
        Some(json!({"reason": "no_capacity"})),
        &[],
    );
    misplaced.assert_problem(422);
    assert_eq!(misplaced.fields(), ["reason"]);
    let sent = act(
        &app,
        &case.sw,
        &id,
        "send",
        Some(json!({"comment": "Vu ce jour"})),
        &[],
    );
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    assert_eq!(sent.body["view"], "post");
    contract::assert_matches("HandOffView", &sent.body);

    let acknowledged = act(&app, &partner_token, &id, "acknowledge", None, &[]);
    assert_eq!(acknowledged.body["view"], "partner");
    contract::assert_matches("HandOffView", &acknowledged.body);
    let no_reason = act(&app, &partner_token, &id, "decline", None, &[]);
    no_reason.assert_problem(422);
    assert_eq!(no_reason.fields(), ["reason"]);
    let outcome_on_accept = act(
        &app,
        &partner_token,
        &id,
        "accept",
        Some(json!({"outcome": "Trop tôt"})),
        &[],
    );
    outcome_on_accept.assert_problem(422);
    assert_eq!(outcome_on_accept.fields(), ["outcome"]);
    act(&app, &partner_token, &id, "accept", None, &[]).expect_status(200);
    let no_outcome = act(
        &app,
        &partner_token,
        &id,
        "complete",
        Some(json!({"comment": "fini"})),
        &[],
    );
    no_outcome.assert_problem(422);
    assert_eq!(no_outcome.fields(), ["result", "outcome"]);
    let unknown_result = act(
        &app,
        &partner_token,
        &id,
        "complete",
        Some(json!({"result": "done", "outcome": "Droits ouverts"})),
        &[],
    );
    unknown_result.assert_problem(422);
    assert_eq!(unknown_result.fields(), ["result"]);
    let completed = act(
        &app,
        &partner_token,
        &id,
        "complete",
        Some(json!({"result": "redirected", "outcome": "Droits ouverts"})),
        &[],
    );
    assert_eq!(completed.status, 200, "{:#}", completed.body);
    assert_eq!(completed.body["result"], "redirected");
    contract::assert_matches("HandOffView", &completed.body);
}

/// CASF L226-2-2: an information préoccupante sent under the legal exception records whether the
/// holders of parental authority were informed beforehand, and when, or why not; sending
/// requires one of the two, and the record belongs to the legal exception only.
#[test]
fn an_information_preoccupante_records_whether_the_parents_were_informed() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let crip = app.create_partner("CRIP de l'Ardèche", "child_protection");
    let ip = |extra: Value| {
        let mut body =
            json!({"legal_exception": "information_preoccupante", "reasons": ["child_in_danger"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        case.draft_hand_off(&app, &crip, body)
    };
    let unrecorded = ip(json!({})).expect_status(201).id();
    let refused = act(&app, &case.sw, &unrecorded, "send", None, &[]);
    refused.assert_problem(422);
    assert_eq!(refused.fields(), ["parental_authority"]);
    for (record, field) in [
        (json!({}), "parental_authority"),
        (
            json!({"informed_on": "2026-03-14", "not_informed_because": "Les deux"}),
            "parental_authority",
        ),
        (
            json!({"informed_on": "2099-01-01"}),
            "parental_authority.informed_on",
        ),
        (
            json!({"not_informed_because": "  "}),
            "parental_authority.not_informed_because",
        ),
    ] {
        let wrong = ip(json!({ "parental_authority": record }));
        wrong.assert_problem(422);
        assert_eq!(wrong.fields(), [field], "{record}");
    }
    let not_informed = ip(json!({"parental_authority":
        {"not_informed_because": "Le parent est l'auteur présumé des violences."}}))
    .expect_status(201)
    .id();
    let sent = act(&app, &case.sw, &not_informed, "send", None, &[]);
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    assert_eq!(
        sent.body["parental_authority"]["not_informed_because"],
        "Le parent est l'auteur présumé des violences."
    );
    // Without the legal exception there is nothing to record.
    let ccas = app.create_partner("CCAS", "ccas");
    let misplaced = case.draft_hand_off(
        &app,
        &ccas,
        json!({"parental_authority": {"informed_on": "2026-03-14"}}),
    );
    misplaced.assert_problem(422);
    assert_eq!(misplaced.fields(), ["parental_authority"]);
}
