//! The confidential evaluation: the post's social workers write it, its coordinators read it,
//! nobody else sees it; replacing it needs the version read.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;

#[test]
fn the_evaluation_is_written_once_then_replaced_with_if_match() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!("/api/v1/situations/{}/evaluation", situation.id());
    app.get(&path, &sw).assert_problem(404);
    let first = app.put(&path, &sw, None, json!({"text": "Première évaluation"}));
    assert_eq!(first.status, 201, "{:#}", first.body);
    assert_eq!(first.etag.as_deref(), Some("\"1\""));
    app.put(&path, &sw, None, json!({"text": "Écrasement"}))
        .assert_problem(428);
    let second = app.put(
        &path,
        &sw,
        Some("\"1\""),
        json!({"text": "Deuxième évaluation"}),
    );
    assert_eq!(second.status, 200);
    app.put(&path, &sw, Some("\"1\""), json!({"text": "Perdue"}))
        .assert_problem(412);
    let read = app.get(&path, &sw);
    assert_eq!(read.body["text"], "Deuxième évaluation");
    assert_eq!(read.body["written_by"], "test-social_worker");
    let blank = app.put(&path, &sw, Some("\"2\""), json!({"text": "  "}));
    blank.assert_problem(422);
    assert_eq!(blank.fields(), ["text"]);
}

#[test]
fn only_the_posts_staff_read_the_evaluation() {
    let app = TestApp::init().spawn();
    let (post, other) = (app.create_post("A"), app.create_post("B"));
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post);
    let path = format!("/api/v1/situations/{}/evaluation", situation.id());
    assert_eq!(
        app.put(&path, &sw, None, json!({"text": "Confidentiel"}))
            .status,
        201
    );
    let coordinator = app.token(Role::Coordinator, &[&post]);
    assert_eq!(app.get(&path, &coordinator).body["text"], "Confidentiel");
    app.put(&path, &coordinator, Some("\"1\""), json!({"text": "x"}))
        .assert_problem(403);
    app.get(&path, &app.token(Role::SocialWorker, &[&other]))
        .assert_problem(404);
    app.get(&path, &app.token(Role::Coordinator, &[&other]))
        .assert_problem(404);
    for role in [Role::Officer, Role::Admin, Role::Partner, Role::Statistics] {
        let answer = app.get(&path, &app.token(role, &[&post]));
        answer.assert_problem(403);
        assert!(!answer.body.to_string().contains("Confidentiel"));
    }
}
