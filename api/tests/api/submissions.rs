//! Submitted statistics: frozen, versioned copies of a post's grid; what the observatory reads
//! by default; who may submit and read.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{
    grids_without_suppression, open_situation, situation_of, statistics_dataset,
};

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
    let app = TestApp::init()
        // Exact sums are checked here; what disclosure control makes of them is tested below.
        .with_grids(&grids_without_suppression())
        .spawn();
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
    // Through disclosure control with this test's k = 1: nothing suppressed, and it says so.
    assert_eq!(national.body["disclosure_control"]["k"], 1);
    expected["disclosure_control"] = national.body["disclosure_control"].clone();
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

/// A document of instance `instance` with one post of the 07, signed by `signer`.
fn document(
    signer: &relais_api::signing::StatisticsSigner,
    instance: &str,
    statistics: &Value,
) -> Value {
    let payload: relais_domain::consolidation::ExportPayload = serde_json::from_value(json!({
        "format": relais_domain::consolidation::PAYLOAD_FORMAT,
        "instance": instance, "grid": "2026", "from": "2025-01-01", "to": "2025-12-31",
        "exported_at": "2026-01-15T09:00:00Z",
        "posts": [{"post_id": "01a2324c-df6f-77cd-8494-6ce4ba5033e3", "name": "ISCG Privas",
                   "department_code": "07", "version": 1, "submitted_at": "2026-01-10T08:00:00Z",
                   "statistics": statistics}]
    }))
    .unwrap();
    serde_json::to_value(signer.sign(&payload).unwrap()).unwrap()
}

