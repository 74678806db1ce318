//! Submitted statistics: frozen, versioned copies of a post's grid; what the observatory reads
//! by default; who may submit and read.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{open_situation, situation_of, statistics_dataset};

const PERIOD: &str = "from=2025-01-01&to=2025-12-31";

fn year() -> Value {
    json!({"from": "2025-01-01", "to": "2025-12-31"})
}

fn submissions_of(post: &str) -> String {
    format!("/api/v1/posts/{post}/statistics/submissions")
}

/// The total of an indicator.
fn total(stats: &Value, id: &str) -> i64 {
    stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id}"))["total"]
        .as_i64()
        .unwrap()
}

/// A new person at `post`, in 2025.
fn one_more_person(app: &TestApp, sw: &str, post: &str) {
    let mut situation = situation_of(post, "2025-09-15", "police", "victim", false, &["other"]);
    situation["beneficiary"] = json!({"sex": "male"});
    open_situation(app, sw, situation);
}

#[test]
fn a_submission_is_frozen_and_a_resubmission_lists_what_changed() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let coordinator = app.token(Role::Coordinator, &[&post]);

    let first = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(first.status, 201, "{:#}", first.body);
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["grid"], "2026");
    assert_eq!(first.body["submitted_by"], "test-coordinator");
    assert_eq!(first.body["differences"], json!([]));
    assert_eq!(total(&first.body["statistics"], "persons"), 2);
    let location = first.header("location").unwrap().to_owned();
    assert!(location.ends_with(first.body["id"].as_str().unwrap()));
    // The submission is the live grid of the post at that instant, cell for cell.
    let live = app.get(
        &format!("/api/v1/statistics?{PERIOD}&post_id={post}"),
        &coordinator,
    );
    assert_eq!(live.body, first.body["statistics"]);

    // The cases change after the submission: the submission does not.
    one_more_person(&app, &sw, &post);
    let read_again = app.get(&location, &coordinator);
    assert_eq!(read_again.status, 200, "{:#}", read_again.body);
    assert_eq!(read_again.body, first.body);
    let live = app.get(
        &format!("/api/v1/statistics?{PERIOD}&post_id={post}"),
        &coordinator,
    );
    assert_eq!(total(&live.body, "persons"), 3);

    // Submitting again makes version 2, listing each changed cell.
    let second = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(second.status, 201, "{:#}", second.body);
    assert_eq!(second.body["version"], 2);
    assert_eq!(total(&second.body["statistics"], "persons"), 3);
    let differences = second.body["differences"].as_array().unwrap();
    assert!(
        differences
            .contains(&json!({"indicator": "persons", "key": "total", "before": 2, "after": 3}))
    );
    assert!(
        differences.contains(
            &json!({"indicator": "persons_by_sex", "key": "male", "before": 1, "after": 2})
        )
    );
    assert!(
        !differences
            .iter()
            .any(|d| d["indicator"] == "persons_by_sex" && d["key"] == "female"),
        "an unchanged cell is not listed: {differences:#?}"
    );

    // The list: newest version first; the post's social worker and the observatory read it.
    for reader in [&coordinator, &sw, &app.token(Role::Statistics, &[])] {
        let list = app.get(&submissions_of(&post), reader);
        assert_eq!(list.status, 200, "{:#}", list.body);
        let versions: Vec<i64> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["version"].as_i64().unwrap())
            .collect();
        assert_eq!(versions, [2, 1]);
    }
    // The first version still reads as it was.
    assert_eq!(app.get(&location, &sw).body, first.body);
}

