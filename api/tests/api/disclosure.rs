//! Disclosure control: what the observatory reads of a post, a department or the country. Small
//! counts are suppressed after aggregation, with whatever would let one be recomputed; periods
//! are whole months; a post's own social workers read exact figures. The attack test tries to
//! recover every suppressed cell from totals and siblings, with linear algebra, and must fail.

use std::collections::BTreeMap;

use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{intervene, open_situation, sent_hand_off, situation_of};

const K: i64 = 5;

/// The issue's example: one girl of 16, victim of sexual violence, received on 7 October 2026.
fn one_person_post(app: &TestApp) -> (String, String) {
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let mut body = situation_of(
        &post,
        "2026-10-07",
        "police",
        "victim",
        true,
        &["sexual_violence"],
    );
    body["beneficiary"] =
        json!({"birth_date": "2010-05-01", "sex": "female", "known_to_social_services": "no"});
    open_situation(app, &sw, body);
    (post, sw)
}

fn indicator<'a>(stats: &'a Value, id: &str) -> &'a Value {
    stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id}"))
}

fn value<'a>(stats: &'a Value, id: &str, key: &str) -> &'a Value {
    indicator(stats, id)["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("{id}/{key}"))
}

/// Every published count of `stats` (totals and values), `None` when suppressed, by cell name
/// (`persons/total`, `persons/sex/female`): cells of indicators that split the same thing the same
/// way are the same cell.
fn cells(stats: &Value) -> BTreeMap<String, Option<i64>> {
    let mut cells = BTreeMap::new();
    for indicator in stats["indicators"].as_array().unwrap() {
        let counts = indicator["counts"].as_str().unwrap();
        cells.insert(format!("{counts}/total"), indicator["total"].as_i64());
        if let Some(split) = indicator["split_by"].as_str() {
            for v in indicator["values"].as_array().unwrap() {
                cells.insert(
                    format!("{counts}/{split}/{}", v["key"].as_str().unwrap()),
                    v["count"].as_i64(),
                );
            }
        }
    }
    cells
}

/// What a reader knows adds up, written from the grid's definitions (not from the code under
/// test): each split that does not overlap adds up to the total of what it counts, which every
/// indicator counting the same thing shares; the hand-offs' results other than `not_completed`
/// add up to the `completed` outcome. Each equation: cells with their signs summing to zero.
fn equations(stats: &Value) -> Vec<Vec<(String, f64)>> {
    let mut equations = Vec::new();
    let mut coded_results = Vec::new();
    for indicator in stats["indicators"].as_array().unwrap() {
        let counts = indicator["counts"].as_str().unwrap();
        let Some(split) = indicator["split_by"].as_str() else {
            continue;
        };
        let names: Vec<(String, String)> = indicator["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let key = v["key"].as_str().unwrap().to_owned();
                (format!("{counts}/{split}/{key}"), key)
            })
            .collect();
        if split != "problem" {
            let mut equation: Vec<(String, f64)> =
                names.iter().map(|(name, _)| (name.clone(), 1.0)).collect();
            equation.push((format!("{counts}/total"), -1.0));
            equations.push(equation);
        }
        if split == "hand_off_result" {
            coded_results = names
                .into_iter()
                .filter(|(_, key)| key != "not_completed")
                .map(|(name, _)| (name, 1.0))
                .collect();
        }
    }
    if !coded_results.is_empty() {
        coded_results.push(("hand_offs/hand_off_outcome/completed".into(), -1.0));
        equations.push(coded_results);
    }
    equations
}

