//! Posts: administrators manage them; a post's staff read their own; stale writes are refused.

use relais_domain::reference::Role;
use serde_json::json;

use crate::support::TestApp;
use crate::support::fixtures::post_body;
use crate::support::snapshots::redacted;

#[test]
fn an_administrator_creates_a_post_with_location_and_etag() {
    let app = TestApp::init().spawn();
    let answer = app.post("/api/v1/posts", &app.admin(), post_body("ISCG Privas"));
    assert_eq!(answer.status, 201);
    assert_eq!(
        answer.location,
        Some(format!("/api/v1/posts/{}", answer.id()))
    );
    assert_eq!(answer.etag.as_deref(), Some("\"1\""));
    assert_eq!(answer.body["department_code"], "07");
    let read = app.get(answer.location.as_deref().unwrap(), &app.admin());
    assert_eq!(read.body, answer.body);
}

#[test]
fn invalid_posts_name_every_field_and_write_nothing() {
    let app = TestApp::init().spawn();
    let answer = app.post(
        "/api/v1/posts",
        &app.admin(),
        json!({"name": " ", "kind": "mixed", "department_code": "20", "employer": "E", "convention": "state"}),
    );
    answer.assert_problem(422);
    assert_eq!(answer.fields(), ["name", "department_code"]);
    let unknown_code = app.post("/api/v1/posts", &app.admin(), json!({"name": "P", "kind": "navy", "department_code": "07", "employer": "E", "convention": "state"}));
    unknown_code.assert_problem(422);
    assert_eq!(unknown_code.fields(), ["kind"]);
    assert_eq!(
        app.get("/api/v1/posts", &app.admin()).body["items"],
        json!([])
    );
}

#[test]
fn only_administrators_create_posts() {
    let app = TestApp::init().spawn();
    let post = app.create_post("A");
    let social_worker = app.token(Role::SocialWorker, &[&post]);
    app.post("/api/v1/posts", &social_worker, post_body("B"))
        .assert_problem(403);
}

#[test]
fn staff_read_only_their_own_posts() {
    let app = TestApp::init().spawn();
    let (mine, other) = (app.create_post("Mine"), app.create_post("Other"));
    let social_worker = app.token(Role::SocialWorker, &[&mine]);
    let list = app.get("/api/v1/posts", &social_worker);
    let ids: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!(
        app.get(&format!("/api/v1/posts/{mine}"), &social_worker)
            .status,
        200
    );
    app.get(&format!("/api/v1/posts/{other}"), &social_worker)
        .assert_problem(404);
    app.get("/api/v1/posts", &app.token(Role::Officer, &[]))
        .assert_problem(403);
}

#[test]
fn replacing_a_post_needs_the_current_version() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Before");
    let path = format!("/api/v1/posts/{post}");
    app.put(&path, &app.admin(), None, post_body("After"))
        .assert_problem(428);
    let replaced = app.put(&path, &app.admin(), Some("\"1\""), post_body("After"));
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.etag.as_deref(), Some("\"2\""));
    assert_eq!(replaced.body["name"], "After");
    let stale = app.put(&path, &app.admin(), Some("\"1\""), post_body("Lost update"));
    stale.assert_problem(412);
    assert_eq!(app.get(&path, &app.admin()).body["name"], "After");
    app.put(&path, &app.admin(), Some("one"), post_body("x"))
        .assert_problem(400);
}

