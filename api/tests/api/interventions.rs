//! Interventions: dated acts within a situation, between its opening and today.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;

#[test]
fn interventions_are_recorded_and_listed_a_page_at_a_time_the_last_recorded_first() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!("/api/v1/situations/{}/interventions", situation.id());
    for (day, mode) in [("2026-03-20", "phone"), ("2026-03-14", "interview_at_unit")] {
        let answer = app.post(&path, &sw, json!({"occurred_on": day, "mode": mode, "kind": "listening_and_evaluation", "duration_minutes": 45}));
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        assert_eq!(answer.body["recorded_by"], "test-social_worker");
    }
    let list = app.get(&path, &sw);
    let days: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["occurred_on"].as_str().unwrap())
        .collect();
    // The last recorded first, as every list.
    assert_eq!(days, ["2026-03-14", "2026-03-20"]);
    assert_eq!(list.body["next_cursor"], json!(null));
    let first = app.get(&format!("{path}?limit=1"), &sw);
    assert_eq!(first.body["items"][0]["occurred_on"], "2026-03-14");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("{path}?limit=1&cursor={cursor}"), &sw);
    assert_eq!(second.body["items"][0]["occurred_on"], "2026-03-20");
    assert_eq!(second.body["next_cursor"], json!(null));
    let coordinator = app.token(Role::Coordinator, &[&post]);
    assert_eq!(app.get(&path, &coordinator).body, list.body);
    app.post(&path, &coordinator, json!({"occurred_on": "2026-03-20", "mode": "phone", "kind": "other", "duration_minutes": 5}))
        .assert_problem(403);
}

#[test]
fn an_intervention_outside_the_situation_life_is_refused() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!("/api/v1/situations/{}/interventions", situation.id());
    let before = app.post(&path, &sw, json!({"occurred_on": "2026-03-13", "mode": "phone", "kind": "other", "duration_minutes": 10}));
    before.assert_problem(422);
    assert_eq!(before.fields(), ["occurred_on"]);
    let too_long = app.post(&path, &sw, json!({"occurred_on": "2026-03-14", "mode": "phone", "kind": "other", "duration_minutes": 0}));
    assert_eq!(too_long.fields(), ["duration_minutes"]);
    assert_eq!(app.get(&path, &sw).body["items"], json!([]));
    // Once an intervention exists, the situation cannot be moved after it.
    let recorded = app.post(&path, &sw, json!({"occurred_on": "2026-03-15", "mode": "phone", "kind": "other", "duration_minutes": 10}));
    assert_eq!(recorded.status, 201);
    let moved = app.patch(
        &format!("/api/v1/situations/{}", situation.id()),
        &sw,
        Some("\"1\""),
        json!({"opened_on": "2026-03-16"}),
    );
    moved.assert_problem(422);
    assert_eq!(moved.fields(), ["opened_on"]);
}

#[test]
fn another_post_cannot_add_interventions() {
    let app = TestApp::init().spawn();
    let (mine, other) = (app.create_post("A"), app.create_post("B"));
    let situation = app.create_situation(&app.token(Role::SocialWorker, &[&mine]), &mine);
    let stranger = app.token(Role::SocialWorker, &[&other]);
    let path = format!("/api/v1/situations/{}/interventions", situation.id());
    app.post(&path, &stranger, json!({"occurred_on": "2026-03-14", "mode": "phone", "kind": "other", "duration_minutes": 10}))
        .assert_problem(404);
    app.get(&path, &stranger).assert_problem(404);
}
