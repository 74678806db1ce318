//! Situations: the issue's example works as written; bad input is refused with the field at
//! fault and writes nothing; scope, filters, paging and versioned updates hold.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::situation_body;

fn count(app: &TestApp, token: &str) -> usize {
    app.get("/api/v1/situations?limit=200", token).body["items"]
        .as_array()
        .unwrap()
        .len()
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

#[test]
fn the_issue_example_opens_a_situation_with_its_person() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let answer = app.create_situation(&sw, &post);
    assert_eq!(
        answer.location,
        Some(format!("/api/v1/situations/{}", answer.id()))
    );
    assert_eq!(answer.etag.as_deref(), Some("\"1\""));
    assert_eq!(answer.body["status"], "open");
    assert_eq!(
        answer.body["problems"],
        json!(["conjugal_violence", "housing"])
    );
    assert_eq!(answer.body["beneficiary"]["last_name"], "Martin");
    assert_eq!(
        answer.body["beneficiary_id"],
        answer.body["beneficiary"]["id"]
    );
    let read = app.get(answer.location.as_deref().unwrap(), &sw);
    assert_eq!(read.body, answer.body);
}

#[test]
fn a_second_situation_can_name_a_known_person_of_the_same_post_only() {
    let app = TestApp::init().spawn();
    let (post, other) = (app.create_post("A"), app.create_post("B"));
    let sw = app.token(Role::SocialWorker, &[&post, &other]);
    let first = app.create_situation(&sw, &post);
    let person = first.body["beneficiary_id"].clone();
    let mut again = situation_body(&post);
    again.as_object_mut().unwrap().remove("beneficiary");
    again["beneficiary_id"] = person.clone();
    again["opened_on"] = json!("2026-04-01");
    let second = app.post("/api/v1/situations", &sw, again.clone());
    assert_eq!(second.status, 201, "{:#}", second.body);
    assert_eq!(second.body["beneficiary_id"], person);
    let elsewhere = app.post(
        "/api/v1/situations",
        &sw,
        with(again, "/post_id", json!(other)),
    );
    elsewhere.assert_problem(422);
    assert_eq!(elsewhere.fields(), ["beneficiary_id"]);
    let both = with(situation_body(&post), "/opened_on", json!("2026-03-15"));
    let mut both = both;
    both["beneficiary_id"] = person;
    let answer = app.post("/api/v1/situations", &sw, both);
    answer.assert_problem(422);
    assert_eq!(answer.fields(), ["beneficiary"]);
}

/// A post's social worker, and the issue's example body without a birth date.
fn refusing(app: &TestApp) -> (String, Value) {
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let mut body = situation_body(&post);
    body["beneficiary"]["birth_date"] = Value::Null;
    (sw, body)
}

/// Each body is refused with 422 naming exactly its `fields`; nothing is written.
#[track_caller]
fn assert_refused(app: &TestApp, sw: &str, cases: Vec<(Value, Vec<&str>)>) {
    for (bad, fields) in cases {
        let answer = app.post("/api/v1/situations", sw, bad.clone());
        answer.assert_problem(422);
        assert_eq!(answer.fields(), fields, "{bad}");
    }
    assert_nothing_written(app, sw);
}

#[track_caller]
fn assert_nothing_written(app: &TestApp, sw: &str) {
    assert_eq!(count(app, sw), 0);
    assert_eq!(
        app.get("/api/v1/beneficiaries", sw).body["items"],
        json!([])
    );
}

