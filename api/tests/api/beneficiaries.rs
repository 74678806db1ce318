//! A person's record (`/api/v1/beneficiaries/{id}`): rectified with the version read, exported
//! whole (with who accessed it), and erased on request: anonymised now, except while a hand-off
//! of theirs is in progress, and only by the social workers of their post.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::fixtures::{
    Case, act, person, record_requisition, recorded_case_and_unit, sent_hand_off, situation_of,
};
use crate::support::{Answer, TestApp};

fn erase(app: &TestApp, id: &str, token: &str, if_match: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
    app.call(
        "DELETE",
        &format!("/api/v1/beneficiaries/{id}"),
        Some(token),
        None,
        &headers,
    )
}

/// A case with an evaluation, handed off to a CCAS (with a message naming the person) and sent:
/// a hand-off in progress.
struct InProgress {
    case: Case,
    ccas: String,
    hand_off: String,
}

fn in_progress(app: &TestApp) -> InProgress {
    let case = Case::open(app);
    app.put(
        &format!("/api/v1/situations/{}/evaluation", case.situation),
        &case.sw,
        None,
        json!({"text": "Évaluation confidentielle"}),
    )
    .expect_status(201);
    let ccas = app.create_partner("CCAS", "ccas");
    let hand_off = sent_hand_off(
        app,
        &case.sw,
        &case.situation,
        &ccas,
        json!(["identity"]),
        json!({"message": "Mme Martin, 3 rue des Lilas"}),
    );
    InProgress {
        case,
        ccas,
        hand_off,
    }
}

/// The hand-off is cancelled, so that erasure is allowed.
fn cancelled(app: &TestApp) -> InProgress {
    let record = in_progress(app);
    act(
        app,
        &record.case.sw,
        &record.hand_off,
        "cancel",
        Some(json!({})),
        &[],
    )
    .expect_status(200);
    record
}

/// The person of a cancelled hand-off, erased with the version read; returns the answer.
fn erased(app: &TestApp) -> (InProgress, Answer) {
    let record = cancelled(app);
    let erased = erase(app, &record.case.person, &record.case.sw, Some("\"1\""));
    assert_eq!(erased.status, 200, "{:#}", erased.body);
    (record, erased)
}

#[test]
fn erasure_is_refused_while_a_hand_off_is_in_progress() {
    let app = TestApp::init().spawn();
    let InProgress { case, .. } = in_progress(&app);
    let refused = erase(&app, &case.person, &case.sw, Some("\"1\""));
    refused.assert_problem(409);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("hand-off"),
        "{:#}",
        refused.body
    );
    assert_eq!(person(&app, &case.sw, &case.person)["last_name"], "Martin");
}

#[test]
fn erasure_needs_the_current_version() {
    let app = TestApp::init().spawn();
    let InProgress { case, .. } = cancelled(&app);
    erase(&app, &case.person, &case.sw, None).assert_problem(428);
    erase(&app, &case.person, &case.sw, Some("\"7\"")).assert_problem(412);
    assert_eq!(person(&app, &case.sw, &case.person)["last_name"], "Martin");
}

#[test]
fn erasure_anonymises_the_person_now_and_deletes_the_evaluation() {
    let app = TestApp::init().spawn();
    let (InProgress { case, .. }, erased) = erased(&app);
    assert_eq!(erased.etag.as_deref(), Some("\"2\""));
    assert!(erased.body["anonymised_at"].is_string());
    assert!(erased.body["last_name"].is_null() && erased.body["birth_year"].is_null());
    assert_eq!(erased.body["sex"], "female");
    assert_eq!(person(&app, &case.sw, &case.person), erased.body);
    app.get(
        &format!("/api/v1/situations/{}/evaluation", case.situation),
        &case.sw,
    )
    .assert_problem(404);
}

#[test]
fn erasing_again_changes_nothing_and_the_identity_cannot_come_back() {
    let app = TestApp::init().spawn();
    let (InProgress { case, .. }, erased) = erased(&app);
    let again = erase(&app, &case.person, &case.sw, Some("\"2\""));
    assert_eq!(again.status, 200);
    assert_eq!(again.body, erased.body);
    app.put(
        &format!("/api/v1/beneficiaries/{}", case.person),
        &case.sw,
        Some("\"2\""),
        json!({"last_name": "Martin"}),
    )
    .assert_problem(409);
}

