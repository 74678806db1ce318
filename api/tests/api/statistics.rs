//! The statistics grid against counts worked out by hand, on a small dataset with the edge
//! cases that matter: a person with two situations, a minor who turns 18 during the year, a
//! situation with three problems, the period's boundaries. Then CSV, grid files, access, and
//! (when PostgreSQL is available) byte-identical answers from both backends.

use relais_api::clock::{Clock, SystemClock};
use relais_api::workflows::hand_offs::Move;
use relais_domain::access::Principal;
use relais_domain::reference::{DeclineReason, HandOffResult, Role};
use relais_domain::version::Expected;
use relais_persistence::testing::{TestDatabase, postgres_admin_url};
use relais_persistence::{hand_offs, situations};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{
    Case, act, grids_without_suppression, intervene, open_situation, situation_of,
    statistics_dataset,
};

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
        &[("2025-03", 1), ("2025-07", 1), ("2025-12", 1)],
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
        &[
            ("2025-01", 1),
            ("2025-03", 2),
            ("2025-07", 1),
            ("2025-12", 1),
        ],
    );
    expect(stats, "hand_offs", 1, &[]);
    expect(stats, "hand_offs_by_partner_kind", 1, &[("ccas", 1)]);
    expect(stats, "hand_offs_by_outcome", 1, &[("accepted", 1)]);
}

#[test]
fn the_observatory_counts_a_department_the_country_and_a_month() {
    let app = TestApp::init()
        .with_grids(&grids_without_suppression())
        .spawn();
    statistics_dataset(&app);
    let observatory = app.token(Role::Statistics, &[]);
    let department = app.get(
        &format!("/api/v1/statistics?{PERIOD}&department=07&source=live"),
        &observatory,
    );
    assert_eq!(figures(&department.body, "situations"), (3, vec![]));
    let national = app.get(
        &format!("/api/v1/statistics?{PERIOD}&source=live"),
        &observatory,
    );
    assert_eq!(figures(&national.body, "persons"), (3, vec![]));
    assert_eq!(
        figures(&national.body, "situations_by_origin"),
        (
            4,
            pairs(&[("police", 2), ("gendarmerie", 1), ("spontaneous", 1)])
        )
    );
    // A month, whose last day is the boundary (the observatory reads whole months).
    let last_day = app.get(
        "/api/v1/statistics?from=2025-12-01&to=2025-12-31&department=07&source=live",
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
    assert_eq!(
        response.header("Content-Disposition"),
        Some(
            format!("attachment; filename=\"statistiques-poste-{post}-2025-01-01-2025-12-31.csv\"")
                .as_str()
        )
    );
    let bytes = response.into_string().unwrap();
    assert!(
        bytes.contains(";\"=\"\"60+\"\"\";60 ans et plus;1\r\n")
            || bytes.contains(";\"=\"\"60+\"\"\";60 ans et plus;1\n"),
        "{bytes}"
    );
    assert!(
        bytes.contains(";\"=\"\"2025-03\"\"\";mars 2025;1"),
        "{bytes}"
    );
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
        // Codes a spreadsheet would read as numbers or dates are written as text formulas.
        let key = match record[2].strip_prefix("=\"") {
            Some(quoted) => quoted.strip_suffix('"').unwrap(),
            None => &record[2],
        };
        assert!(key.starts_with(|c: char| c.is_ascii_alphabetic()) || record[2].starts_with('='));
        let (id, count) = (&record[0], record[4].parse::<i64>().unwrap());
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
    // Exact figures and the published ones (with suppression), alike on both backends.
    for grids in [Some(grids_without_suppression()), None] {
        let answers: Vec<String> = [
            TestDatabase::sqlite(),
            TestDatabase::postgres(admin_url.clone()),
        ]
        .into_iter()
        .map(|database| {
            let mut app = TestApp::init().on_database(database);
            if let Some(dir) = &grids {
                app = app.with_grids(dir);
            }
            let app = app.spawn();
            statistics_dataset(&app);
            let observatory = app.token(Role::Statistics, &[]);
            let response = ureq::get(&format!(
                "{}/api/v1/statistics?{PERIOD}&department=07&source=live",
                app.base
            ))
            .set("Authorization", &format!("Bearer {observatory}"))
            .call()
            .unwrap();
            response.into_string().unwrap()
        })
        .collect();
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].contains("\"suppressed\":true"), grids.is_none());
    }
}

