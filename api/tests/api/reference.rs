//! What any client reads without a token: reference lists and health.

use relais_domain::reference::LISTS;

use crate::support::{TestApp, contract};

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
    // Every code list of the domain, whole, each code with a French label.
    let served = answer.body.as_object().unwrap();
    assert_eq!(served.len(), LISTS.len(), "{:?}", served.keys());
    for list in LISTS {
        let entries = answer.body[list.list].as_array().unwrap();
        let codes: Vec<&str> = entries
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = (list.entries)().iter().map(|e| e.code).collect();
        assert_eq!(codes, expected, "{}", list.list);
        assert!(
            entries
                .iter()
                .all(|e| !e["label"].as_str().unwrap().is_empty()),
            "{}",
            list.list
        );
    }
    for list in [
        "decline_reasons",
        "hand_off_statuses",
        "event_types",
        "delivery_statuses",
    ] {
        assert!(served.contains_key(list), "{list}");
    }
    contract::assert_matches("Reference", &answer.body);
}

#[test]
fn reference_lists_are_cacheable_and_revalidated_with_their_tag() {
    let app = TestApp::init().spawn();
    let first = app.call("GET", "/api/v1/reference", None, None, &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("public, max-age=86400"));
    let tag = first.header("etag").expect("an ETag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");

    for (if_none_match, status) in [
        (tag.clone(), 304),
        (format!("W/{tag}"), 304),
        (format!("\"other\", {tag}"), 304),
        ("*".to_owned(), 304),
        ("\"other\"".to_owned(), 200),
    ] {
        let again = app.call(
            "GET",
            "/api/v1/reference",
            None,
            None,
            &[("If-None-Match", if_none_match.as_str())],
        );
        assert_eq!(again.status, status, "If-None-Match: {if_none_match}");
        assert_eq!(again.header("etag"), Some(tag.as_str()));
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