#[test]
fn unknown_codes_and_wrong_types_are_refused_naming_the_field() {
    let app = TestApp::init().spawn();
    let (sw, body) = refusing(&app);
    assert_refused(
        &app,
        &sw,
        vec![
            (
                with(body.clone(), "/problems/1", json!("alien_abduction")),
                vec!["problems[1]"],
            ),
            (with(body.clone(), "/penal", json!("yes")), vec!["penal"]),
            (
                with(body.clone(), "/beneficiary/birth_year", json!("1987")),
                vec!["beneficiary.birth_year"],
            ),
            (
                with(body.clone(), "/principal_problem", json!("addiction")),
                vec!["principal_problem"],
            ),
            (
                with(body.clone(), "/beneficiary/commune_code", json!("7010")),
                vec!["beneficiary.commune_code"],
            ),
            (
                with(body.clone(), "/origin", json!("outside_service")),
                vec!["referring_service"],
            ),
        ],
    );
}

#[test]
fn malformed_or_impossible_dates_are_refused_naming_the_field() {
    let app = TestApp::init().spawn();
    let (sw, body) = refusing(&app);
    assert_refused(
        &app,
        &sw,
        vec![
            (
                with(body.clone(), "/opened_on", json!("2999-01-01")),
                vec!["opened_on"],
            ),
            (
                with(body.clone(), "/opened_on", json!("14/03/2026")),
                vec!["opened_on"],
            ),
            (
                with(
                    with(body.clone(), "/beneficiary/birth_year", json!(2026)),
                    "/beneficiary/birth_date",
                    json!("2026-03-15"),
                ),
                vec!["opened_on"],
            ),
        ],
    );
}

#[test]
fn unknown_and_missing_fields_are_refused_naming_the_field() {
    let app = TestApp::init().spawn();
    let (sw, body) = refusing(&app);
    let mut colour = body.clone();
    colour["colour"] = json!("blue");
    let mut nickname = body.clone();
    nickname["beneficiary"]["nickname"] = json!("Cam");
    let mut no_standing = body;
    no_standing.as_object_mut().unwrap().remove("standing");
    assert_refused(
        &app,
        &sw,
        vec![
            (colour, vec!["colour"]),
            (nickname, vec!["beneficiary.nickname"]),
            (no_standing, vec!["standing"]),
        ],
    );
}

#[test]
fn malformed_foreign_and_oversized_bodies_are_refused_and_write_nothing() {
    let app = TestApp::init().spawn();
    let (sw, body) = refusing(&app);
    let malformed = app.send_raw(
        "POST",
        "/api/v1/situations",
        &sw,
        "application/json",
        b"{\"post_id\": ",
    );
    malformed.assert_problem(400);
    let not_json = app.send_raw(
        "POST",
        "/api/v1/situations",
        &sw,
        "text/plain",
        body.to_string().as_bytes(),
    );
    not_json.assert_problem(415);
    let huge = with(
        body.clone(),
        "/beneficiary/first_name",
        json!("x".repeat(200 * 1024)),
    );
    let oversized = app.send_raw(
        "POST",
        "/api/v1/situations",
        &sw,
        "application/json",
        huge.to_string().as_bytes(),
    );
    oversized.assert_problem(413);
    assert_nothing_written(&app, &sw);
}

#[test]
fn scope_decides_who_writes_and_reads() {
    let app = TestApp::init().spawn();
    let (mine, theirs) = (app.create_post("Mine"), app.create_post("Theirs"));
    let me = app.token(Role::SocialWorker, &[&mine]);
    let them = app.token(Role::SocialWorker, &[&theirs]);
    app.post("/api/v1/situations", &me, situation_body(&theirs))
        .assert_problem(403);
    let theirs_situation = app.create_situation(&them, &theirs);
    let path = format!("/api/v1/situations/{}", theirs_situation.id());
    app.get(&path, &me).assert_problem(404);
    app.patch(&path, &me, Some("\"1\""), json!({"penal": false}))
        .assert_problem(404);
    app.get(&format!("/api/v1/situations?post_id={theirs}"), &me)
        .assert_problem(403);
    assert_eq!(count(&app, &me), 0);
    for role in [Role::Admin, Role::Officer, Role::Partner, Role::Statistics] {
        let token = app.token(role, &[&theirs]);
        app.get(&path, &token).assert_problem(403);
        app.get("/api/v1/situations", &token).assert_problem(403);
        app.post("/api/v1/situations", &token, situation_body(&theirs))
            .assert_problem(403);
    }
    let coordinator = app.token(Role::Coordinator, &[&mine, &theirs]);
    assert_eq!(app.get(&path, &coordinator).status, 200);
    assert_eq!(count(&app, &coordinator), 1);
    app.patch(&path, &coordinator, Some("\"1\""), json!({"penal": false}))
        .assert_problem(403);
    app.post("/api/v1/situations", &coordinator, situation_body(&mine))
        .assert_problem(403);
}