#[test]
fn the_observatory_admin_registers_instances_and_imports_only_what_verifies() {
    let app = TestApp::init()
        // Exact sums are checked here; what disclosure control makes of them is tested below.
        .with_grids(&grids_without_suppression())
        .spawn();
    let (post, _) = statistics_dataset(&app);
    let coordinator = app.token(Role::Coordinator, &[&post]);
    let submitted = app.post(&submissions_of(&post), &coordinator, year());
    let figures = submitted.body["statistics"].clone();
    let admin = app.admin();
    let key = |byte| {
        relais_api::signing::StatisticsSigner::new(&relais_persistence::keys::Key {
            id: "s".into(),
            bytes: [byte; 32],
        })
    };
    let (ardeche, impostor) = (key(1), key(2));

    for (body, field) in [
        (
            json!({"id": "Relais 07", "name": "A", "public_key": ardeche.public_key()}),
            "id",
        ),
        (
            json!({"id": "relais-07", "name": " ", "public_key": ardeche.public_key()}),
            "name",
        ),
        (
            json!({"id": "relais-07", "name": "A", "public_key": "c2hvcnQ="}),
            "public_key",
        ),
    ] {
        let refused = app.post("/api/v1/statistics/instances", &admin, body);
        refused.assert_problem(422);
        assert_eq!(refused.body["errors"][0]["field"], field);
    }
    let registered = app.post(
        "/api/v1/statistics/instances",
        &admin,
        json!({"id": "relais-07", "name": "Relais de l'Ardèche", "public_key": ardeche.public_key()}),
    );
    assert_eq!(registered.status, 201, "{:#}", registered.body);
    assert_eq!(registered.body["registered_by"], "test-admin");
    app.post(
        "/api/v1/statistics/instances",
        &admin,
        json!({"id": "relais-07", "name": "Encore", "public_key": impostor.public_key()}),
    )
    .assert_problem(409);
    let listed = app.get("/api/v1/statistics/instances", &admin);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // Signed by another key under the registered id: refused, nothing stored.
    let forged = app.post(
        "/api/v1/statistics/submissions",
        &admin,
        document(&impostor, "relais-07", &figures),
    );
    forged.assert_problem(422);
    assert_eq!(forged.body["errors"][0]["field"], "signature");
    let unreadable = app.post(
        "/api/v1/statistics/submissions",
        &admin,
        json!({"payload": "{", "signature": "AAAA"}),
    );
    unreadable.assert_problem(422);
    assert_eq!(unreadable.body["errors"][0]["field"], "payload");
    // A post whose period is not the document's: refused though well signed.
    let mut other_period = figures.clone();
    other_period["to"] = json!("2025-06-30");
    let inconsistent = app.post(
        "/api/v1/statistics/submissions",
        &admin,
        document(&ardeche, "relais-07", &other_period),
    );
    inconsistent.assert_problem(422);
    assert_eq!(
        inconsistent.body["errors"][0]["field"],
        "payload.posts[0].statistics"
    );
    let observatory = app.token(Role::Statistics, &[]);
    let before_import = app.get(
        &format!("/api/v1/statistics/submissions?{PERIOD}&department=07"),
        &observatory,
    );
    assert_eq!(
        before_import.body["submitted"].as_array().unwrap().len(),
        1,
        "only the local post"
    );

    let imported = app.post(
        "/api/v1/statistics/submissions",
        &admin,
        document(&ardeche, "relais-07", &figures),
    );
    assert_eq!(imported.status, 201, "{:#}", imported.body);
    // The same version with other figures: a conflict, not a silent overwrite.
    let mut changed = figures.clone();
    changed["indicators"][0]["total"] = json!(99);
    app.post(
        "/api/v1/statistics/submissions",
        &admin,
        document(&ardeche, "relais-07", &changed),
    )
    .assert_problem(409);
    // The local post and the imported one add up in the department.
    let ardeche_grid = app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=07"),
        &observatory,
    );
    assert_eq!(total(&ardeche_grid.body, "persons"), 4);
    // Only the administrator imports; the import is audited against the instance.
    app.post(
        "/api/v1/statistics/submissions",
        &observatory,
        document(&ardeche, "relais-07", &figures),
    )
    .assert_problem(403);
    // An instance belongs to no post, so the trail is read from the database.
    let actions: Vec<String> = app
        .db
        .read(|conn| {
            use diesel::prelude::*;
            use relais_persistence::schema::audit_events;
            audit_events::table
                .filter(audit_events::record_id.eq("relais-07"))
                .filter(audit_events::record_type.eq("statistics_instance"))
                .filter(audit_events::outcome.eq("success"))
                .select(audit_events::action)
                .load::<String>(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    assert!(
        actions.contains(&"register_statistics_instance"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"import_statistics_submissions"),
        "{actions:?}"
    );
}

/// The value of `key` in the split indicator `id` (`None` when suppressed).
fn count(stats: &Value, id: &str, key: &str) -> Option<i64> {
    stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap()["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap()["count"]
        .as_i64()
}

#[test]
fn the_observatory_reads_submitted_figures_through_disclosure_control() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let coordinator = app.token(Role::Coordinator, &[&post]);
    let observatory = app.token(Role::Statistics, &[]);
    let first = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(first.status, 201, "{:#}", first.body);
    one_more_person(&app, &sw, &post);
    let second = app.post(&submissions_of(&post), &coordinator, year());
    assert_eq!(second.status, 201, "{:#}", second.body);
    // The coordinator's answer is exact, and so are its differences: one more man.
    assert_eq!(second.body["statistics"]["disclosure_control"], Value::Null);
    let exact_male = count(&second.body["statistics"], "persons_by_sex", "male");
    assert!(matches!(exact_male, Some(1..=4)), "{exact_male:?}");
    assert!(
        second.body["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["indicator"] == "persons_by_sex" && d["key"] == "male")
    );

    // The observatory: the submitted national grid, the list and the one version all come
    // suppressed, and no difference shows a suppressed count.
    let national = app.get(&format!("/api/v1/statistics?{PERIOD}"), &observatory);
    assert_eq!(national.status, 200, "{:#}", national.body);
    assert_eq!(national.body["disclosure_control"]["k"], 5);
    assert_eq!(count(&national.body, "persons_by_sex", "male"), None);
    let location = second.header("location").unwrap().to_owned();
    let list = app.get(&submissions_of(&post), &observatory);
    let one = app.get(&location, &observatory);
    assert_eq!(one.status, 200, "{:#}", one.body);
    for shown in [&list.body["items"][0], &one.body] {
        assert_eq!(shown["version"], 2);
        assert_eq!(shown["statistics"]["disclosure_control"]["k"], 5);
        assert_eq!(count(&shown["statistics"], "persons_by_sex", "male"), None);
        for difference in shown["differences"].as_array().unwrap() {
            assert!(
                !(difference["indicator"] == "persons_by_sex" && difference["key"] == "male"),
                "a suppressed count shows in a difference: {difference}"
            );
            for side in ["before", "after"] {
                let n = difference[side].as_i64().unwrap();
                assert!(n == 0 || n >= 5, "{side} {n} is under k: {difference}");
            }
        }
    }
    // The post's staff still read them exact.
    let own = app.get(&location, &coordinator);
    assert_eq!(own.body, second.body);
}

#[test]
fn the_observatorys_activity_report_reads_the_submissions_and_names_the_posts_missing() {
    let app = TestApp::init()
        .with_grids(&grids_without_suppression())
        .spawn();
    let (post, sw) = statistics_dataset(&app);
    let observatory = app.token(Role::Statistics, &[]);
    let report = |query: &str| -> String {
        ureq::get(&format!("{}/api/v1/reports/activity?{query}", app.base))
            .set("Authorization", &format!("Bearer {observatory}"))
            .call()
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .into_string()
            .unwrap()
    };
    let persons = |html: &str| -> String {
        html.split("data-indicator=\"persons\">")
            .nth(1)
            .and_then(|rest| rest.split("<div class=\"value\">").nth(1))
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("{html}"))
            .to_owned()
    };

    // Nothing submitted: the page says so, and counts nothing.
    let html = report("year=2025");
    assert!(
        html.contains("data-source=\"submissions\" data-submitted=\"0\" data-posts=\"2\""),
        "{html}"
    );
    assert_eq!(persons(&html), "0");

    // Post A submits 2025, then its cases change: the report shows what was submitted.
    let coordinator = app.token(Role::Coordinator, &[&post]);
    app.post(&submissions_of(&post), &coordinator, year())
        .expect_status(201);
    one_more_person(&app, &sw, &post);
    let html = report("year=2025");
    assert!(
        html.contains("data-submitted=\"1\" data-posts=\"2\""),
        "{html}"
    );
    assert!(
        html.contains("Sans transmission, donc non comptés : Valence (26)."),
        "{html}"
    );
    assert_eq!(persons(&html), "2");

    // Live figures on request: every post, as the cases are now, with no such notice.
    let live = report("year=2025&source=live");
    assert!(!live.contains("data-source"), "{live}");
    assert_eq!(persons(&live), "4");
}

/// A period that has not begun has nothing to freeze: submitted, its zeros would be read as the
/// post's figures and the post would no longer be listed as missing. It is refused, naming `from`,
/// and nothing is stored.
#[test]
fn a_period_not_yet_begun_cannot_be_submitted() {
    use chrono::{Datelike, Months};
    let app = TestApp::init().spawn();
    let (post, _) = statistics_dataset(&app);
    let coordinator = app.token(Role::Coordinator, &[&post]);
    let today = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).date_naive();
    let this_month = today.with_day(1).unwrap();
    let next_month = this_month + Months::new(1);
    let after_it = next_month + Months::new(1) - chrono::Days::new(1);
    for (from, to) in [
        (next_month.to_string(), after_it.to_string()),
        ("9999-12-01".to_owned(), "9999-12-31".to_owned()),
    ] {
        let refused = app.post(
            &submissions_of(&post),
            &coordinator,
            json!({"from": from, "to": to}),
        );
        refused.assert_problem(422);
        assert_eq!(refused.fields(), ["from"], "{from}: {:#}", refused.body);
        assert_eq!(refused.body["errors"][0]["code"], "in_future");
    }
    let stored = app
        .get(&submissions_of(&post), &coordinator)
        .expect_status(200);
    assert_eq!(
        stored.body["items"].as_array().map(Vec::len),
        Some(0),
        "{:#}",
        stored.body
    );
}
