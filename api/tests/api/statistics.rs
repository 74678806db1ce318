//! The statistics grid against counts worked out by hand, on a small dataset with the edge
//! cases that matter: a person with two situations, a minor who turns 18 during the year, a
//! situation with three problems, the period's boundaries. Then CSV, grid files, access, and
//! (when PostgreSQL is available) byte-identical answers from both backends.

use relais_domain::reference::Role;
use relais_persistence::testing::{TestDatabase, postgres_admin_url};
use serde_json::Value;

use crate::support::TestApp;
use crate::support::fixtures::statistics_dataset;

const PERIOD: &str = "from=2025-01-01&to=2025-12-31";

/// `{key: count}` of an indicator's non-zero values, and its total.
fn figures(stats: &Value, id: &str) -> (i64, Vec<(String, i64)>) {
    let indicator = stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id}"));
    let values = indicator["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["count"].as_i64().unwrap() > 0)
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_owned(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect();
    (indicator["total"].as_i64().unwrap(), values)
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// The post's grid of 2025 on the dataset, as its social worker reads it.
fn posts_grid(app: &TestApp) -> Value {
    let (post, sw) = statistics_dataset(app);
    let answer = app.get(&format!("/api/v1/statistics?{PERIOD}&post_id={post}"), &sw);
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.body["grid"], "2026");
    assert!(
        !answer.body.to_string().contains("Martin"),
        "no identity in statistics"
    );
    answer.body
}

#[track_caller]
fn expect(stats: &Value, id: &str, total: i64, values: &[(&str, i64)]) {
    assert_eq!(figures(stats, id), (total, pairs(values)), "{id}");
}

#[test]
fn the_grid_counts_each_person_once_with_their_age_at_their_first_situation() {
    let app = TestApp::init().spawn();
    let stats = &posts_grid(&app);
    expect(stats, "persons", 2, &[]);
    expect(stats, "persons_by_sex", 2, &[("female", 1), ("male", 1)]);
    // Each person once, with their age at their first situation of the period.
    expect(stats, "persons_by_age", 2, &[("13-17", 1), ("60+", 1)]);
    expect(
        stats,
        "persons_by_standing",
        2,
        &[("victim", 1), ("author", 1)],
    );
    expect(
        stats,
        "persons_known_to_social_services",
        2,
        &[("yes", 1), ("no", 1)],
    );
}

#[test]
fn the_grid_counts_situations_opened_in_the_period_by_each_of_their_problems() {
    let app = TestApp::init().spawn();
    let stats = &posts_grid(&app);
    expect(stats, "situations", 3, &[]);
    expect(
        stats,
        "situations_by_origin",
        3,
        &[("police", 1), ("gendarmerie", 1), ("spontaneous", 1)],
    );
    expect(
        stats,
        "situations_by_principal_problem",
        3,
        &[
            ("conjugal_violence", 1),
            ("mental_health", 1),
            ("addiction", 1),
        ],
    );
    // Three problems in one situation: the values add up to more than the total.
    expect(
        stats,
        "situations_by_problem",
        3,
        &[
            ("conjugal_violence", 1),
            ("precarity", 1),
            ("housing", 1),
            ("mental_health", 1),
            ("addiction", 1),
        ],
    );
    expect(stats, "situations_penal", 3, &[("yes", 1), ("no", 2)]);
    expect(
        stats,
        "situations_by_month",
        3,
        &[("03", 1), ("07", 1), ("12", 1)],
    );
}

#[test]
fn the_grid_counts_interventions_of_the_period_and_sent_hand_offs() {
    let app = TestApp::init().spawn();
    let stats = &posts_grid(&app);
    expect(stats, "interventions", 5, &[]);
    expect(
        stats,
        "interventions_by_mode",
        5,
        &[("phone", 4), ("home_visit", 1)],
    );
    expect(
        stats,
        "interventions_by_month",
        5,
        &[("01", 1), ("03", 2), ("07", 1), ("12", 1)],
    );
    expect(stats, "hand_offs", 1, &[]);
    expect(stats, "hand_offs_by_partner_kind", 1, &[("ccas", 1)]);
    expect(stats, "hand_offs_by_outcome", 1, &[("accepted", 1)]);
}

#[test]
fn the_observatory_counts_a_department_the_country_and_a_one_day_period() {
    let app = TestApp::init().spawn();
    statistics_dataset(&app);
    let observatory = app.token(Role::Statistics, &[]);
    let department = app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=07"),
        &observatory,
    );
    assert_eq!(figures(&department.body, "situations"), (3, vec![]));
    let national = app.get(&format!("/api/v1/statistics?{PERIOD}"), &observatory);
    assert_eq!(figures(&national.body, "persons"), (3, vec![]));
    assert_eq!(
        figures(&national.body, "situations_by_origin"),
        (
            4,
            pairs(&[("police", 2), ("gendarmerie", 1), ("spontaneous", 1)])
        )
    );
    // A period of one day, on the boundary.
    let last_day = app.get(
        "/api/v1/statistics?from=2025-12-31&to=2025-12-31&department=07",
        &observatory,
    );
    assert_eq!(
        figures(&last_day.body, "persons_by_age"),
        (1, pairs(&[("60+", 1)]))
    );
}