/// The suppressed cells the equations give exactly: reduce the system over the unknowns (the
/// published cells are constants) to row echelon form; a row left with one unknown gives it.
fn recoverable(stats: &Value) -> Vec<String> {
    let cells = cells(stats);
    let unknowns: Vec<&String> = cells
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(name, _)| name)
        .collect();
    let mut rows: Vec<Vec<f64>> = equations(stats)
        .iter()
        .map(|equation| {
            let mut row = vec![0.0; unknowns.len()];
            for (name, sign) in equation {
                if let Some(c) = unknowns.iter().position(|u| *u == name) {
                    row[c] += sign;
                }
            }
            row
        })
        .collect();
    let mut rank = 0;
    for column in 0..unknowns.len() {
        let Some(pivot) = (rank..rows.len()).find(|&r| rows[r][column].abs() > 1e-9) else {
            continue;
        };
        rows.swap(rank, pivot);
        let lead = rows[rank][column];
        rows[rank].iter_mut().for_each(|v| *v /= lead);
        let pivot_row = rows[rank].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            let factor = row[column];
            if r != rank && factor.abs() > 1e-9 {
                row.iter_mut()
                    .zip(&pivot_row)
                    .for_each(|(v, p)| *v -= factor * p);
            }
        }
        rank += 1;
    }
    rows.iter()
        .filter_map(|row| {
            let live: Vec<usize> = (0..row.len()).filter(|&c| row[c].abs() > 1e-9).collect();
            (live.len() == 1).then(|| unknowns[live[0]].clone())
        })
        .collect()
}

/// `stats` with only its counts from 1 to k - 1 hidden: primary suppression alone.
fn primary_only(stats: &Value) -> Value {
    let mut hidden = stats.clone();
    let small = |n: &Value| n.as_i64().is_some_and(|n| n > 0 && n < K);
    for indicator in hidden["indicators"].as_array_mut().unwrap() {
        if small(&indicator["total"]) {
            indicator["total"] = Value::Null;
        }
        for v in indicator["values"].as_array_mut().unwrap() {
            if small(&v["count"]) {
                v["count"] = Value::Null;
            }
        }
    }
    hidden
}

#[test]
fn the_issues_example_is_refused_for_a_day_and_suppressed_for_its_month() {
    let app = TestApp::init().spawn();
    let (post, _) = one_person_post(&app);
    let observatory = app.token(Role::Statistics, &[]);
    let day = app.get(
        &format!("/api/v1/statistics?from=2026-10-07&to=2026-10-07&post_id={post}"),
        &observatory,
    );
    assert_eq!(day.status, 422, "{:#}", day.body);
    assert_eq!(day.body["errors"][0]["field"], "from");
    assert_eq!(day.body["errors"][0]["code"], "not_whole_months");
    let week = app.get(
        &format!("/api/v1/statistics?from=2026-10-01&to=2026-10-07&post_id={post}"),
        &observatory,
    );
    assert_eq!(week.status, 422);
    assert_eq!(week.body["errors"][0]["field"], "to");
    for query in [
        format!("post_id={post}"),
        "department=07".to_owned(),
        String::new(),
    ] {
        let month = app.get(
            &format!("/api/v1/statistics?from=2026-10-01&to=2026-10-31&source=live&{query}"),
            &observatory,
        );
        assert_eq!(month.status, 200, "{:#}", month.body);
        let stats = &month.body;
        assert_eq!(stats["disclosure_control"]["k"], K, "{query}");
        assert!(
            stats["disclosure_control"]["note"]
                .as_str()
                .unwrap()
                .contains("de 1 à 4")
        );
        assert_eq!(indicator(stats, "persons")["total"], Value::Null);
        assert_eq!(indicator(stats, "persons")["total_suppressed"], true);
        for (id, key) in [
            ("persons_by_sex", "female"),
            ("persons_by_age", "13-17"),
            ("situations_by_principal_problem", "sexual_violence"),
            ("situations_by_problem", "sexual_violence"),
        ] {
            assert_eq!(value(stats, id, key)["count"], Value::Null, "{id}/{key}");
            assert_eq!(value(stats, id, key)["suppressed"], true, "{id}/{key}");
        }
        // Zeros are published: nobody is singled out by "nobody".
        assert_eq!(value(stats, "persons_by_sex", "male")["count"], 0);
        assert!(
            value(stats, "persons_by_sex", "male")
                .get("suppressed")
                .is_none()
        );
        // No count from 1 to k - 1 anywhere.
        for (name, n) in cells(stats) {
            assert!(n.is_none_or(|n| n == 0 || n >= K), "{name} = {n:?}");
        }
    }
}