#[test]
fn the_observatory_reads_the_submissions_by_default_and_live_figures_on_request() {
    let app = TestApp::init().spawn();
    let (post, _) = statistics_dataset(&app);
    let observatory = app.token(Role::Statistics, &[]);

    // Nothing submitted yet: the submitted grid counts nothing and every post is missing.
    let national = app.get(&format!("/api/v1/statistics?{PERIOD}"), &observatory);
    assert_eq!(national.status, 200, "{:#}", national.body);
    assert_eq!(total(&national.body, "persons"), 0);
    let live = app.get(
        &format!("/api/v1/statistics?{PERIOD}&source=live"),
        &observatory,
    );
    assert_eq!(total(&live.body, "persons"), 3);
    let posts = app.get(
        &format!("/api/v1/statistics/submissions?{PERIOD}"),
        &observatory,
    );
    assert_eq!(posts.status, 200, "{:#}", posts.body);
    assert_eq!(posts.body["submitted"], json!([]));
    assert_eq!(posts.body["missing"].as_array().unwrap().len(), 2);

    let coordinator = app.token(Role::Coordinator, &[&post]);
    let submitted = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(submitted.status, 201, "{:#}", submitted.body);

    // The national grid is now the post's submission; the other post is missing.
    let national = app.get(&format!("/api/v1/statistics?{PERIOD}"), &observatory);
    let mut expected = submitted.body["statistics"].clone();
    expected["scope"] = json!("national");
    assert_eq!(national.body, expected);
    let posts = app.get(
        &format!("/api/v1/statistics/submissions?{PERIOD}"),
        &observatory,
    );
    let submitted_posts = posts.body["submitted"].as_array().unwrap();
    assert_eq!(submitted_posts.len(), 1);
    assert_eq!(submitted_posts[0]["post_id"], post.as_str());
    assert_eq!(submitted_posts[0]["version"], 1);
    let missing = posts.body["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["department_code"], "26");
    assert_eq!(missing[0]["version"], Value::Null);

    // A department reads only its posts' submissions.
    let drome = app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=26"),
        &observatory,
    );
    assert_eq!(total(&drome.body, "persons"), 0);
    let ardeche = app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=07"),
        &observatory,
    );
    assert_eq!(total(&ardeche.body, "persons"), 2);

    // Another period matches no submission: submissions count for exactly their period.
    let half = app.get(
        "/api/v1/statistics?from=2025-01-01&to=2025-06-30",
        &observatory,
    );
    assert_eq!(total(&half.body, "persons"), 0);

    // A post's staff read live figures unless they ask for the submissions.
    let staff_live = app.get(
        &format!("/api/v1/statistics?{PERIOD}&post_id={post}"),
        &coordinator,
    );
    assert_eq!(total(&staff_live.body, "persons"), 2);
    let bad = app.get(
        &format!("/api/v1/statistics?{PERIOD}&source=frozen"),
        &observatory,
    );
    bad.assert_problem(400);
}

#[test]
fn only_the_posts_coordinator_submits_whole_months_and_the_act_is_audited() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let other = app.create_post("Aubenas");
    let coordinator = app.token(Role::Coordinator, &[&post]);

    app.post(&submissions_of(&post), &sw, year())
        .assert_problem(403);
    app.post(
        &submissions_of(&post),
        &app.token(Role::Coordinator, &[&other]),
        year(),
    )
    .assert_problem(404);
    app.post(
        &submissions_of(&post),
        &app.token(Role::Statistics, &[]),
        year(),
    )
    .assert_problem(403);

    let not_months = app.post(
        &submissions_of(&post),
        &coordinator,
        json!({"from": "2025-01-02", "to": "2025-12-30"}),
    );
    not_months.assert_problem(422);
    let fields: Vec<&str> = not_months.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["from", "to"]);
    app.post(
        &submissions_of(&post),
        &coordinator,
        json!({"grid": "1999", "from": "2025-01-01", "to": "2025-12-31"}),
    )
    .assert_problem(422);
    // Nothing was stored by the refusals.
    let list = app.get(&submissions_of(&post), &coordinator);
    assert_eq!(list.body["items"], json!([]));

    let submitted = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(submitted.status, 201, "{:#}", submitted.body);
    let id = submitted.body["id"].as_str().unwrap();
    let audit = app.get(&format!("/api/v1/audit?record_id={id}"), &coordinator);
    assert_eq!(audit.status, 200, "{:#}", audit.body);
    let events = audit.body["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["action"], "submit_statistics");
    assert_eq!(events[0]["record_type"], "statistics_submission");
    assert_eq!(events[0]["post_id"], post.as_str());

    // Another post's staff do not see the submissions; an unknown id is not found.
    app.get(
        &submissions_of(&post),
        &app.token(Role::SocialWorker, &[&other]),
    )
    .assert_problem(404);
    app.get(
        &format!("{}/{id}", submissions_of(&other)),
        &app.token(Role::Coordinator, &[&other]),
    )
    .assert_problem(404);
}