#[test]
fn the_csv_reads_back_as_the_json() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let path = format!("/api/v1/statistics?{PERIOD}&post_id={post}");
    let json = app.get(&path, &sw).body;
    let response = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {sw}"))
        .set("Accept", "text/csv")
        .call()
        .unwrap();
    assert!(response.content_type().starts_with("text/csv"));
    let bytes = response.into_string().unwrap();
    let text = bytes
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark for spreadsheets");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(0), Some("indicateur"));
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let (id, key, count) = (&record[0], &record[2], record[4].parse::<i64>().unwrap());
        let indicator = json["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap();
        let expected = if key == "total" {
            indicator["total"].as_i64().unwrap()
        } else {
            let value = indicator["values"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["key"] == key)
                .unwrap();
            assert_eq!(&record[3], value["label"].as_str().unwrap());
            value["count"].as_i64().unwrap()
        };
        assert_eq!(count, expected, "{id} {key}");
        rows += 1;
    }
    let expected_rows: usize = json["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| 1 + i["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows, expected_rows);
}

#[test]
fn a_grid_version_from_a_file_is_picked_up() {
    let dir = std::env::temp_dir().join(format!("relais-grids-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("2099.toml"),
        r#"version = "2099-essai"
title = "Grille d'essai"
valid_from = "2099-01-01"
age_brackets = [{ key = "mineur", label = "Mineurs", min = 0, max = 17 }, { key = "majeur", label = "Majeurs", min = 18 }]
[[indicators]]
id = "personnes_par_age"
label = "Personnes par âge"
counts = "persons"
split_by = "age_bracket"
"#,
    )
    .unwrap();
    let app = TestApp::init().with_grids(&dir).spawn();
    let (post, sw) = statistics_dataset(&app);
    let answer = app.get(
        &format!("/api/v1/statistics?grid=2099-essai&{PERIOD}&post_id={post}"),
        &sw,
    );
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let ids: Vec<&str> = answer.body["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["personnes_par_age"]);
    assert_eq!(
        figures(&answer.body, "personnes_par_age"),
        (2, pairs(&[("mineur", 1), ("majeur", 1)]))
    );
    // Without `grid`, the version in force at the start of the period is used.
    assert_eq!(
        app.get(&format!("/api/v1/statistics?{PERIOD}&post_id={post}"), &sw)
            .body["grid"],
        "2026"
    );
    let unknown = app.get(&format!("/api/v1/statistics?grid=1999&{PERIOD}"), &sw);
    unknown.assert_problem(422);
    assert_eq!(unknown.fields(), ["grid"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_role_reads_only_its_scope() {
    let app = TestApp::init().spawn();
    let (mine, other) = (app.create_post("A"), app.create_post("B"));
    let sw = app.token(Role::SocialWorker, &[&mine]);
    app.get(&format!("/api/v1/statistics?{PERIOD}&post_id={other}"), &sw)
        .assert_problem(403);
    app.get(&format!("/api/v1/statistics?{PERIOD}&department=07"), &sw)
        .assert_problem(403);
    assert_eq!(
        app.get(&format!("/api/v1/statistics?{PERIOD}&post_id={mine}"), &sw)
            .status,
        200
    );
    let coordinator = app.token(Role::Coordinator, &[&mine, &other]);
    assert_eq!(
        app.get(
            &format!("/api/v1/statistics?{PERIOD}&post_id={other}"),
            &coordinator
        )
        .status,
        200
    );
    for role in [Role::Admin, Role::Officer, Role::Partner] {
        app.get(
            &format!("/api/v1/statistics?{PERIOD}"),
            &app.token(role, &[]),
        )
        .assert_problem(403);
    }
    let observatory = app.token(Role::Statistics, &[]);
    app.get("/api/v1/situations", &observatory)
        .assert_problem(403);
    app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=20"),
        &observatory,
    )
    .assert_problem(400);
    app.get(
        "/api/v1/statistics?from=2025-12-31&to=2025-01-01",
        &observatory,
    )
    .assert_problem(422);
}

#[test]
fn both_backends_answer_byte_for_byte_alike() {
    let Some(admin_url) = postgres_admin_url() else {
        // Needs both backends at once: runs in the PostgreSQL pass of the suite.
        return;
    };
    let answers: Vec<String> = [TestDatabase::sqlite(), TestDatabase::postgres(admin_url)]
        .into_iter()
        .map(|database| {
            let app = TestApp::init().on_database(database).spawn();
            statistics_dataset(&app);
            let observatory = app.token(Role::Statistics, &[]);
            let response = ureq::get(&format!(
                "{}/api/v1/statistics?{PERIOD}&department=07",
                app.base
            ))
            .set("Authorization", &format!("Bearer {observatory}"))
            .call()
            .unwrap();
            response.into_string().unwrap()
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
}