#[test]
fn a_posts_own_social_workers_and_coordinators_read_exact_figures_over_any_period() {
    let app = TestApp::init().spawn();
    let (post, sw) = one_person_post(&app);
    let coordinator = app.token(Role::Coordinator, &[&post]);
    for token in [&sw, &coordinator] {
        let day = app.get(
            &format!("/api/v1/statistics?from=2026-10-07&to=2026-10-07&post_id={post}"),
            token,
        );
        assert_eq!(day.status, 200, "{:#}", day.body);
        assert!(day.body.get("disclosure_control").is_none());
        assert_eq!(indicator(&day.body, "persons")["total"], 1);
        assert_eq!(value(&day.body, "persons_by_sex", "female")["count"], 1);
        assert_eq!(value(&day.body, "persons_by_age", "13-17")["count"], 1);
    }
}

/// Fourteen persons at one post in March 2026, spread so that some groups have one small cell,
/// some two, some none; their interventions; one hand-off, sent.
fn spread_post(app: &TestApp) -> (String, String) {
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let partner = app.create_partner("CCAS", "ccas");
    for i in 0..14 {
        let origin = match i {
            0..8 => "police",
            8..12 => "gendarmerie",
            _ => "spontaneous",
        };
        let standing = match i {
            0..10 => "victim",
            10..13 => "author",
            _ => "both",
        };
        let problems: &[&str] = match i {
            0..6 => &["conjugal_violence", "precarity"],
            6..11 => &["precarity"],
            11..13 => &["housing", "addiction"],
            _ => &["mental_health"],
        };
        let day = format!("2026-03-{:02}", i + 2);
        let mut body = situation_of(&post, &day, origin, standing, i % 3 == 0, problems);
        body["beneficiary"] = match i {
            0..8 => {
                json!({"birth_year": 1980 + i, "sex": "female", "known_to_social_services": "no"})
            }
            8..13 => json!({"birth_year": 2009, "sex": "male", "known_to_social_services": "yes"}),
            _ => json!({"sex": "unspecified"}),
        };
        let situation = open_situation(app, &sw, body);
        intervene(
            app,
            &sw,
            &situation,
            &day,
            if i < 11 { "phone" } else { "home_visit" },
        );
        if i == 0 {
            sent_hand_off(
                app,
                &sw,
                &situation,
                &partner,
                json!(["identity"]),
                json!({}),
            );
        }
    }
    (post, sw)
}

#[test]
fn no_suppressed_cell_can_be_recovered_from_totals_and_siblings() {
    let app = TestApp::init().spawn();
    let (post, sw) = spread_post(&app);
    let period = "from=2026-03-01&to=2026-03-31";
    let exact = app
        .get(&format!("/api/v1/statistics?{period}&post_id={post}"), &sw)
        .expect_status(200)
        .body;
    let observatory = app.token(Role::Statistics, &[]);
    let published = app
        .get(
            &format!("/api/v1/statistics?{period}&source=live&post_id={post}"),
            &observatory,
        )
        .expect_status(200)
        .body;
    let (exact_cells, published_cells) = (cells(&exact), cells(&published));
    assert_eq!(exact_cells["persons/total"], Some(14));

    // The reader's equations hold on the exact figures: the attack below uses true relations.
    for equation in equations(&exact) {
        let sum: f64 = equation
            .iter()
            .map(|(name, sign)| sign * exact_cells[name].unwrap() as f64)
            .sum();
        assert!(sum.abs() < 1e-9, "{equation:?} does not add up");
    }
    // Suppression hides, never alters: what is published is exact; every small count is hidden.
    for (name, n) in &exact_cells {
        match published_cells[name] {
            Some(shown) => assert_eq!(Some(shown), *n, "{name}"),
            None => assert_ne!(*n, Some(0), "{name}: a zero hidden needlessly"),
        }
        if n.is_some_and(|n| n > 0 && n < K) {
            assert_eq!(published_cells[name], None, "{name} = {n:?} published");
        }
    }
    // The attack works: with primary suppression alone, it recovers cells (e.g. the one
    // unspecified sex from 14 − 8 − 5)...
    let naive = recoverable(&primary_only(&exact));
    assert!(
        naive.contains(&"persons/sex/unspecified".to_owned()),
        "{naive:?}"
    );
    // ...and recovers nothing of what is published.
    assert_eq!(recoverable(&published), Vec::<String>::new());
    // Secondary suppression hid something beyond the small counts.
    let hidden_big = published_cells
        .iter()
        .filter(|(name, n)| n.is_none() && exact_cells[*name].is_some_and(|n| n >= K))
        .count();
    assert!(hidden_big > 0);
}