#[test]
fn nothing_new_is_written_about_an_erased_person() {
    let app = TestApp::init().spawn();
    let (InProgress { case, ccas, .. }, _) = erased(&app);
    let situation = &case.situation;
    app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &case.sw,
        None,
        json!({"text": "Nouvelle évaluation"}),
    )
    .assert_problem(409);
    app.post(
        &format!("/api/v1/situations/{situation}/interventions"),
        &case.sw,
        json!({"occurred_on": "2026-03-15", "mode": "phone", "kind": "listening_and_evaluation", "duration_minutes": 10}),
    )
    .assert_problem(409);
    app.post(
        &format!("/api/v1/situations/{situation}/hand-offs"),
        &case.sw,
        json!({"partner_id": ccas, "reasons": ["precarity"]}),
    )
    .assert_problem(409);
    let mut reopen = situation_of(
        &case.post,
        "2026-03-14",
        "police",
        "victim",
        false,
        &["other"],
    );
    reopen["beneficiary_id"] = json!(case.person);
    let reopened = app.post("/api/v1/situations", &case.sw, reopen);
    reopened.assert_problem(422);
    assert_eq!(reopened.fields(), ["beneficiary_id"]);
}

#[test]
fn erasure_is_for_the_social_workers_of_the_post() {
    let app = TestApp::init().spawn();
    let (post, other) = (app.create_post("Privas"), app.create_post("Aubenas"));
    let sw = app.token(Role::SocialWorker, &[&post]);
    let id = app.create_situation(&sw, &post).body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = app.create_unit(&post);
    for token in [
        app.token(Role::Coordinator, &[&post]),
        app.officer(&unit),
        app.token(Role::Statistics, &[]),
        app.admin(),
    ] {
        erase(&app, &id, &token, Some("\"1\"")).assert_problem(403);
    }
    erase(
        &app,
        &id,
        &app.token(Role::SocialWorker, &[&other]),
        Some("\"1\""),
    )
    .assert_problem(404);
    erase(&app, &uuid_like(), &sw, Some("\"1\"")).assert_problem(404);
    assert_eq!(person(&app, &sw, &id)["last_name"], "Martin");
}

/// An id of no person.
fn uuid_like() -> String {
    "01936b2e-7c4a-7f00-8000-000000000001".to_owned()
}

#[test]
fn a_person_is_rectified_with_if_match() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!(
        "/api/v1/beneficiaries/{}",
        situation.body["beneficiary_id"].as_str().unwrap()
    );
    let identity = json!({"first_name": "Camille", "last_name": "Martin-Durand", "birth_date": "1987-05-02", "sex": "female"});
    app.put(&path, &sw, None, identity.clone())
        .assert_problem(428);
    let rectified = app.put(&path, &sw, Some("\"1\""), identity);
    assert_eq!(rectified.status, 200, "{:#}", rectified.body);
    assert_eq!(rectified.body["last_name"], "Martin-Durand");
    assert_eq!(rectified.body["birth_year"], 1987);
    assert!(rectified.body["commune_code"].is_null());
    let born_later = app.put(
        &path,
        &sw,
        Some("\"2\""),
        json!({"birth_date": "2026-04-01"}),
    );
    born_later.assert_problem(422);
    assert_eq!(born_later.fields(), ["birth_date"]);
    let other = app.create_post("B");
    app.get(&path, &app.token(Role::SocialWorker, &[&other]))
        .assert_problem(404);
}

#[test]
fn a_person_s_export_holds_everything_recorded_and_who_accessed_it() {
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let partner = app.create_partner("CCAS de Privas", "ccas");
    let hand_off = app
        .post(
            &format!("/api/v1/situations/{}/hand-offs", case.situation),
            &case.sw,
            json!({"partner_id": partner, "reasons": ["precarity"]}),
        )
        .id();
    let requisition = record_requisition(&app, &case, &unit);
    app.get(
        &format!("/api/v1/situations/{}", case.situation),
        &case.coordinator,
    );

    let export = app.get(
        &format!("/api/v1/beneficiaries/{}/export", case.person),
        &case.sw,
    );
    assert_eq!(export.status, 200, "{:#}", export.body);
    let body = &export.body;
    assert_eq!(body["beneficiary"]["id"], json!(case.person));
    assert_eq!(body["beneficiary"]["first_name"], "Camille");
    let situation = &body["situations"][0];
    assert_eq!(situation["situation"]["id"], json!(case.situation));
    assert_eq!(situation["interventions"].as_array().unwrap().len(), 1);
    assert_eq!(situation["evaluation"]["text"], "Emprise, enfants exposés");
    assert_eq!(situation["hand_offs"][0]["id"], json!(hand_off));
    assert_eq!(body["requisitions"][0]["id"], json!(requisition));
    let history = body["access_history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "get_situation" && e["role"] == "coordinator"),
        "{history:#?}"
    );
    // The export itself is in the trail.
    let trail = app.get(
        &format!("/api/v1/audit?beneficiary_id={}", case.person),
        &case.coordinator,
    );
    assert_eq!(trail.body["items"][0]["action"], "export_beneficiary");
    // Out of scope: the same 404 as a missing person.
    let other = app.create_post("Poste d'Aubenas");
    app.get(
        &format!("/api/v1/beneficiaries/{}/export", case.person),
        &app.token(Role::SocialWorker, &[&other]),
    )
    .assert_problem(404);
}
