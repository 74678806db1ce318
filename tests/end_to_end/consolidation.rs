//! National consolidation through the real binary: two instances submit their posts' grids
//! and export them signed; an observatory instance registers their public keys, imports both
//! (over HTTP and with `relais statistics import`), sums them, refuses altered or unknown
//! documents, and lists the posts that have not submitted.

use std::process::Output;

use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

use super::{Server, create_post, example_situation, relais, token};

/// One running instance: its database, its settings, its server.
struct Instance {
    db: TestDatabase,
    env: Vec<(&'static str, String)>,
    server: Server,
}

impl Instance {
    /// An instance named `id`. On SQLite its signing key is created in the zero-set-up key
    /// file; on PostgreSQL, whose keys are configured, it is configured too (`seed`).
    fn start(id: &str, seed: u8) -> Self {
        Self::start_with(id, seed, Vec::new())
    }

    /// The same, with `extra` settings.
    fn start_with(id: &str, seed: u8, extra: Vec<(&'static str, String)>) -> Self {
        let db = TestDatabase::create();
        let mut env = vec![("RELAIS_INSTANCE_ID", id.to_owned())];
        env.extend(extra);
        if db.url.starts_with("postgres") {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD.encode([seed; 32]);
            env.push(("RELAIS_STATISTICS_SIGNING_KEY", format!("e2e-sign:{key}")));
        }
        let server = Server::start(&db.url, &Self::pairs(&env));
        Self { db, env, server }
    }

    fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn token(&self, args: &[&str]) -> String {
        token(&self.db.url, &Self::pairs(&self.env), args)
    }

    /// `relais statistics ARGS` on this instance, with `extra` settings.
    fn statistics(&self, args: &[&str], extra: &[(&'static str, &str)]) -> Output {
        let mut env = Self::pairs(&self.env);
        env.extend_from_slice(extra);
        relais(&self.db.url, &env)
            .arg("statistics")
            .args(args)
            .output()
            .unwrap()
    }

    fn succeeded(output: &Output) -> String {
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stdout.clone()).unwrap()
    }

    fn public_key(&self) -> Value {
        serde_json::from_str(&Self::succeeded(&self.statistics(&["public-key"], &[]))).unwrap()
    }

    fn export(&self, from: &str, to: &str) -> Value {
        let output = self.statistics(&["export", "--from", from, "--to", to], &[]);
        serde_json::from_str(&Self::succeeded(&output)).unwrap()
    }

    /// A post in `department` with one situation opened on `opened_on`, submitted for the year.
    fn post_with_a_submission(&self, department: &str, opened_on: &str, year: &str) -> String {
        let admin = self.token(&["--role", "admin"]);
        let post = create_post(&self.server, &admin);
        // The post's department (create_post makes posts of the 07); If-Match names version 1.
        let answer = ureq::put(&format!("{}/api/v1/posts/{post}", self.server.base))
            .set("Authorization", &format!("Bearer {admin}"))
            .set("If-Match", "\"1\"")
            .send_json(json!({"name": format!("ISCG {department}"), "kind": "police", "department_code": department, "employer": "E", "convention": "state"}))
            .unwrap();
        assert_eq!(answer.status(), 200);
        let sw = self.token(&["--role", "social_worker", "--post", &post]);
        let mut situation = example_situation(&post);
        situation["opened_on"] = json!(opened_on);
        let (status, body) = self
            .server
            .call("POST", "/api/v1/situations", &sw, Some(situation));
        assert_eq!(status, 201, "{body}");
        self.submit(&post, year);
        post
    }

    fn submit(&self, post: &str, year: &str) -> Value {
        let coordinator = self.token(&["--role", "coordinator", "--post", post]);
        let (status, body) = self.server.call(
            "POST",
            &format!("/api/v1/posts/{post}/statistics/submissions"),
            &coordinator,
            Some(json!({"from": format!("{year}-01-01"), "to": format!("{year}-12-31")})),
        );
        assert_eq!(status, 201, "{body}");
        body
    }
}

/// Every (indicator, key) → count of a grid, totals under `total`.
fn cells(stats: &Value) -> Vec<(String, String, i64)> {
    let mut cells = Vec::new();
    for indicator in stats["indicators"].as_array().unwrap() {
        let id = indicator["id"].as_str().unwrap().to_owned();
        cells.push((
            id.clone(),
            "total".into(),
            indicator["total"].as_i64().unwrap(),
        ));
        for value in indicator["values"].as_array().unwrap() {
            cells.push((
                id.clone(),
                value["key"].as_str().unwrap().to_owned(),
                value["count"].as_i64().unwrap(),
            ));
        }
    }
    cells
}

/// The grids' cells added up.
fn sum(grids: &[&Value]) -> Vec<(String, String, i64)> {
    let mut total = cells(grids[0]);
    for grid in &grids[1..] {
        for (cell, (i, k, n)) in total.iter_mut().zip(cells(grid)) {
            assert_eq!((&cell.0, &cell.1), (&i, &k), "the grids are laid out alike");
            cell.2 += n;
        }
    }
    total
}

fn persons(stats: &Value) -> i64 {
    stats["indicators"][0]["total"].as_i64().unwrap()
}

#[test]
fn two_instances_export_signed_submissions_and_an_observatory_sums_them() {
    let ardeche = Instance::start("relais-ardeche", 1);
    let drome = Instance::start("relais-drome", 2);
    // The observatory's grid has `k = 1` so that its sums can be checked cell by cell; the same
    // database served with the shipped grid (`k = 5`) is read at the end.
    let exact_grids =
        std::env::temp_dir().join(format!("relais-exact-grids-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&exact_grids).unwrap();
    let grid = include_str!("../../grids/2026.toml").replace("\nk = 5\n", "\nk = 1\n");
    assert!(grid.contains("\nk = 1\n"));
    std::fs::write(exact_grids.join("2026.toml"), grid).unwrap();
    let observatory = Instance::start_with(
        "observatoire",
        3,
        vec![("RELAIS_GRIDS_DIR", exact_grids.to_str().unwrap().to_owned())],
    );

    let privas = ardeche.post_with_a_submission("07", "2026-03-14", "2026");
    let valence = drome.post_with_a_submission("26", "2026-05-02", "2026");
    // A second post in the Drôme submitted 2025 but not 2026: known to the observatory from
    // the 2025 document, missing from 2026.
    let montelimar = drome.post_with_a_submission("26", "2025-06-01", "2025");
    // The cases change after the submission: the export carries the submitted figures.
    let sw = ardeche.token(&["--role", "social_worker", "--post", &privas]);
    let (status, _) = ardeche.server.call(
        "POST",
        "/api/v1/situations",
        &sw,
        Some(example_situation(&privas)),
    );
    assert_eq!(status, 201);

    let from_ardeche = ardeche.export("2026-01-01", "2026-12-31");
    let from_drome = drome.export("2026-01-01", "2026-12-31");
    let from_drome_2025 = drome.export("2025-01-01", "2025-12-31");
    let payload: Value = serde_json::from_str(from_ardeche["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["instance"], "relais-ardeche");
    assert_eq!(payload["posts"].as_array().unwrap().len(), 1);
    assert_eq!(payload["posts"][0]["post_id"], privas.as_str());
    assert_eq!(payload["posts"][0]["department_code"], "07");
    assert_eq!(persons(&payload["posts"][0]["statistics"]), 1);
    let drome_payload: Value =
        serde_json::from_str(from_drome["payload"].as_str().unwrap()).unwrap();

    // The observatory trusts the two instances' keys.
    let admin = observatory.token(&["--role", "admin"]);
    for (sender, name) in [(&ardeche, "Ardèche"), (&drome, "Drôme")] {
        let key = sender.public_key();
        assert_eq!(key["algorithm"], "Ed25519");
        let (status, body) = observatory.server.call(
            "POST",
            "/api/v1/statistics/instances",
            &admin,
            Some(json!({"id": key["instance"], "name": name, "public_key": key["public_key"]})),
        );
        assert_eq!(status, 201, "{body}");
    }

    // Refused, naming why: altered figures, an unknown instance.
    let mut altered = from_ardeche.clone();
    altered["payload"] = json!(from_ardeche["payload"].as_str().unwrap().replacen(
        "\"total\":1",
        "\"total\":7",
        1
    ));
    assert_ne!(altered, from_ardeche);
    let (status, problem) = observatory.server.call(
        "POST",
        "/api/v1/statistics/submissions",
        &admin,
        Some(altered),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "bad_signature");
    let unknown = ardeche.statistics(
        &["export", "--from", "2026-01-01", "--to", "2026-12-31"],
        &[("RELAIS_INSTANCE_ID", "relais-inconnu")],
    );
    let unknown: Value = serde_json::from_str(&Instance::succeeded(&unknown)).unwrap();
    let (status, problem) = observatory.server.call(
        "POST",
        "/api/v1/statistics/submissions",
        &admin,
        Some(unknown),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "unknown_instance");

    // The Ardèche over HTTP (twice: the second time changes nothing), the Drôme from files.
    let (status, report) = observatory.server.call(
        "POST",
        "/api/v1/statistics/submissions",
        &admin,
        Some(from_ardeche.clone()),
    );
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["imported"], json!([privas]));
    let (status, report) = observatory.server.call(
        "POST",
        "/api/v1/statistics/submissions",
        &admin,
        Some(from_ardeche.clone()),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], json!([]));
    assert_eq!(report["unchanged"], json!([privas]));
    let dir = std::env::temp_dir().join(format!("relais-consolidation-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, document) in [("2026.json", &from_drome), ("2025.json", &from_drome_2025)] {
        let file = dir.join(name);
        std::fs::write(&file, serde_json::to_string_pretty(document).unwrap()).unwrap();
        let output = observatory.statistics(&["import", file.to_str().unwrap()], &[]);
        let said = Instance::succeeded(&output);
        assert!(said.contains("1 posts imported"), "{said}");
    }
    // A file altered on disk is refused by the command too, which says why.
    let file = dir.join("altered.json");
    let mut altered = from_drome.clone();
    altered["payload"] = json!(
        from_drome["payload"]
            .as_str()
            .unwrap()
            .replace("ISCG 26", "ISCG 27")
    );
    std::fs::write(&file, altered.to_string()).unwrap();
    let output = observatory.statistics(&["import", file.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("signature"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The national grid is the sum of the two instances' submissions.
    let reader = observatory.token(&["--role", "statistics"]);
    let period = "from=2026-01-01&to=2026-12-31";
    let (status, national) = observatory.server.call(
        "GET",
        &format!("/api/v1/statistics?{period}"),
        &reader,
        None,
    );
    assert_eq!(status, 200, "{national}");
    assert_eq!(national["scope"], "national");
    let ardeche_grid = &payload["posts"][0]["statistics"];
    let drome_grid = &drome_payload["posts"][0]["statistics"];
    assert_eq!(cells(&national), sum(&[ardeche_grid, drome_grid]));
    assert_eq!(persons(&national), 2);
    // By department, with the documents' department codes; by post, with the sender's id.
    for (query, expected) in [
        ("department=07", ardeche_grid),
        ("department=26", drome_grid),
        (&format!("post_id={valence}") as &str, drome_grid),
    ] {
        let (status, grid) = observatory.server.call(
            "GET",
            &format!("/api/v1/statistics?{period}&{query}"),
            &reader,
            None,
        );
        assert_eq!(status, 200, "{grid}");
        assert_eq!(cells(&grid), cells(expected), "{query}");
    }

    // Who submitted 2026, and who did not.
    let (status, posts) = observatory.server.call(
        "GET",
        &format!("/api/v1/statistics/submissions?{period}"),
        &reader,
        None,
    );
    assert_eq!(status, 200, "{posts}");
    let ids = |list: &Value| -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["instance"].as_str().unwrap().to_owned(),
                    p["post_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&posts["submitted"]),
        [
            ("relais-ardeche".to_owned(), privas.clone()),
            ("relais-drome".to_owned(), valence.clone())
        ]
    );
    assert_eq!(
        ids(&posts["missing"]),
        [("relais-drome".to_owned(), montelimar.clone())]
    );

    // Served with the shipped grid (k = 5), the same national grid singles nobody out: the two
    // persons, and whatever would give them back, are suppressed.
    let shipped_grids: Vec<(&'static str, String)> = observatory
        .env
        .iter()
        .filter(|(name, _)| *name != "RELAIS_GRIDS_DIR")
        .cloned()
        .collect();
    let published = Server::start(&observatory.db.url, &Instance::pairs(&shipped_grids));
    let (status, national) = published.call(
        "GET",
        &format!("/api/v1/statistics?{period}"),
        &reader,
        None,
    );
    assert_eq!(status, 200, "{national}");
    assert_eq!(national["disclosure_control"]["k"], 5);
    assert_eq!(national["indicators"][0]["total"], Value::Null);
    for indicator in national["indicators"].as_array().unwrap() {
        let shown = std::iter::once(&indicator["total"]).chain(
            indicator["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| &v["count"]),
        );
        for n in shown.filter_map(Value::as_i64) {
            assert!(n == 0 || n >= 5, "{} shows {n}", indicator["id"]);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(exact_grids).unwrap();
}
