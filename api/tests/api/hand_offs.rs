//! Hand-offs: the round trip from a police referral to a partner's outcome, consent and what
//! it lets partners read, the state machine, idempotent partner writes, and the feed.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::{Answer, TestApp};

/// A post with a social worker, and an open situation there.
struct Case {
    sw: String,
    situation: String,
}

fn case(app: &TestApp) -> Case {
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post).id();
    Case { sw, situation }
}

fn draft(app: &TestApp, case: &Case, partner: &str, extra: Value) -> Answer {
    let mut body = json!({"partner_id": partner, "reasons": ["precarity"], "message": "Besoin d'une aide alimentaire"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post(
        &format!("/api/v1/situations/{}/hand-offs", case.situation),
        &case.sw,
        body,
    )
}

fn consent(app: &TestApp, sw: &str, hand_off: &str, shared: Value) -> Answer {
    app.put(
        &format!("/api/v1/hand-offs/{hand_off}/consent"),
        sw,
        None,
        json!({"given": true, "form": "oral", "shared_data": shared}),
    )
}

fn act(
    app: &TestApp,
    token: &str,
    hand_off: &str,
    action: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    app.call(
        "POST",
        &format!("/api/v1/hand-offs/{hand_off}/{action}"),
        Some(token),
        body.as_ref(),
        headers,
    )
}

/// A hand-off sent to `partner` with consent to share `shared`.
fn sent(app: &TestApp, case: &Case, partner: &str, shared: Value) -> String {
    let hand_off = draft(app, case, partner, json!({}));
    assert_eq!(hand_off.status, 201, "{:#}", hand_off.body);
    let id = hand_off.id();
    assert_eq!(consent(app, &case.sw, &id, shared).status, 200);
    let sent = act(app, &case.sw, &id, "send", None, &[]);
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    id
}

#[test]
fn the_whole_round_trip_from_referral_to_outcome() {
    let app = TestApp::spawn();
    let post = app.create_post("Privas");
    let unit = app.create_unit(&post);
    let officer = app.officer(&unit);
    let sw = app.token(Role::SocialWorker, &[&post]);

    // An officer refers a person.
    let referral = app.post(
        "/api/v1/referrals",
        &officer,
        json!({"post_id": post, "person": {"first_name": "Camille", "last_name": "Martin", "phone": "06 12 34 56 78", "sex": "female"},
               "reason": "Différend conjugal, deux enfants présents", "agreed_to_be_contacted": true}),
    );
    assert_eq!(referral.status, 201, "{:#}", referral.body);
    let referral_id = referral.id();

    // The social worker takes it up: a situation opens for the referred person.
    let taken = app.post(
        &format!("/api/v1/referrals/{referral_id}/take-up"),
        &sw,
        json!({"opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
               "problems": ["conjugal_violence", "precarity"], "principal_problem": "conjugal_violence"}),
    );
    assert_eq!(taken.status, 201, "{:#}", taken.body);
    assert_eq!(taken.body["beneficiary"]["last_name"], "Martin");
    let situation = taken.id();
    let evaluation = app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &sw,
        None,
        json!({"text": "Violences répétées"}),
    );
    assert_eq!(evaluation.status, 201);

    // A partner is chosen from the directory.
    let ccas = app.create_partner("CCAS de Privas", "ccas");
    let found = app.get(
        "/api/v1/partners?kind=ccas&theme=precarity&commune_code=07186",
        &sw,
    );
    assert_eq!(found.body["items"][0]["id"], json!(ccas));

    // Consent, then the hand-off is sent; the situation becomes oriented.
    let hand_off = app.post(
        &format!("/api/v1/situations/{situation}/hand-offs"),
        &sw,
        json!({"partner_id": ccas, "reasons": ["precarity"], "message": "Aide alimentaire"}),
    );
    assert_eq!(hand_off.status, 201, "{:#}", hand_off.body);
    let id = hand_off.id();
    assert_eq!(
        consent(&app, &sw, &id, json!(["identity", "contact", "problems"])).status,
        200
    );
    let sent = act(&app, &sw, &id, "send", None, &[("If-Match", "\"1\"")]);
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    assert_eq!(
        app.get(&format!("/api/v1/situations/{situation}"), &sw)
            .body["status"],
        "oriented"
    );

    // The partner pulls it from its feed and moves it along.
    let partner = app.partner(&ccas);
    let feed = app.get("/api/v1/events", &partner);
    let kinds: Vec<&str> = feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hand_off.sent"]);
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
    for (action, body) in [
        ("acknowledge", None),
        ("accept", Some(json!({"comment": "Rendez-vous fixé"}))),
        (
            "complete",
            Some(json!({"outcome": "Droits ouverts, colis alimentaires"})),
        ),
    ] {
        let answer = act(&app, &partner, &id, action, body, &[]);
        assert_eq!(answer.status, 200, "{action}: {:#}", answer.body);
    }
    let next = app.get(
        &format!("/api/v1/events?after={}", feed.body["next_after"]),
        &partner,
    );
    let kinds: Vec<&str> = next.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "hand_off.received",
            "hand_off.accepted",
            "hand_off.completed"
        ]
    );

    // The social worker sees the outcome and the attributed history.
    let seen = app.get(&format!("/api/v1/hand-offs/{id}"), &sw);
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

    // The officer sees only that the referral was taken up.
    let receipt = app.get(&format!("/api/v1/referrals/{referral_id}"), &officer);
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
            "version"
        ]
    );
    app.get(&format!("/api/v1/situations/{situation}"), &officer)
        .assert_problem(403);
    app.get(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &officer,
    )
    .assert_problem(403);
    app.get(&format!("/api/v1/hand-offs/{id}"), &officer)
        .assert_problem(403);
    let officer_feed = app.get("/api/v1/events", &officer);
    let kinds: Vec<&str> = officer_feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["referral.received", "referral.taken_up"]);
}

