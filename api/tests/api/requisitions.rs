//! Judicial requisitions and the export of a person's record: the only ways a record leaves.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::fixtures::{record_requisition, recorded_case_and_unit};
use crate::support::{Answer, TestApp};

fn step(app: &TestApp, token: &str, id: &str, action: &str, body: Option<Value>) -> Answer {
    app.call(
        "POST",
        &format!("/api/v1/requisitions/{id}/{action}"),
        Some(token),
        body.as_ref(),
        &[],
    )
}

/// Before approval: the social worker's export and approval are refused, and so is the approval
/// of a coordinator of another post.
fn refused_before_approval(app: &TestApp, sw: &str, id: &str) {
    step(app, sw, id, "export", None).assert_problem(409);
    step(app, sw, id, "approve", None).assert_problem(403);
    let elsewhere = app.create_post("Poste d'Aubenas");
    step(
        app,
        &app.token(Role::Coordinator, &[&elsewhere]),
        id,
        "approve",
        None,
    )
    .assert_problem(404);
}

/// The post's coordinator approves; rejecting it afterwards is refused.
fn approved(app: &TestApp, coordinator: &str, id: &str) {
    let approved = step(
        app,
        coordinator,
        id,
        "approve",
        Some(json!({"note": "Conforme"})),
    );
    assert_eq!(approved.status, 200, "{:#}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["decided_by"], "test-coordinator");
    step(
        app,
        coordinator,
        id,
        "reject",
        Some(json!({"note": "Trop tard"})),
    )
    .assert_problem(409);
}

/// The social worker produces the export of an approved requisition.
fn exported(app: &TestApp, sw: &str, id: &str) -> Answer {
    let export = step(app, sw, id, "export", None);
    assert_eq!(export.status, 200, "{:#}", export.body);
    assert_eq!(export.body["requisition"]["status"], "produced");
    assert_eq!(
        export.body["requisition"]["produced_by"],
        "test-social_worker"
    );
    export
}

#[test]
fn nothing_leaves_before_approval_and_only_a_coordinator_of_the_post_approves() {
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let id = record_requisition(&app, &case, &unit);
    refused_before_approval(&app, &case.sw, &id);
    approved(&app, &case.coordinator, &id);
}

#[test]
fn an_approved_requisition_exports_the_record_but_not_who_read_it() {
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let id = record_requisition(&app, &case, &unit);
    approved(&app, &case.coordinator, &id);
    let export = exported(&app, &case.sw, &id);
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
}

#[test]
fn every_step_of_a_requisition_is_audited_refusals_included() {
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let id = record_requisition(&app, &case, &unit);
    refused_before_approval(&app, &case.sw, &id);
    approved(&app, &case.coordinator, &id);
    exported(&app, &case.sw, &id);

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
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let id = record_requisition(&app, &case, &unit);
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
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
    let id = record_requisition(&app, &case, &unit);
    step(&app, &case.coordinator, &id, "approve", None);
    let officer = app.officer(&unit);
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
    let app = TestApp::init().spawn();
    let (case, unit) = recorded_case_and_unit(&app);
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
    let id = record_requisition(&app, &case, &unit);
    let listed = app.get("/api/v1/requisitions?status=recorded", &case.coordinator);
    assert_eq!(listed.body["items"][0]["id"], json!(id));
    let none = app.get(
        "/api/v1/requisitions",
        &app.token(Role::Coordinator, &[&other]),
    );
    assert_eq!(none.body["items"], json!([]));
}