/// Moves the hand-off `id` as its partner, `days` after now, through the handlers' workflow.
fn partner_moves(
    app: &TestApp,
    partner: &str,
    id: &str,
    workflow: relais_api::workflows::hand_offs::MoveWorkflow,
    details: Move,
    days: i64,
) {
    let partner = Principal {
        subject: "partner-system".into(),
        role: Role::Partner,
        post_ids: vec![],
        unit_id: None,
        partner_id: Some(partner.parse().unwrap()),
    };
    let at = SystemClock.now() + chrono::Duration::days(days);
    app.db
        .write(|conn| {
            workflow(
                conn,
                &partner,
                id.parse().unwrap(),
                &Expected::Any,
                &details,
                at,
            )
        })
        .unwrap();
}

#[test]
fn the_grid_counts_what_became_of_the_hand_offs_and_how_fast_partners_answered() {
    use relais_api::workflows::hand_offs::{accept, acknowledge, complete, decline};
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS", "ccas");
    let sent: Vec<String> = (0..5)
        .map(|_| case.sent_hand_off(&app, &partner, json!(["identity"])))
        .collect();
    let completed = |result| Move {
        result: Some(result),
        outcome: Some("Fait".into()),
        ..Move::default()
    };
    // Answered the next day, then completed: supported, 0–2 days.
    partner_moves(&app, &partner, &sent[0], acknowledge, Move::default(), 0);
    partner_moves(&app, &partner, &sent[0], accept, Move::default(), 1);
    let supported = completed(HandOffResult::Supported);
    partner_moves(&app, &partner, &sent[0], complete, supported, 5);
    // Declined on day 10: 8–15 days, not completed.
    let no_capacity = Move {
        reason: Some(DeclineReason::NoCapacity),
        ..Move::default()
    };
    partner_moves(&app, &partner, &sent[1], acknowledge, Move::default(), 2);
    partner_moves(&app, &partner, &sent[1], decline, no_capacity, 10);
    // Accepted on day 31, the person never reached.
    partner_moves(&app, &partner, &sent[2], acknowledge, Move::default(), 30);
    partner_moves(&app, &partner, &sent[2], accept, Move::default(), 31);
    let not_reached = completed(HandOffResult::PersonNotReached);
    partner_moves(&app, &partner, &sent[2], complete, not_reached, 40);
    // Acknowledged on day 1, accepted on day 7: the answer is the acceptance, 3–7 days.
    partner_moves(&app, &partner, &sent[3], acknowledge, Move::default(), 1);
    partner_moves(&app, &partner, &sent[3], accept, Move::default(), 7);
    // sent[4] is never answered.

    // Hand-offs count with their situation, opened on 2026-03-14.
    let grid_of_the_day = || {
        app.get(
            &format!(
                "/api/v1/statistics?from=2026-03-14&to=2026-03-14&post_id={}",
                case.post
            ),
            &case.sw,
        )
        .expect_status(200)
        .body
    };
    let stats = grid_of_the_day();
    expect(
        &stats,
        "hand_offs_by_result",
        5,
        &[
            ("supported", 1),
            ("person_not_reached", 1),
            ("not_completed", 3),
        ],
    );
    expect(
        &stats,
        "hand_offs_by_answer_delay",
        5,
        &[
            ("0-2", 1),
            ("3-7", 1),
            ("8-15", 1),
            ("31+", 1),
            ("unanswered", 1),
        ],
    );
    // The grid reads the first sending and answer the database keeps on each hand-off: they are
    // the recount of the transitions the workflows wrote.
    let out_of_step = |app: &TestApp| app.db.read(hand_offs::dates_out_of_step).unwrap();
    assert_eq!(out_of_step(&app), 0);
    // And they follow the transitions whoever writes them: a transition moved in time, then
    // removed, as an operator might by hand.
    let later = match app.db.backend() {
        relais_persistence::Backend::Sqlite => "datetime(at, '+20 days')",
        relais_persistence::Backend::Postgres => "at + INTERVAL '20 days'",
    };
    let moved = by_hand(
        &app,
        &format!(
            "UPDATE hand_off_transitions SET at = {later} WHERE hand_off_id = '{}' AND to_status = 'accepted'",
            sent[3]
        ),
    );
    assert_eq!(moved, 1);
    assert_eq!(out_of_step(&app), 0);
    let removed = by_hand(
        &app,
        &format!(
            "DELETE FROM hand_off_transitions WHERE hand_off_id = '{}' AND to_status = 'declined'",
            sent[1]
        ),
    );
    assert_eq!(removed, 1);
    assert_eq!(out_of_step(&app), 0);
    let stats = grid_of_the_day();
    // sent[3] now accepted on day 27; sent[1] no longer answered.
    expect(
        &stats,
        "hand_offs_by_answer_delay",
        5,
        &[("0-2", 1), ("16-30", 1), ("31+", 1), ("unanswered", 2)],
    );
}

