//! The yearly activity report (`GET /api/v1/reports/activity`): one self-contained HTML page,
//! its charts drawn from the statistics dataset.

use relais_domain::reference::Role;

use crate::support::TestApp;
use crate::support::fixtures::statistics_dataset;

#[test]
fn the_activity_report_is_a_self_contained_page_with_its_charts() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let response = ureq::get(&format!(
        "{}/api/v1/reports/activity?year=2025&post_id={post}",
        app.base
    ))
    .set("Authorization", &format!("Bearer {sw}"))
    .call()
    .unwrap();
    assert!(response.content_type().starts_with("text/html"));
    let html = response.into_string().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"fr\">"));

    // Well-formed from end to end: every element closed, every SVG readable.
    let mut reader = quick_xml::Reader::from_str(&html);
    let (mut svgs, mut depth) = (0, 0_i32);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                depth += 1;
                if e.name().as_ref() == b"svg" {
                    svgs += 1;
                }
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "the report is not well-formed at {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(
        svgs, 9,
        "problems, origins, age, sex, partner kinds, outcomes, results, answer delays, months"
    );
    for chart in [
        "situations_by_problem",
        "situations_by_origin",
        "persons_by_age",
        "situations_by_month",
        "hand_offs_by_result",
        "hand_offs_by_answer_delay",
    ] {
        assert!(
            html.contains(&format!("data-indicator=\"{chart}\"")),
            "{chart}"
        );
    }
    // Key figures with their change on 2024 (one person, one situation, one intervention then).
    assert!(html.contains("data-indicator=\"persons\"><div class=\"label\">Personnes reçues</div><div class=\"value\">2</div><div class=\"change\">+100 % par rapport à 2024 (1)"));
    assert!(html.contains(
        "<div class=\"value\">3</div><div class=\"change\">+200 % par rapport à 2024 (1)"
    ));
    // Nothing fetched from elsewhere, and no identity.
    for external in ["<script", "<link", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(!html.contains("Martin"));

    let other = app.create_post("Other");
    let outsider = app.token(Role::SocialWorker, &[&other]);
    app.get(
        &format!("/api/v1/reports/activity?year=2025&post_id={post}"),
        &outsider,
    )
    .assert_problem(403);
    let observatory = app.token(Role::Statistics, &[]);
    let read = ureq::get(&format!(
        "{}/api/v1/reports/activity?year=2025&post_id={post}",
        app.base
    ))
    .set("Authorization", &format!("Bearer {observatory}"))
    .call()
    .unwrap();
    assert_eq!(read.status(), 200);
}