#[test]
fn posts_page_with_a_cursor() {
    let app = TestApp::init().spawn();
    let created: Vec<String> = (0..5).map(|i| app.create_post(&format!("P{i}"))).collect();
    let first = app.get("/api/v1/posts?limit=2", &app.admin());
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app.get(
        &format!("/api/v1/posts?limit=2&cursor={cursor}"),
        &app.admin(),
    );
    let third = app.get(
        &format!(
            "/api/v1/posts?limit=2&cursor={}",
            second.body["next_cursor"].as_str().unwrap()
        ),
        &app.admin(),
    );
    assert!(third.body["next_cursor"].is_null());
    let seen: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|page| {
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let newest_first: Vec<String> = created.into_iter().rev().collect();
    assert_eq!(seen, newest_first);
    let bad = app.get("/api/v1/posts?limit=500", &app.admin());
    bad.assert_problem(400);
    assert_eq!(bad.fields(), ["limit"]);
    let bad_cursor = app.get("/api/v1/posts?cursor=abc", &app.admin());
    bad_cursor.assert_problem(400);
    assert_eq!(bad_cursor.fields(), ["cursor"]);
}

/// The problems a client of posts meets, whole: a validation problem with its field errors,
/// a missing post, a stale version. Snapshots, so that a field added to (or dropped from) the
/// problem+json body shows up here.
#[test]
fn a_validation_problem_lists_each_field_with_its_error() {
    let app = TestApp::init().spawn();
    let answer = app.post(
        "/api/v1/posts",
        &app.admin(),
        json!({"name": " ", "kind": "mixed", "department_code": "20", "employer": "E", "convention": "state"}),
    );
    answer.assert_problem(422);
    redacted().bind(|| insta::assert_json_snapshot!("validation_problem", answer.body));
}

#[test]
fn a_missing_post_is_a_404_problem() {
    let app = TestApp::init().spawn();
    let answer = app.get(
        "/api/v1/posts/01936b2e-7c4a-7f00-8000-000000000001",
        &app.admin(),
    );
    answer.assert_problem(404);
    redacted().bind(|| insta::assert_json_snapshot!("not_found_problem", answer.body));
}

#[test]
fn a_stale_version_is_a_412_problem() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Before");
    let path = format!("/api/v1/posts/{post}");
    app.put(&path, &app.admin(), Some("\"1\""), post_body("After"))
        .expect_status(200);
    let stale = app.put(&path, &app.admin(), Some("\"1\""), post_body("Lost update"));
    stale.assert_problem(412);
    redacted().bind(|| insta::assert_json_snapshot!("stale_version_problem", stale.body));
}

/// `If-Match` as RFC 9110 writes it, on a replace: `*`, one tag, a list, a weak tag; 412 naming
/// the current version when none matches, 428 without the header, 400 when unreadable.
#[test]
fn a_replace_honours_if_match_as_rfc_9110_writes_it() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let id = app
        .post("/api/v1/posts", &admin, post_body("ISCG Privas"))
        .expect_status(201)
        .id();
    let path = format!("/api/v1/posts/{id}");
    let replace = |if_match: Option<&str>, name: &str| {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
        app.call("PUT", &path, Some(&admin), Some(&post_body(name)), &headers)
    };
    // Version 1 → 2 → 3 → 4 → 5, each accepted form moving it on by one.
    for (if_match, etag_after) in [
        ("\"1\"", "\"2\""),
        ("\"7\", \"2\"", "\"3\""),
        ("W/\"3\"", "\"4\""),
        ("*", "\"5\""),
    ] {
        let answer = replace(Some(if_match), "ISCG Privas-Aubenas");
        assert_eq!(
            answer.status, 200,
            "If-Match: {if_match}: {:#}",
            answer.body
        );
        assert_eq!(
            answer.header("etag"),
            Some(etag_after),
            "If-Match: {if_match}"
        );
    }
    let stale = replace(Some("\"1\", \"2\""), "Trop tard");
    stale.assert_problem(412);
    assert!(
        stale.body["detail"].as_str().unwrap().contains('5'),
        "{:#}",
        stale.body
    );
    replace(None, "Sans version").assert_problem(428);
    let unreadable = replace(Some("1"), "Sans guillemets");
    unreadable.assert_problem(400);
    assert_eq!(unreadable.fields(), ["If-Match"]);
    assert_eq!(
        app.get(&path, &admin).body["name"],
        "ISCG Privas-Aubenas",
        "no refused write changed the post"
    );
}