/// Each person is counted once, by their first situation of the period, which the grid finds from
/// the previous opening the database keeps on each situation (migration 000018). It is the
/// recount of the person's situations after the workflows, and follows them whoever writes them:
/// here situations moved in time and one removed by hand, as an operator might.
#[test]
fn the_grid_finds_each_persons_first_situation_whoever_moves_or_removes_their_situations() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let grid = || {
        let answer = app.get(&format!("/api/v1/statistics?{PERIOD}&post_id={post}"), &sw);
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answer.body
    };
    // Both the persons' previous openings and the hand-offs' openings of their situations.
    let out_of_step = || {
        app.db.read(situations::previous_out_of_step).unwrap()
            + app.db.read(hand_offs::opening_out_of_step).unwrap()
    };
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    expect(&stats, "persons_by_age", 2, &[("13-17", 1), ("60+", 1)]);
    expect(&stats, "hand_offs", 1, &[]);

    // P1's first situation (2025-03-10, a victim of 17) moved to before the period: her first of
    // 2025 is now her second (2025-07-01, 18, neither victim nor author).
    let moved = by_hand(
        &app,
        "UPDATE situations SET opened_on = '2024-06-01' WHERE opened_on = '2025-03-10'",
    );
    assert_eq!(moved, 1);
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    expect(&stats, "persons", 2, &[]);
    expect(&stats, "persons_by_age", 2, &[("18-25", 1), ("60+", 1)]);
    // Its hand-off went out of the period with it.
    expect(&stats, "hand_offs", 0, &[]);
    expect(
        &stats,
        "persons_by_standing",
        2,
        &[("author", 1), ("neither", 1)],
    );

    // Moved back: her first again, at 17, a victim, and her hand-off counted again.
    by_hand(
        &app,
        "UPDATE situations SET opened_on = '2025-03-10' WHERE opened_on = '2024-06-01'",
    );
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    expect(&stats, "persons_by_age", 2, &[("13-17", 1), ("60+", 1)]);
    expect(&stats, "hand_offs_by_outcome", 1, &[("accepted", 1)]);
    // A hand-written opening on the hand-off does not stay: it is its situation's.
    by_hand(
        &app,
        "UPDATE hand_offs SET situation_opened_on = '2024-01-01'",
    );
    assert_eq!(out_of_step(), 0);
    expect(&grid(), "hand_offs", 1, &[]);
    expect(
        &stats,
        "persons_by_standing",
        2,
        &[("victim", 1), ("author", 1)],
    );

    // Her second situation moved before her first: it is her first of the period.
    let moved = by_hand(
        &app,
        "UPDATE situations SET opened_on = '2025-01-15' WHERE opened_on = '2025-07-01'",
    );
    assert_eq!(moved, 1);
    assert_eq!(out_of_step(), 0);
    expect(
        &grid(),
        "persons_by_standing",
        2,
        &[("author", 1), ("neither", 1)],
    );

    // And removed, with its rows: the other is her first again.
    let earlier = "(SELECT id FROM situations WHERE opened_on = '2025-01-15')";
    by_hand(
        &app,
        &format!("DELETE FROM interventions WHERE situation_id IN {earlier}"),
    );
    by_hand(
        &app,
        &format!("DELETE FROM situation_problems WHERE situation_id IN {earlier}"),
    );
    let removed = by_hand(
        &app,
        "DELETE FROM situations WHERE opened_on = '2025-01-15'",
    );
    assert_eq!(removed, 1);
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    expect(&stats, "persons", 2, &[]);
    expect(
        &stats,
        "persons_by_standing",
        2,
        &[("victim", 1), ("author", 1)],
    );
}

