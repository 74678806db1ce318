//! What any client reads without a token: reference lists and health.

use crate::support::TestApp;

#[test]
fn reference_lists_carry_codes_and_french_labels() {
    let app = TestApp::init().spawn();
    let answer = app.call("GET", "/api/v1/reference", None, None, &[]);
    assert_eq!(answer.status, 200);
    let problems = answer.body["problem_categories"].as_array().unwrap();
    assert_eq!(problems.len(), 17);
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "conjugal_violence" && p["label"] == "Violences conjugales")
    );
    for list in [
        "origins",
        "referring_services",
        "standings",
        "sexes",
        "known_to_social_services",
        "situation_statuses",
        "closing_reasons",
        "intervention_modes",
        "intervention_kinds",
        "post_kinds",
        "conventions",
        "unit_kinds",
        "roles",
    ] {
        assert!(!answer.body[list].as_array().unwrap().is_empty(), "{list}");
    }
}

#[test]
fn health_checks_the_database() {
    let app = TestApp::init().spawn();
    let answer = app.call("GET", "/health", None, None, &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "ok");
    let expected = if std::env::var("RELAIS_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(answer.body["database"], expected);
}
