//! The partner directory: managed by administrators, searched by post staff, exportable as HSDS.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;

fn ids(answer: &crate::support::Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_directory_is_searched_by_kind_theme_and_territory() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let make = |body: serde_json::Value| {
        let answer = app.post("/api/v1/partners", &admin, body);
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.id()
    };
    let ccas = make(
        json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "commune_codes": ["07186"],
                           "themes": ["precarity", "housing"], "siret": "21070186000015"}),
    );
    let cidff = make(
        json!({"name": "CIDFF 07", "kind": "cidff", "department_codes": ["07"], "themes": ["conjugal_violence"]}),
    );
    let drome = make(
        json!({"name": "SIAO 26", "kind": "emergency_housing", "department_codes": ["26"], "themes": ["housing"]}),
    );
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let search = |query: &str| ids(&app.get(&format!("/api/v1/partners?{query}"), &sw));
    assert_eq!(search("kind=ccas"), std::slice::from_ref(&ccas));
    assert_eq!(search("theme=housing"), [drome.clone(), ccas.clone()]);
    assert_eq!(search("commune_code=07186"), [cidff.clone(), ccas.clone()]);
    assert_eq!(search("commune_code=07010"), std::slice::from_ref(&cidff));
    assert_eq!(search("department_code=26"), [drome]);
    // A code is matched with LIKE: a wildcard is refused, not taken as "any".
    for bad in [
        "department_code=%25",
        "department_code=0_",
        "commune_code=07%25%25%25",
    ] {
        let refused = app.get(&format!("/api/v1/partners?{bad}"), &sw);
        refused.assert_problem(400);
        assert_eq!(refused.fields(), [bad.split('=').next().unwrap()], "{bad}");
    }
    let hsds = app.get("/api/v1/partners/export/hsds?kind=ccas", &sw);
    assert_eq!(hsds.status, 200);
    assert_eq!(hsds.body[0]["id"], json!(ccas));
    assert_eq!(hsds.body[0]["tax_id"], "21070186000015");
    assert_eq!(hsds.body[0]["services"].as_array().unwrap().len(), 2);
}

#[test]
fn only_administrators_manage_the_directory() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let body = json!({"name": "CCAS", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]});
    app.post(
        "/api/v1/partners",
        &app.token(Role::SocialWorker, &[&post]),
        body.clone(),
    )
    .assert_problem(403);
    let id = app
        .post("/api/v1/partners", &app.admin(), body.clone())
        .id();
    let path = format!("/api/v1/partners/{id}");
    app.put(&path, &app.admin(), None, body.clone())
        .assert_problem(428);
    let renamed = app.put(&path, &app.admin(), Some("\"1\""), json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]}));
    assert_eq!(renamed.body["name"], "CCAS de Privas");
    app.get("/api/v1/partners", &app.officer(&app.create_unit(&post)))
        .assert_problem(403);
    assert_eq!(app.get(&path, &app.partner(&id)).status, 200);
    let other = app.create_partner("Other", "charity");
    app.get(&path, &app.partner(&other)).assert_problem(404);
    let bad = app.post(
        "/api/v1/partners",
        &app.admin(),
        json!({"name": "X", "kind": "ccas", "department_codes": ["99"], "themes": []}),
    );
    bad.assert_problem(422);
    assert_eq!(bad.fields(), ["department_codes[0]", "themes"]);
}