#[test]
fn a_partner_sees_only_its_own_hand_offs_and_only_consented_data() {
    let app = TestApp::spawn();
    let case = case(&app);
    let (a, b) = (
        app.create_partner("A", "ccas"),
        app.create_partner("B", "charity"),
    );
    let id = sent(&app, &case, &a, json!(["birth"]));
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
    let hidden = draft(&app, &case, &a, json!({}));
    app.get(&format!("/api/v1/hand-offs/{}", hidden.id()), &partner_a)
        .assert_problem(404);
}

#[test]
fn withdrawing_consent_cancels_and_stops_the_partners_access() {
    let app = TestApp::spawn();
    let case = case(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let id = sent(&app, &case, &ccas, json!(["identity", "contact"]));
    let partner = app.partner(&ccas);
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
    let kinds: Vec<String> = app.get("/api/v1/events", &partner).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "hand_off.sent",
            "hand_off.consent_withdrawn",
            "hand_off.cancelled"
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
    let app = TestApp::spawn();
    let case = case(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let id = draft(&app, &case, &ccas, json!({})).id();
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

    let misuse = draft(
        &app,
        &case,
        &ccas,
        json!({"legal_exception": "information_preoccupante"}),
    );
    misuse.assert_problem(422);
    assert_eq!(misuse.fields(), ["legal_exception"]);
    let crip = app.create_partner("CRIP de l'Ardèche", "child_protection");
    let ip = draft(
        &app,
        &case,
        &crip,
        json!({"legal_exception": "information_preoccupante", "reasons": ["child_in_danger"]}),
    );
    assert_eq!(ip.status, 201, "{:#}", ip.body);
    let sent = act(&app, &case.sw, &ip.id(), "send", None, &[]);
    assert_eq!(sent.status, 200, "{:#}", sent.body);
    assert_eq!(sent.body["legal_exception"], "information_preoccupante");
    let partner = app.partner(&crip);
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
    let app = TestApp::spawn();
    let case = case(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let id = sent(&app, &case, &ccas, json!(["identity"]));
    let partner = app.partner(&ccas);
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
        Some(json!({"outcome": "x"})),
        &[],
    )
    .assert_problem(409);
    let stale = act(
        &app,
        &case.sw,
        &sent(&app, &case, &ccas, json!(["identity"])),
        "cancel",
        None,
        &[("If-Match", "\"1\"")],
    );
    stale.assert_problem(412);
}

#[test]
fn a_partner_write_retried_with_its_key_happens_once() {
    let app = TestApp::spawn();
    let case = case(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let id = sent(&app, &case, &ccas, json!(["identity"]));
    let partner = app.partner(&ccas);
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

#[test]
fn the_feed_is_ordered_scoped_and_resumable() {
    let app = TestApp::spawn();
    let case = case(&app);
    let ccas = app.create_partner("CCAS", "ccas");
    let first = sent(&app, &case, &ccas, json!(["identity"]));
    let second = sent(&app, &case, &ccas, json!(["identity"]));
    let partner = app.partner(&ccas);
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
    let kinds: Vec<&str> = post_feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
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

/// A page of the partner's feed is read in one query per kind of data (consents, histories,
/// people), not per hand-off: each item must still get its own person, as its own consent
/// allows, and its own history.
#[test]
fn each_hand_off_of_a_partners_page_shows_its_own_person_and_history() {
    let app = TestApp::spawn();
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
        let mut body = crate::support::situation_body(&post);
        body["beneficiary"]["last_name"] = json!(last_name);
        let situation = app.post("/api/v1/situations", &sw, body).id();
        let case = Case {
            sw: sw.clone(),
            situation,
        };
        ids.push((last_name, sent(&app, &case, &ccas, shared)));
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