/// Three situations of one social worker at posts A and B: S0 (A, January, police, victim,
/// conjugal violence, closed), S1 (A, February, gendarmerie, author, mental health and
/// addiction), S2 (B, March, spontaneous, victim, precarity and housing).
struct Listed {
    sw: String,
    a: String,
    b: String,
    ids: Vec<String>,
}

fn listed(app: &TestApp) -> Listed {
    let (a, b) = (app.create_post("A"), app.create_post("B"));
    let sw = app.token(Role::SocialWorker, &[&a, &b]);
    let base = situation_body(&a);
    let specs = [
        (
            &a,
            "2026-01-10",
            "police",
            "victim",
            json!(["conjugal_violence"]),
            "conjugal_violence",
        ),
        (
            &a,
            "2026-02-10",
            "gendarmerie",
            "author",
            json!(["mental_health", "addiction"]),
            "addiction",
        ),
        (
            &b,
            "2026-03-10",
            "spontaneous",
            "victim",
            json!(["precarity", "housing"]),
            "housing",
        ),
    ];
    let mut ids = vec![];
    for (post, day, origin, standing, problems, principal) in specs {
        let mut body = with(base.clone(), "/post_id", json!(post));
        body["opened_on"] = json!(day);
        body["origin"] = json!(origin);
        body["standing"] = json!(standing);
        body["problems"] = problems;
        body["principal_problem"] = json!(principal);
        let answer = app.post("/api/v1/situations", &sw, body);
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        ids.push(answer.id());
    }
    let closed = app.patch(
        &format!("/api/v1/situations/{}", ids[0]),
        &sw,
        Some("\"1\""),
        json!({"status": "closed", "closing_reason": "needs_met"}),
    );
    assert_eq!(closed.status, 200, "{:#}", closed.body);
    Listed { sw, a, b, ids }
}

impl Listed {
    /// The ids the list answers for `query`, sorted.
    #[track_caller]
    fn found(&self, app: &TestApp, query: &str) -> Vec<String> {
        let answer = app.get(&format!("/api/v1/situations?{query}"), &self.sw);
        assert_eq!(answer.status, 200, "{query}: {:#}", answer.body);
        let mut got: Vec<String> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        got
    }

    /// The ids of the situations `picked`, sorted.
    fn sorted(&self, picked: &[usize]) -> Vec<String> {
        let mut v: Vec<String> = picked.iter().map(|i| self.ids[*i].clone()).collect();
        v.sort();
        v
    }
}

#[test]
fn lists_filter_by_post_and_status() {
    let app = TestApp::init().spawn();
    let list = listed(&app);
    let (a, b) = (&list.a, &list.b);
    assert_eq!(
        list.found(&app, &format!("post_id={a}")),
        list.sorted(&[0, 1])
    );
    assert_eq!(list.found(&app, "status=closed"), list.sorted(&[0]));
    assert_eq!(list.found(&app, "status=open"), list.sorted(&[1, 2]));
    assert_eq!(
        list.found(&app, &format!("standing=victim&post_id={b}")),
        list.sorted(&[2])
    );
}

