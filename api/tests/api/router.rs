//! The router's fallbacks: a path the API does not have is a 404 problem, a known path called
//! with another method a 405 problem naming the methods it has.

use crate::support::TestApp;

#[test]
fn unknown_routes_answer_problem_json() {
    let app = TestApp::init().spawn();
    app.call("GET", "/api/v1/nothing-here", None, None, &[])
        .assert_problem(404);
}

#[test]
fn a_known_path_called_with_another_method_answers_405_with_allow() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let id = app.create_post("ISCG Privas");
    let answer = app.call(
        "DELETE",
        &format!("/api/v1/posts/{id}"),
        Some(&admin),
        None,
        &[],
    );
    answer.assert_problem(405);
    assert_eq!(answer.allow.as_deref(), Some("GET, HEAD, PUT"));
    let answer = app.call("TRACE", "/api/v1/posts", Some(&admin), None, &[]);
    answer.assert_problem(405);
    assert_eq!(answer.allow.as_deref(), Some("GET, HEAD, POST"));
    // The literal path wins over `/partners/{id}`.
    let answer = app.call(
        "PUT",
        "/api/v1/partners/export/hsds",
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(
        (answer.status, answer.allow.as_deref()),
        (405, Some("GET, HEAD"))
    );
    // A path the API does not have stays 404.
    let answer = app.call("GET", "/api/v1/nothing-here", Some(&admin), None, &[]);
    answer.assert_problem(404);
    assert_eq!(answer.allow, None);
}
