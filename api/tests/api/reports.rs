//! The yearly activity report (`GET /api/v1/reports/activity`): one self-contained HTML page,
//! its charts drawn from the statistics dataset; served with a CSP that lets its style apply,
//! the same bytes for the same data, every indicator of the grid, dated, an empty state, and
//! no report for a year not begun.

use base64::Engine as _;
use chrono::Datelike;
use relais_api::clock::{Clock, SystemClock};
use relais_domain::reference::Role;
use sha2::{Digest, Sha256};

use crate::support::TestApp;
use crate::support::fixtures::{Case, grids_without_suppression, statistics_dataset};

/// The report's page as served: its Content-Security-Policy and its body.
fn report(app: &TestApp, query: &str, token: &str) -> (String, String) {
    let response = ureq::get(&format!("{}/api/v1/reports/activity?{query}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert!(response.content_type().starts_with("text/html"));
    let policy = response
        .header("Content-Security-Policy")
        .unwrap_or_default()
        .to_owned();
    (policy, response.into_string().unwrap())
}

/// The text of every `<style>` element of the page.
fn inline_styles(html: &str) -> Vec<&str> {
    html.split("<style>")
        .skip(1)
        .map(|rest| rest.split_once("</style>").unwrap().0)
        .collect()
}

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
    // Every indicator of the grid, each with its table; a chart for each that splits.
    let grid =
        relais_domain::grid::Grid::from_toml(include_str!("../../../grids/2026.toml")).unwrap();
    let splits = grid
        .indicators
        .iter()
        .filter(|i| i.split_by.is_some())
        .count();
    assert_eq!(svgs, splits);
    for indicator in &grid.indicators {
        let id = &indicator.id;
        let section = html
            .split(&format!(
                "<section class=\"indicator\" data-indicator=\"{id}\">"
            ))
            .nth(1)
            .unwrap_or_else(|| panic!("{id} has no section"));
        let section = section.split("</section>").next().unwrap();
        assert!(
            section.contains(&format!("<table aria-labelledby=\"{id}\">")),
            "{id}"
        );
    }
    // Values in the tables and on the bars: of the 3 situations of 2025, 1 referred by the
    // police; the months of the year, in order.
    let origins = html
        .split("data-indicator=\"situations_by_origin\">")
        .nth(1)
        .unwrap();
    assert!(origins.contains("<tr data-key=\"police\"><th scope=\"row\">Orientation par la police</th><td class=\"n\">1</td><td class=\"n\">33 %</td>"), "{origins}");
    assert!(origins.contains("font-weight=\"bold\">1</text>"));
    let months = html
        .split("data-indicator=\"situations_by_month\">")
        .nth(1)
        .unwrap();
    let (march, december) = (
        months.find("data-key=\"2025-03\"").unwrap(),
        months.find("data-key=\"2025-12\"").unwrap(),
    );
    assert!(march < december);
    // A year over: dated 31 December, no notice.
    assert!(html.contains("<p class=\"as-of\">Données au 31/12/2025</p>"));
    assert!(!html.contains("data-partial-year"));
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

#[test]
fn the_report_is_served_with_a_policy_that_lets_its_style_apply() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let (policy, html) = report(&app, &format!("year=2025&post_id={post}"), &sw);
    let styles = inline_styles(&html);
    assert_eq!(styles.len(), 1, "one stylesheet");
    let hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(styles[0].as_bytes()));
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    assert!(directives.contains(&"default-src 'none'"), "{policy}");
    assert!(
        directives.contains(&format!("style-src 'sha256-{hash}'").as_str()),
        "the policy allows the page's style by the hash of its bytes: {policy}"
    );
    assert!(!policy.contains("unsafe"));
    // Nothing the policy would block: no style attribute, script or external asset.
    for blocked in [" style=", "<script", "<link", "<img", "src="] {
        assert!(!html.contains(blocked), "{blocked}");
    }
    // Other answers keep the strict policy of the API.
    let response = ureq::get(&format!(
        "{}/api/v1/statistics?from=2025-01-01&to=2025-12-31&post_id={post}",
        app.base
    ))
    .set("Authorization", &format!("Bearer {sw}"))
    .call()
    .unwrap();
    assert_eq!(
        response.header("Content-Security-Policy"),
        Some(relais_api::http::protection::API_CSP)
    );
}

#[test]
fn the_same_data_give_the_same_bytes() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let query = format!("year=2025&post_id={post}");
    let first = report(&app, &query, &sw);
    for _ in 0..3 {
        assert!(
            report(&app, &query, &sw) == first,
            "the report changed between two requests"
        );
    }
}

#[test]
fn a_year_not_begun_is_refused_and_a_year_without_activity_says_so() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let next_year = SystemClock.now().year() + 1;
    let refused = app.get(
        &format!("/api/v1/reports/activity?year={next_year}&post_id={post}"),
        &sw,
    );
    refused.assert_problem(422);
    assert_eq!(refused.fields(), ["year"]);

    // 2023: nothing at that post; the key figures say 0, no chart, an empty state.
    let (_, html) = report(&app, &format!("year=2023&post_id={post}"), &sw);
    assert!(
        html.contains("<section class=\"empty\" data-empty=\"2023\">"),
        "{html}"
    );
    assert!(!html.contains("<svg"));
    assert!(html.contains("<div class=\"value\">0</div>"));
}

#[test]
fn a_year_not_over_is_dated_and_compared_with_the_same_days_of_the_previous_year() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let today = SystemClock.now().date_naive();
    let year = today.year();
    let (_, html) = report(
        &app,
        &format!("year={year}&post_id={}", case.post),
        &case.sw,
    );
    let as_of = today.format("%d/%m/%Y").to_string();
    assert!(html.contains(&format!("<p class=\"as-of\">Données au {as_of}</p>")));
    assert!(
        html.contains(&format!("data-partial-year=\"{year}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("par rapport à la même période de {}", year - 1)));
}

#[test]
fn a_department_and_a_coordinators_posts_have_their_report() {
    let app = TestApp::init()
        .with_grids(&grids_without_suppression())
        .spawn();
    let (post, sw) = statistics_dataset(&app);
    let persons = |html: &str| {
        html.split("data-indicator=\"persons\">")
            .nth(1)
            .and_then(|rest| rest.split("<div class=\"value\">").nth(1))
            .and_then(|rest| rest.split('<').next())
            .unwrap()
            .to_owned()
    };
    // The observatory's report of department 07: post A only (post B is in 26).
    let observatory = app.token(Role::Statistics, &[]);
    let (_, html) = report(&app, "year=2025&department=07&source=live", &observatory);
    assert!(html.contains("<p>Département 07 — Ensemble des postes du département</p>"));
    assert_eq!(persons(&html), "2");
    let (_, html) = report(&app, "year=2025&source=live", &observatory);
    assert_eq!(persons(&html), "3", "the whole country");
    app.get("/api/v1/reports/activity?year=2025&department=07", &sw)
        .assert_problem(403);

    // A coordinator of both posts: one report of the two, named by the posts.
    let posts = app
        .get("/api/v1/posts", &app.admin())
        .expect_status(200)
        .body;
    let ids: Vec<String> = posts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let coordinator = app.token(Role::Coordinator, &[&ids[0], &ids[1]]);
    let (_, html) = report(&app, "year=2025", &coordinator);
    assert!(
        html.contains("<p>2 postes — Privas (07), Valence (26)</p>"),
        "{html}"
    );
    assert_eq!(persons(&html), "3");
    // And of one of them, as before.
    let (_, html) = report(&app, &format!("year=2025&post_id={post}"), &coordinator);
    assert_eq!(persons(&html), "2");
}