/// Situations are counted under each of their problems, and persons once under each problem of
/// any of their situations of the period, from the problems the database keeps on each situation
/// (migration 000019). They are the recount of its rows, and follow them whoever writes them: here
/// problems added, changed and removed by hand, as an operator might.
#[test]
fn the_grid_counts_problems_from_each_situations_kept_problems_whoever_writes_them() {
    let dir = std::env::temp_dir().join(format!("relais-grids-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("2098.toml"),
        r#"version = "2098-problemes"
title = "Problématiques"
valid_from = "2098-01-01"
age_brackets = [{ key = "tous", label = "Tous", min = 0 }]
[[indicators]]
id = "situations_par_probleme"
label = "Situations par problématique"
counts = "situations"
split_by = "problem"
[[indicators]]
id = "personnes_par_probleme"
label = "Personnes par problématique"
counts = "persons"
split_by = "problem"
"#,
    )
    .unwrap();
    let app = TestApp::init().with_grids(&dir).spawn();
    let (post, sw) = statistics_dataset(&app);
    let grid = || {
        let answer = app.get(
            &format!("/api/v1/statistics?grid=2098-problemes&{PERIOD}&post_id={post}"),
            &sw,
        );
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answer.body
    };
    let out_of_step = || app.db.read(situations::problems_out_of_step).unwrap();
    assert_eq!(out_of_step(), 0);
    // P1: S1 (conjugal violence, precarity, housing) and S2 (mental health); P2: S3 (addiction).
    let each_once = [
        ("conjugal_violence", 1),
        ("precarity", 1),
        ("housing", 1),
        ("mental_health", 1),
        ("addiction", 1),
    ];
    let stats = grid();
    expect(&stats, "situations_par_probleme", 3, &each_once);
    expect(&stats, "personnes_par_probleme", 2, &each_once);

    // Precarity added to S2: two situations, still one person.
    let s1 = "(SELECT id FROM situations WHERE opened_on = '2025-03-10')";
    let s2 = "(SELECT id FROM situations WHERE opened_on = '2025-07-01')";
    let added = by_hand(
        &app,
        &format!(
            "INSERT INTO situation_problems (situation_id, problem, position) \
             SELECT id, 'precarity', 1 FROM situations WHERE id IN {s2}"
        ),
    );
    assert_eq!(added, 1);
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    let twice_in_situations = [
        ("conjugal_violence", 1),
        ("precarity", 2),
        ("housing", 1),
        ("mental_health", 1),
        ("addiction", 1),
    ];
    expect(&stats, "situations_par_probleme", 3, &twice_in_situations);
    expect(&stats, "personnes_par_probleme", 2, &each_once);

    // Removed from S1: P1 still has it, through S2.
    by_hand(
        &app,
        &format!(
            "DELETE FROM situation_problems WHERE problem = 'precarity' AND situation_id IN {s1}"
        ),
    );
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    expect(&stats, "situations_par_probleme", 3, &each_once);
    expect(&stats, "personnes_par_probleme", 2, &each_once);

    // P2's addiction changed into mental health: two persons with it, none with addiction.
    let changed = by_hand(
        &app,
        "UPDATE situation_problems SET problem = 'mental_health' WHERE problem = 'addiction'",
    );
    assert_eq!(changed, 1);
    assert_eq!(out_of_step(), 0);
    let stats = grid();
    let mental_health_twice = [
        ("conjugal_violence", 1),
        ("precarity", 1),
        ("housing", 1),
        ("mental_health", 2),
    ];
    expect(&stats, "situations_par_probleme", 3, &mental_health_twice);
    expect(&stats, "personnes_par_probleme", 2, &mental_health_twice);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `sql` on the app's database as an operator would by hand, past every workflow: the rows
/// it changed.
fn by_hand(app: &TestApp, sql: &str) -> usize {
    app.db
        .write(|conn| {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap()
}

/// The ids of an indicator's values, in the order served, zeros included.
fn keys(stats: &Value, id: &str) -> Vec<String> {
    stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id}"))["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_hand_off_cancelled_while_a_draft_is_not_an_orientation() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS", "ccas");
    // Drafted then cancelled: never sent, no orientation.
    let draft = case
        .draft_hand_off(&app, &partner, json!({}))
        .expect_status(201)
        .id();
    act(&app, &case.sw, &draft, "cancel", None, &[]).expect_status(200);
    // A draft still a draft: none either.
    case.draft_hand_off(&app, &partner, json!({}))
        .expect_status(201);
    // Sent then cancelled: an orientation, cancelled.
    let sent = case.sent_hand_off(&app, &partner, json!(["identity"]));
    act(&app, &case.sw, &sent, "cancel", None, &[]).expect_status(200);
    // Sent: an orientation, sent.
    case.sent_hand_off(&app, &partner, json!(["identity"]));

    let stats = app
        .get(
            &format!(
                "/api/v1/statistics?from=2026-03-01&to=2026-03-31&post_id={}",
                case.post
            ),
            &case.sw,
        )
        .expect_status(200)
        .body;
    expect(&stats, "hand_offs", 2, &[]);
    expect(
        &stats,
        "hand_offs_by_outcome",
        2,
        &[("sent", 1), ("cancelled", 1)],
    );
    expect(&stats, "hand_offs_by_partner_kind", 2, &[("ccas", 2)]);
    expect(&stats, "hand_offs_by_answer_delay", 2, &[("unanswered", 2)]);
}

/// Opens a situation at `post` on `day` for a new person described by `person`.
fn open_for(app: &TestApp, sw: &str, post: &str, day: &str, person: Value) -> String {
    let mut body = situation_of(post, day, "police", "victim", false, &["other"]);
    body["beneficiary"] = person;
    open_situation(app, sw, body)
}

/// A grid folder with the shipped grid under another version, declaring `year_difference`.
fn year_difference_grids() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-grids-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = include_str!("../../../grids/2026.toml")
        .replace("version = \"2026\"", "version = \"2026-millesimes\"")
        .replace("valid_from = \"2020-01-01\"", "valid_from = \"2099-01-01\"")
        .replace(
            "birth_year_age = \"mid_year\"",
            "birth_year_age = \"year_difference\"",
        );
    assert!(shipped.contains("year_difference\"\n"));
    std::fs::write(dir.join("2026-millesimes.toml"), shipped).unwrap();
    dir
}

#[test]
fn with_a_birth_year_only_the_age_is_in_completed_years_from_1_july() {
    let dir = year_difference_grids();
    let app = TestApp::init().with_grids(&dir).spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    // Born in 2008, year only: 17 on 30 June 2026, 18 from 1 July 2026.
    open_for(&app, &sw, &post, "2026-06-30", json!({"birth_year": 2008}));
    open_for(&app, &sw, &post, "2026-07-01", json!({"birth_year": 2008}));
    // Born in 2008, year only, early in the year: still 17 (the difference of years says 18).
    open_for(&app, &sw, &post, "2026-01-05", json!({"birth_year": 2008}));
    // A birth date is always completed years: born 2008-07-02, 17 on 2026-07-01.
    open_for(
        &app,
        &sw,
        &post,
        "2026-07-01",
        json!({"birth_date": "2008-07-02"}),
    );
    // Born in 1966, year only: 59 in June, 60 from July (a bracket boundary at the top too).
    open_for(&app, &sw, &post, "2026-03-01", json!({"birth_year": 1966}));

    let period = "from=2026-01-01&to=2026-12-31";
    let stats = app
        .get(&format!("/api/v1/statistics?{period}&post_id={post}"), &sw)
        .expect_status(200)
        .body;
    assert_eq!(stats["grid"], "2026");
    expect(
        &stats,
        "persons_by_age",
        5,
        &[("13-17", 3), ("18-25", 1), ("26-59", 1)],
    );
    // The grid that declares the difference of years counts them as it says.
    let millesimes = app
        .get(
            &format!("/api/v1/statistics?grid=2026-millesimes&{period}&post_id={post}"),
            &sw,
        )
        .expect_status(200)
        .body;
    expect(
        &millesimes,
        "persons_by_age",
        5,
        &[("13-17", 1), ("18-25", 3), ("60+", 1)],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn months_are_keyed_by_year_across_two_years_and_a_july_to_june_period() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let mut situations = Vec::new();
    for day in [
        "2025-01-15",
        "2025-07-10",
        "2025-12-31",
        "2026-01-20",
        "2026-06-30",
    ] {
        situations.push(open_for(&app, &sw, &post, day, json!({})));
    }
    intervene(&app, &sw, &situations[0], "2025-01-16", "phone");
    intervene(&app, &sw, &situations[3], "2026-01-21", "phone");
    intervene(&app, &sw, &situations[3], "2026-02-01", "phone");

    // Two calendar years: each January on its own, 24 months in order.
    let two_years = app
        .get(
            &format!("/api/v1/statistics?from=2025-01-01&to=2026-12-31&post_id={post}"),
            &sw,
        )
        .expect_status(200)
        .body;
    let months: Vec<String> = (2025..=2026)
        .flat_map(|year| (1..=12).map(move |month| format!("{year}-{month:02}")))
        .collect();
    assert_eq!(keys(&two_years, "situations_by_month"), months);
    expect(
        &two_years,
        "situations_by_month",
        5,
        &[
            ("2025-01", 1),
            ("2025-07", 1),
            ("2025-12", 1),
            ("2026-01", 1),
            ("2026-06", 1),
        ],
    );
    expect(
        &two_years,
        "interventions_by_month",
        3,
        &[("2025-01", 1), ("2026-01", 1), ("2026-02", 1)],
    );

    // July to June: December before January, and zeros listed for the empty months.
    let season = app
        .get(
            &format!("/api/v1/statistics?from=2025-07-01&to=2026-06-30&post_id={post}"),
            &sw,
        )
        .expect_status(200)
        .body;
    let months: Vec<String> = (7..=12)
        .map(|m| format!("2025-{m:02}"))
        .chain((1..=6).map(|m| format!("2026-{m:02}")))
        .collect();
    assert_eq!(keys(&season, "situations_by_month"), months);
    assert_eq!(keys(&season, "interventions_by_month"), months);
    expect(
        &season,
        "situations_by_month",
        4,
        &[
            ("2025-07", 1),
            ("2025-12", 1),
            ("2026-01", 1),
            ("2026-06", 1),
        ],
    );
    let indicator = season["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "situations_by_month")
        .unwrap();
    assert_eq!(indicator["values"][0]["label"], "juillet 2025");
    assert_eq!(indicator["values"][11]["label"], "juin 2026");
}

/// GET `path` as `token` with `Accept: accept`: the answer's content type, disposition and bytes.
fn download(app: &TestApp, path: &str, token: &str, accept: &str) -> (String, String, Vec<u8>) {
    let response = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let content_type = response.content_type().to_owned();
    let disposition = response
        .header("Content-Disposition")
        .unwrap_or_default()
        .to_owned();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    (content_type, disposition, bytes)
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[test]
fn the_xlsx_reads_back_as_the_json_with_codes_as_text_and_counts_as_numbers() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let path = format!("/api/v1/statistics?{PERIOD}&post_id={post}");
    let json = app.get(&path, &sw).body;
    let (content_type, disposition, bytes) = download(&app, &path, &sw, XLSX);
    assert_eq!(content_type, XLSX);
    assert_eq!(
        disposition,
        format!("attachment; filename=\"statistiques-poste-{post}-2025-01-01-2025-12-31.xlsx\"")
    );
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(workbook.sheet_names(), ["Statistiques"]);
    let sheet = workbook.worksheet_range("Statistiques").unwrap();
    let cell = |row: u32, column: u32| sheet.get_value((row, column)).cloned().unwrap_or_default();
    let text = |row, column| match cell(row, column) {
        Data::String(s) => s,
        other => panic!("({row}, {column}) is not text: {other:?}"),
    };
    // The header: title, scope, period (as dates), grid version (as text).
    assert_eq!(text(0, 0), json["title"].as_str().unwrap());
    assert_eq!(
        (text(1, 0), text(1, 1)),
        ("Périmètre".into(), format!("Poste {post}"))
    );
    assert_eq!(text(1, 2), format!("posts:{post}"));
    assert_eq!(text(2, 0), "Période");
    for (column, day) in [(1, "2025-01-01"), (2, "2025-12-31")] {
        match cell(2, column) {
            Data::DateTime(date) => assert_eq!(date.as_datetime().unwrap().date().to_string(), day),
            other => panic!("the period's {day} is not a date: {other:?}"),
        }
    }
    assert_eq!(
        (text(3, 0), text(3, 1)),
        ("Version de la grille".into(), "2026".into())
    );
    // The table: one row per total and per value, in the JSON's order.
    assert_eq!(text(6, 0), "indicateur");
    assert_eq!(text(6, 4), "effectif");
    let mut row = 6;
    for indicator in json["indicators"].as_array().unwrap() {
        let lines = std::iter::once((
            "total".to_owned(),
            "Total".to_owned(),
            indicator["total"].as_i64().unwrap(),
        ))
        .chain(indicator["values"].as_array().unwrap().iter().map(|v| {
            (
                v["key"].as_str().unwrap().to_owned(),
                v["label"].as_str().unwrap().to_owned(),
                v["count"].as_i64().unwrap(),
            )
        }));
        for (key, label, count) in lines {
            row += 1;
            assert_eq!(text(row, 0), indicator["id"].as_str().unwrap());
            assert_eq!(text(row, 1), indicator["label"].as_str().unwrap());
            // Codes stay text, "60+", "0-12" and "2025-03" included.
            assert_eq!(
                (text(row, 2), text(row, 3)),
                (key.clone(), label),
                "row {row}"
            );
            #[allow(clippy::cast_precision_loss)]
            let expected = Data::Float(count as f64);
            assert_eq!(cell(row, 4), expected, "{key}: a count is a number");
        }
    }
    assert_eq!(sheet.height(), usize::try_from(row + 1).unwrap());
    let keys: Vec<String> = (7..=row).map(|r| text(r, 2)).collect();
    for code in ["60+", "0-12", "2025-03", "0-2"] {
        assert!(keys.iter().any(|k| k == code), "{code}");
    }
}

#[test]
fn csv_and_xlsx_are_named_by_scope_and_period() {
    let app = TestApp::init().spawn();
    let (post, sw) = statistics_dataset(&app);
    let observatory = app.token(Role::Statistics, &[]);
    for (query, token, stem) in [
        (
            String::new(),
            &observatory,
            "statistiques-national".to_owned(),
        ),
        (
            "&department=07".to_owned(),
            &observatory,
            "statistiques-departement-07".to_owned(),
        ),
        (
            format!("&post_id={post}"),
            &sw,
            format!("statistiques-poste-{post}"),
        ),
    ] {
        let path = format!("/api/v1/statistics?{PERIOD}{query}");
        for (accept, extension) in [("text/csv", "csv"), (XLSX, "xlsx")] {
            let (_, disposition, _) = download(&app, &path, token, accept);
            assert_eq!(
                disposition,
                format!("attachment; filename=\"{stem}-2025-01-01-2025-12-31.{extension}\"")
            );
        }
        // JSON is the default, and is not a download.
        let (content_type, disposition, _) = download(&app, &path, token, "application/json");
        assert_eq!(
            (content_type.as_str(), disposition.as_str()),
            ("application/json", "")
        );
    }
    // The known type of highest q wins.
    let path = format!("/api/v1/statistics?{PERIOD}&post_id={post}");
    let (content_type, _, _) = download(&app, &path, &sw, &format!("text/csv;q=0.5, {XLSX}"));
    assert_eq!(content_type, XLSX);
    let (content_type, _, _) = download(&app, &path, &sw, "application/json, text/csv;q=0.9");
    assert_eq!(content_type, "application/json");
}

#[derive(diesel::QueryableByName)]
struct Recounted {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The post's interventions from `from` to `to` recounted from their rows, by `column` (`mode`,
/// `kind`, or the month): what the grid must give, however it reads them.
fn interventions_recounted(
    app: &TestApp,
    post: &str,
    from: &str,
    to: &str,
    column: &str,
) -> Vec<(String, i64)> {
    let column = match (column, app.db.backend()) {
        ("month", relais_persistence::Backend::Sqlite) => "substr(occurred_on, 1, 7)",
        ("month", relais_persistence::Backend::Postgres) => "to_char(occurred_on, 'YYYY-MM')",
        (column, _) => column,
    };
    let sql = format!(
        "SELECT CAST({column} AS TEXT) AS key, COUNT(*) AS n FROM interventions \
         WHERE post_id = '{post}' AND occurred_on >= '{from}' AND occurred_on <= '{to}' \
         GROUP BY {column} ORDER BY 1"
    );
    let rows: Vec<Recounted> = app
        .db
        .read(|conn| {
            diesel::RunQueryDsl::load(diesel::sql_query(&sql), conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    rows.into_iter().map(|r| (r.key, r.n)).collect()
}

/// The live grid of `post` for `from..=to`, as `token` reads it (200 asserted).
#[track_caller]
fn post_grid(app: &TestApp, token: &str, post: &str, from: &str, to: &str) -> Value {
    app.get(
        &format!("/api/v1/statistics?from={from}&to={to}&post_id={post}"),
        token,
    )
    .expect_status(200)
    .body
}

/// The grid reads the interventions of a period's whole months from the counts the database keeps
/// by post, month, mode and kind (migration 000020), and the days before and after them from the
/// interventions. For periods that begin and end on every kind of day (a month's first, its last,
/// inside it, a single day, a leap day), its figures are the recount of the rows; and the kept
/// counts follow the interventions whoever writes them: moved across a month, changed in mode,
/// removed, added by hand, as an operator might.
#[test]
fn the_grid_counts_interventions_from_the_kept_months_and_the_edge_days_as_their_rows_recount() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Aubenas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = open_for(&app, &sw, &post, "2024-01-10", json!({}));
    for (day, mode) in [
        ("2024-01-31", "phone"),
        ("2024-02-01", "phone"),
        ("2024-02-29", "home_visit"),
        ("2024-03-01", "phone"),
        ("2024-03-15", "home_visit"),
        ("2024-03-15", "phone"),
        ("2024-03-31", "phone"),
        ("2024-04-01", "home_visit"),
        ("2024-05-20", "phone"),
    ] {
        intervene(&app, &sw, &situation, day, mode);
    }
    let days = [
        "2024-01-01",
        "2024-01-31",
        "2024-02-01",
        "2024-02-15",
        "2024-02-29",
        "2024-03-01",
        "2024-03-15",
        "2024-03-31",
        "2024-04-01",
        "2024-05-31",
    ];
    let check_every_period = |what: &str| {
        for (i, from) in days.iter().enumerate() {
            for to in &days[i..] {
                let stats = post_grid(&app, &sw, &post, from, to);
                for (id, column) in [
                    ("interventions_by_month", "month"),
                    ("interventions_by_mode", "mode"),
                    ("interventions_by_kind", "kind"),
                ] {
                    let recounted = interventions_recounted(&app, &post, from, to, column);
                    let total = recounted.iter().map(|(_, n)| n).sum();
                    let (served_total, mut served) = figures(&stats, id);
                    served.sort();
                    assert_eq!(
                        (served_total, served),
                        (total, recounted),
                        "{id} from {from} to {to}, {what}"
                    );
                }
            }
        }
        assert_eq!(
            app.db
                .read(relais_persistence::interventions::months_out_of_step)
                .unwrap(),
            0,
            "{what}"
        );
    };
    check_every_period("as recorded");
    // February's leap day moved into March, a phone call made a home visit, a day's call removed:
    // whole months and edges alike change.
    assert_eq!(
        by_hand(
            &app,
            "UPDATE interventions SET occurred_on = '2024-03-02' WHERE occurred_on = '2024-02-29'"
        ),
        1
    );
    assert_eq!(
        by_hand(
            &app,
            "UPDATE interventions SET mode = 'home_visit' WHERE occurred_on = '2024-03-31'"
        ),
        1
    );
    assert_eq!(
        by_hand(
            &app,
            "DELETE FROM interventions WHERE occurred_on = '2024-02-01'"
        ),
        1
    );
    // One added by hand: a copy of March 1st's, on April 15th, of another kind.
    assert_eq!(
        by_hand(
            &app,
            "INSERT INTO interventions (id, situation_id, post_id, occurred_on, mode, kind, \
             duration_minutes, recorded_by, created_at, updated_at, version) \
             SELECT '0190a5f0-0000-7000-8000-000000000001', situation_id, post_id, '2024-04-15', \
             mode, 'orientation', duration_minutes, recorded_by, created_at, updated_at, version \
             FROM interventions WHERE occurred_on = '2024-03-01'"
        ),
        1
    );
    check_every_period("after the writes by hand");
    let stats = app
        .get(
            &format!("/api/v1/statistics?from=2024-02-01&to=2024-04-30&post_id={post}"),
            &sw,
        )
        .expect_status(200)
        .body;
    expect(
        &stats,
        "interventions_by_month",
        7,
        &[("2024-03", 5), ("2024-04", 2)],
    );
    // Every intervention removed: nothing kept, nothing counted.
    by_hand(&app, "DELETE FROM interventions");
    check_every_period("after every intervention was removed");
    let kept: Vec<Recounted> = app
        .db
        .read(|conn| {
            diesel::RunQueryDsl::load(
                diesel::sql_query("SELECT CAST(month AS TEXT) AS key, n FROM intervention_months"),
                conn,
            )
            .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    assert!(kept.is_empty(), "no count of 0 is kept");
}

/// A post's own grid may start on any day, up to the calendar's last month: the period is still
/// cut at its whole months (none when the month after its start is past the calendar's end), and
/// the post's figures answer, not a server error.
#[test]
fn a_posts_grid_answers_for_any_period_up_to_the_calendars_last_day() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    for (from, to) in [
        ("%2B262142-12-15", "%2B262142-12-31"),
        ("%2B262142-12-15", "%2B262142-12-20"),
        ("%2B262142-11-15", "%2B262142-12-31"),
        ("%2B262142-12-01", "%2B262142-12-31"),
    ] {
        let stats = post_grid(&app, &sw, &post, from, to);
        assert_eq!(
            figures(&stats, "interventions_by_mode").0,
            0,
            "{from}..{to}"
        );
    }
}
