//! Units: managed by administrators, linked to existing posts.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;

#[test]
fn units_link_to_posts_and_list_by_post() {
    let app = TestApp::init().spawn();
    let (a, b) = (app.create_post("A"), app.create_post("B"));
    let unit = app.post(
        "/api/v1/units",
        &app.admin(),
        json!({"name": "Brigade de Privas", "kind": "gendarmerie_brigade", "department_code": "07", "post_ids": [a]}),
    );
    assert_eq!(unit.status, 201, "{:#}", unit.body);
    assert_eq!(unit.body["post_ids"], json!([a]));
    let by_a = app.get(&format!("/api/v1/units?post_id={a}"), &app.admin());
    assert_eq!(by_a.body["items"].as_array().unwrap().len(), 1);
    let by_b = app.get(&format!("/api/v1/units?post_id={b}"), &app.admin());
    assert_eq!(by_b.body["items"], json!([]));

    let path = format!("/api/v1/units/{}", unit.id());
    let moved = app.put(
        &path,
        &app.admin(),
        Some("\"1\""),
        json!({"name": "Brigade de Privas", "kind": "gendarmerie_brigade", "department_code": "07", "post_ids": [b, a]}),
    );
    assert_eq!(moved.status, 200, "{:#}", moved.body);
    let linked: Vec<&str> = moved.body["post_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(linked.len(), 2);
}

#[test]
fn a_unit_cannot_link_to_an_unknown_post() {
    let app = TestApp::init().spawn();
    let answer = app.post(
        "/api/v1/units",
        &app.admin(),
        json!({"name": "U", "kind": "commissariat", "department_code": "07", "post_ids": ["01a20ce4-da4b-70b0-9546-8e9b35196941"]}),
    );
    answer.assert_problem(422);
    assert_eq!(answer.fields(), ["post_ids"]);
    assert_eq!(
        app.get("/api/v1/units", &app.admin()).body["items"],
        json!([])
    );
}

#[test]
fn only_administrators_manage_units() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let social_worker = app.token(Role::SocialWorker, &[&post]);
    app.get("/api/v1/units", &social_worker).assert_problem(403);
    app.post(
        "/api/v1/units",
        &social_worker,
        json!({"name": "U", "kind": "commissariat", "department_code": "07"}),
    )
    .assert_problem(403);
}
