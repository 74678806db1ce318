//! Judicial requisitions and the export of a person's record: the only ways a record leaves.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;

struct Case {
    post: String,
    sw: String,
    coordinator: String,
    situation: String,
    person: String,
    unit: String,
}

fn new_case(app: &TestApp) -> Case {
    let post = app.create_post("Poste de Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let created = app.create_situation(&sw, &post);
    let situation = created.id();
    let base = format!("/api/v1/situations/{situation}");
    app.post(&format!("{base}/interventions"), &sw, json!({"occurred_on": "2026-03-14", "mode": "phone", "kind": "listening_and_evaluation", "duration_minutes": 20}));
    app.put(
        &format!("{base}/evaluation"),
        &sw,
        None,
        json!({"text": "Emprise, enfants exposés"}),
    );
    Case {
        coordinator: app.token(Role::Coordinator, &[&post]),
        person: created.body["beneficiary_id"].as_str().unwrap().to_owned(),
        unit: app.create_unit(&post),
        situation,
        post,
        sw,
    }
}

fn record(app: &TestApp, case: &Case) -> String {
    let answer = app.post(
        "/api/v1/requisitions",
        &case.sw,
        json!({"beneficiary_id": case.person, "legal_basis": "cpp_77_1_1", "procedure_reference": "PV 2026/001234",
               "requesting_authority": "OPJ Martin, commissariat de Privas", "requesting_unit_id": case.unit,
               "received_on": "2026-11-20"}),
    );
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    assert_eq!(answer.body["status"], "recorded");
    assert_eq!(answer.body["post_id"], json!(case.post));
    answer.id()
}

fn step(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> crate::support::Answer {
    app.call(
        "POST",
        &format!("/api/v1/requisitions/{id}/{action}"),
        Some(token),
        body.as_ref(),
        &[],
    )
}

#[test]
fn a_requisition_is_recorded_approved_by_a_coordinator_then_exported_and_every_step_audited() {
    let app = TestApp::spawn();
    let case = new_case(&app);
    let id = record(&app, &case);
    // Nothing leaves before approval, and the social worker cannot approve.
    step(&app, &case.sw, &id, "export", None).assert_problem(409);
    step(&app, &case.sw, &id, "approve", None).assert_problem(403);
    let elsewhere = app.create_post("Poste d'Aubenas");
    step(
        &app,
        &app.token(Role::Coordinator, &[&elsewhere]),
        &id,
        "approve",
        None,
    )
    .assert_problem(404);

    let approved = step(
        &app,
        &case.coordinator,
        &id,
        "approve",
        Some(json!({"note": "Conforme"})),
    );
    assert_eq!(approved.status, 200, "{:#}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["decided_by"], "test-coordinator");
    step(
        &app,
        &case.coordinator,
        &id,
        "reject",
        Some(json!({"note": "Trop tard"})),
    )
    .assert_problem(409);

    let export = step(&app, &case.sw, &id, "export", None);
    assert_eq!(export.status, 200, "{:#}", export.body);
    assert_eq!(export.body["requisition"]["status"], "produced");
    assert_eq!(
        export.body["requisition"]["produced_by"],
        "test-social_worker"
    );
    let record = &export.body["record"];
    assert_eq!(record["beneficiary"]["last_name"], "Martin");
    assert_eq!(
        record["situations"][0]["situation"]["id"],
        json!(case.situation)
    );
    assert_eq!(
        record["situations"][0]["evaluation"]["text"],
        "Emprise, enfants exposés"
    );
    // The police get the record, not the trail of who read it.
    assert!(record.get("access_history").is_none());

    let trail = app.get(&format!("/api/v1/audit?record_id={id}"), &case.coordinator);
    let actions: Vec<_> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "create_requisition:success",
            "export_requisition:rejected",
            "approve_requisition:denied",
            "approve_requisition:not_found",
            "approve_requisition:success",
            "reject_requisition:rejected",
            "export_requisition:success",
        ]
    );
}

#[test]
fn a_rejected_requisition_says_why_and_never_produces_an_export() {
    let app = TestApp::spawn();
    let case = new_case(&app);
    let id = record(&app, &case);
    let missing_reason = step(&app, &case.coordinator, &id, "reject", Some(json!({})));
    missing_reason.assert_problem(422);
    assert_eq!(missing_reason.fields(), ["note"]);
    let rejected = step(
        &app,
        &case.coordinator,
        &id,
        "reject",
        Some(json!({"note": "Hors du champ de la réquisition"})),
    );
    assert_eq!(rejected.body["status"], "rejected");
    step(&app, &case.sw, &id, "export", None).assert_problem(409);
    step(&app, &case.coordinator, &id, "export", None).assert_problem(409);
}

#[test]
fn no_police_role_reads_a_record_or_a_requisition() {
    let app = TestApp::spawn();
    let case = new_case(&app);
    let id = record(&app, &case);
    step(&app, &case.coordinator, &id, "approve", None);
    let officer = app.officer(&case.unit);
    for path in [
        format!("/api/v1/requisitions/{id}"),
        "/api/v1/requisitions".to_owned(),
        format!("/api/v1/situations/{}", case.situation),
        format!("/api/v1/situations/{}/evaluation", case.situation),
        format!("/api/v1/beneficiaries/{}", case.person),
        format!("/api/v1/beneficiaries/{}/export", case.person),
    ] {
        app.get(&path, &officer).assert_problem(403);
    }
    step(&app, &officer, &id, "export", None).assert_problem(403);
}

#[test]
fn requisitions_are_validated_and_scoped() {
    let app = TestApp::spawn();
    let case = new_case(&app);
    let bad = app.post(
        "/api/v1/requisitions",
        &case.sw,
        json!({"beneficiary_id": case.person, "legal_basis": "cpp_77_1_1", "procedure_reference": " ",
               "requesting_authority": "OPJ", "received_on": "2999-01-01"}),
    );
    bad.assert_problem(422);
    assert_eq!(bad.fields(), ["procedure_reference", "received_on"]);
    let other = app.create_post("Poste d'Aubenas");
    let outsider = app.post(
        "/api/v1/requisitions",
        &app.token(Role::SocialWorker, &[&other]),
        json!({"beneficiary_id": case.person, "legal_basis": "cpp_60_1", "procedure_reference": "PV 9",
               "requesting_authority": "OPJ", "received_on": "2026-11-20"}),
    );
    outsider.assert_problem(422);
    assert_eq!(outsider.fields(), ["beneficiary_id"]);
    let id = record(&app, &case);
    let listed = app.get("/api/v1/requisitions?status=recorded", &case.coordinator);
    assert_eq!(listed.body["items"][0]["id"], json!(id));
    let none = app.get(
        "/api/v1/requisitions",
        &app.token(Role::Coordinator, &[&other]),
    );
    assert_eq!(none.body["items"], json!([]));
}

#[test]
fn a_person_s_export_holds_everything_recorded_and_who_accessed_it() {
    let app = TestApp::spawn();
    let case = new_case(&app);
    let partner = app.create_partner("CCAS de Privas", "ccas");
    let hand_off = app
        .post(
            &format!("/api/v1/situations/{}/hand-offs", case.situation),
            &case.sw,
            json!({"partner_id": partner, "reasons": ["precarity"]}),
        )
        .id();
    let requisition = record(&app, &case);
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