#[test]
fn lists_filter_by_problem_origin_and_standing() {
    let app = TestApp::init().spawn();
    let list = listed(&app);
    assert_eq!(list.found(&app, "problem=addiction"), list.sorted(&[1]));
    assert_eq!(list.found(&app, "problem=housing"), list.sorted(&[2]));
    assert_eq!(list.found(&app, "origin=gendarmerie"), list.sorted(&[1]));
    assert_eq!(list.found(&app, "standing=victim"), list.sorted(&[0, 2]));
}

#[test]
fn lists_filter_by_opening_period() {
    let app = TestApp::init().spawn();
    let list = listed(&app);
    assert_eq!(
        list.found(&app, "opened_from=2026-02-01&opened_to=2026-02-28"),
        list.sorted(&[1])
    );
    assert_eq!(
        list.found(&app, "opened_from=2026-02-10"),
        list.sorted(&[1, 2])
    );
}

#[test]
fn unknown_filters_and_values_are_refused_naming_the_parameter() {
    let app = TestApp::init().spawn();
    let list = listed(&app);
    let bad = app.get("/api/v1/situations?problem=unicorns", &list.sw);
    bad.assert_problem(400);
    assert_eq!(bad.fields(), ["problem"]);
    let unknown = app.get("/api/v1/situations?colour=blue", &list.sw);
    unknown.assert_problem(400);
    assert_eq!(unknown.fields(), ["colour"]);
}

#[test]
fn lists_never_carry_the_evaluation() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let secret = "Révélations confidentielles sur la situation";
    let written = app.put(
        &format!("/api/v1/situations/{}/evaluation", situation.id()),
        &sw,
        None,
        json!({"text": secret}),
    );
    assert_eq!(written.status, 201, "{:#}", written.body);
    for path in [
        "/api/v1/situations".to_owned(),
        format!("/api/v1/situations/{}", situation.id()),
    ] {
        let answer = app.get(&path, &sw);
        assert!(
            !answer.body.to_string().contains("confidentielles"),
            "{path}"
        );
    }
}

#[test]
fn updates_need_the_current_version_and_follow_the_status_rules() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!("/api/v1/situations/{}", situation.id());
    app.patch(&path, &sw, None, json!({"penal": false}))
        .assert_problem(428);
    let changed = app.patch(
        &path,
        &sw,
        Some("\"1\""),
        json!({"penal": false, "problems": ["housing"], "principal_problem": "housing"}),
    );
    assert_eq!(changed.status, 200, "{:#}", changed.body);
    assert_eq!(changed.etag.as_deref(), Some("\"2\""));
    assert_eq!(changed.body["problems"], json!(["housing"]));
    app.patch(&path, &sw, Some("\"1\""), json!({"penal": true}))
        .assert_problem(412);

    let no_reason = app.patch(&path, &sw, Some("\"2\""), json!({"status": "closed"}));
    no_reason.assert_problem(422);
    assert_eq!(no_reason.fields(), ["closing_reason"]);
    let oriented = app.patch(&path, &sw, Some("\"2\""), json!({"status": "oriented"}));
    assert_eq!(oriented.body["status"], "oriented");
    let back = app.patch(&path, &sw, Some("\"3\""), json!({"status": "open"}));
    back.assert_problem(422);
    assert_eq!(back.fields(), ["status"]);
    let closed = app.patch(
        &path,
        &sw,
        Some("\"3\""),
        json!({"status": "closed", "closing_reason": "handed_off"}),
    );
    assert_eq!(closed.body["closing_reason"], "handed_off");
    let read = app.get(&path, &sw);
    assert_eq!(read.body["status"], "closed");
    assert_eq!(read.body["penal"], false);
    assert_eq!(read.etag.as_deref(), Some("\"4\""));
}

#[test]
fn situations_page_with_a_cursor() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    for _ in 0..3 {
        app.create_situation(&sw, &post);
    }
    let first = app.get("/api/v1/situations?limit=2", &sw);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let next = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/api/v1/situations?limit=2&cursor={next}"), &sw);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["next_cursor"].is_null());
}