fn download(app: &TestApp, path: &str, token: &str, accept: &str) -> Vec<u8> {
    let response = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    bytes
}

#[test]
fn csv_and_xlsx_write_suppressed_counts_as_under_k() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let app = TestApp::init().spawn();
    let (post, sw) = one_person_post(&app);
    let observatory = app.token(Role::Statistics, &[]);
    let path =
        format!("/api/v1/statistics?from=2026-10-01&to=2026-10-31&source=live&post_id={post}");
    let csv = String::from_utf8(download(&app, &path, &observatory, "text/csv")).unwrap();
    assert!(
        csv.contains("\npersons;Nombre de personnes reçues;total;Total;<5"),
        "{csv}"
    );
    assert!(csv.contains(";female;Femme;<5"), "{csv}");
    assert!(csv.contains(";male;Homme;0"), "{csv}");
    // The post's own social worker's file is exact.
    let own = String::from_utf8(download(&app, &path, &sw, "text/csv")).unwrap();
    assert!(own.contains(";female;Femme;1"), "{own}");
    assert!(!own.contains("<5"));

    let bytes = download(
        &app,
        &path,
        &observatory,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    );
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range("Statistiques").unwrap();
    let cell = |row: u32, column: u32| sheet.get_value((row, column)).cloned().unwrap_or_default();
    assert_eq!(cell(5, 0), Data::String("Secret statistique".into()));
    let rows: Vec<(Data, Data, Data)> = (7..sheet.height() as u32)
        .map(|row| (cell(row, 0), cell(row, 2), cell(row, 4)))
        .collect();
    let find = |id: &str, key: &str| {
        rows.iter()
            .find(|(i, k, _)| *i == Data::String(id.into()) && *k == Data::String(key.into()))
            .map(|(_, _, n)| n.clone())
            .unwrap()
    };
    assert_eq!(find("persons", "total"), Data::String("<5".into()));
    assert_eq!(find("persons_by_sex", "female"), Data::String("<5".into()));
    assert_eq!(find("persons_by_sex", "male"), Data::Float(0.0));
}

#[test]
fn the_observatorys_activity_report_of_a_department_is_suppressed_too() {
    let app = TestApp::init().spawn();
    let (post, sw) = one_person_post(&app);
    let observatory = app.token(Role::Statistics, &[]);
    // 2026 is not over: the observatory's report stops at the end of the last whole month.
    let html = String::from_utf8(download(
        &app,
        "/api/v1/reports/activity?year=2026&department=07&source=live",
        &observatory,
        "text/html",
    ))
    .unwrap();
    assert!(html.contains("data-disclosure-k=\"5\""), "{html}");
    assert!(
        html.contains("data-indicator=\"persons\"><div class=\"label\">Personnes reçues</div><div class=\"value\">&lt;5</div>"),
        "{html}"
    );
    assert!(!html.contains("<td class=\"n\">1</td>"), "{html}");
    // The post's own report is exact.
    let own = String::from_utf8(download(
        &app,
        &format!("/api/v1/reports/activity?year=2026&post_id={post}"),
        &sw,
        "text/html",
    ))
    .unwrap();
    assert!(!own.contains("data-disclosure-k"));
    assert!(own.contains("<div class=\"value\">1</div>"), "{own}");
}
