//! What operations rely on: request ids, liveness and readiness probes, Prometheus metrics.

use diesel::connection::SimpleConnection;
use relais_api::http::protection::ProtectionSettings;
use relais_domain::reference::Role;
use relais_persistence::DbConnection;
use serde_json::json;

use crate::support::{Answer, TestApp};

#[track_caller]
fn request_id(answer: &Answer) -> String {
    answer
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id: {answer:?}"))
        .to_owned()
}

#[test]
fn every_answer_carries_a_request_id_and_problems_repeat_it() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let answers = [
        app.call("GET", "/health", None, None, &[]),
        app.get("/api/v1/posts", &admin),
        app.call("GET", "/api/v1/posts", None, None, &[]),
        app.get("/api/v1/no-such-thing", &admin),
        app.get(&format!("/api/v1/posts/{}", uuid::Uuid::now_v7()), &admin),
        app.post("/api/v1/posts", &admin, json!({"name": 1})),
        app.get("/api/v1/situations", &app.token(Role::Statistics, &[])),
    ];
    let mut ids = std::collections::BTreeSet::new();
    for answer in &answers {
        let id = request_id(answer);
        let parsed = uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(parsed.get_version_num(), 7, "{id}");
        if answer.content_type == "application/problem+json" {
            answer.assert_problem(answer.status);
            assert_eq!(answer.body["request_id"], id.as_str(), "{:#}", answer.body);
        }
        ids.insert(id);
    }
    assert_eq!(ids.len(), answers.len(), "one id per request");
    // Problems of every origin: authentication (401), the matrix (403), the 404 fallback,
    // a handler (404), an extractor (422).
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 401, 404, 404, 422, 403]);
}

#[test]
fn a_well_formed_incoming_request_id_is_kept_and_others_are_replaced() {
    let app = TestApp::init().spawn();
    let longest = "a".repeat(64);
    for kept in [
        "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        "lb:7f3a.42_x",
        longest.as_str(),
    ] {
        let answer = app.call(
            "GET",
            "/api/v1/nothing",
            None,
            None,
            &[("X-Request-Id", kept)],
        );
        assert_eq!(request_id(&answer), kept);
        assert_eq!(answer.body["request_id"], kept);
    }
    let too_long = "a".repeat(65);
    for replaced in ["two words", "quote\"d", "semi;colon", too_long.as_str(), ""] {
        let answer = app.call(
            "GET",
            "/api/v1/nothing",
            None,
            None,
            &[("X-Request-Id", replaced)],
        );
        let id = request_id(&answer);
        assert_ne!(id, replaced);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{replaced:?} gave {id}");
        assert_eq!(answer.body["request_id"], id.as_str());
    }
}

#[test]
fn readiness_reports_how_tokens_are_verified() {
    let signing = |app: &TestApp| {
        let ready = app.call("GET", "/health/ready", None, None, &[]);
        assert_eq!(ready.status, 200, "{:#}", ready.body);
        ready.body["token_signing"].clone()
    };
    assert_eq!(signing(&TestApp::init().spawn()), "configured_secret");
    let zero_set_up = relais_api::auth::JwtSettings {
        issuer: "relais".into(),
        audience: "relais".into(),
        ..Default::default()
    };
    assert_eq!(
        signing(&TestApp::init().with_jwt(zero_set_up).spawn()),
        "instance_secret"
    );
    let provider = relais_api::auth::JwtSettings {
        public_key: Some(format!(
            "{}/../tests/fixtures/rs256-public.pem",
            env!("CARGO_MANIFEST_DIR")
        )),
        issuer: "https://idp.example.fr".into(),
        audience: "relais".into(),
        ..Default::default()
    };
    assert_eq!(
        signing(&TestApp::init().with_jwt(provider).spawn()),
        "public_keys"
    );
}

/// Every file of a SQLite database is its owner's only (the end-to-end test also sets the
/// umask to 000 first); PostgreSQL keeps its own files.
#[cfg(unix)]
#[test]
fn sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::init().spawn();
    let Some(file) = app.sqlite_file() else {
        return;
    };
    app.create_post("ISCG Privas");
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path}: {:o}", mode & 0o777);
    }
}

#[test]
fn liveness_reads_no_database_and_readiness_checks_the_migrations() {
    let app = TestApp::init().spawn();
    let live = app.call("GET", "/health/live", None, None, &[]);
    assert_eq!(live.status, 200, "{:#}", live.body);
    assert_eq!(live.body["status"], "ok");
    let ready = app.call("GET", "/health/ready", None, None, &[]);
    assert_eq!(ready.status, 200, "{:#}", ready.body);
    assert_eq!(ready.body["status"], "ready");

    // Forget the last migration, as if this version's migrations had not run.
    app.db
        .write(|conn: &mut DbConnection| {
            conn.batch_execute(
                "DELETE FROM __diesel_schema_migrations WHERE version = \
                 (SELECT MAX(version) FROM __diesel_schema_migrations)",
            )
            .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    let unready = app.call("GET", "/health/ready", None, None, &[]);
    unready.assert_problem(503);
    assert!(
        unready.body["detail"]
            .as_str()
            .unwrap()
            .contains("1 migration(s) not applied"),
        "{:#}",
        unready.body
    );
    assert_eq!(unready.body["request_id"], request_id(&unready).as_str());
    assert_eq!(
        app.call("GET", "/health/live", None, None, &[]).status,
        200,
        "liveness does not depend on the database"
    );
    assert_eq!(
        app.call("GET", "/health", None, None, &[]).status,
        200,
        "/health is unchanged: it only pings"
    );
}

#[test]
fn probes_and_metrics_are_not_rate_limited() {
    let app = TestApp::init()
        .with_protection(ProtectionSettings {
            per_address_per_minute: 2,
            ..ProtectionSettings::default()
        })
        .spawn();
    for _ in 0..5 {
        for path in ["/health", "/health/live", "/health/ready", "/metrics"] {
            let answer = app.call("GET", path, None, None, &[]);
            assert_eq!(answer.status, 200, "{path}");
            assert!(answer.header("ratelimit-limit").is_none(), "{path}");
        }
    }
    let limited: Vec<u16> = (0..3)
        .map(|_| app.call("GET", "/api/v1/reference", None, None, &[]).status)
        .collect();
    assert_eq!(limited, [200, 200, 429]);
}

fn scrape(app: &TestApp) -> (u16, String, String) {
    let response = match ureq::get(&format!("{}/metrics", app.base)).call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("GET /metrics: {e}"),
    };
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.into_string().unwrap())
}

#[test]
fn metrics_count_requests_by_route_pattern_without_a_token() {
    let app = TestApp::init().spawn();
    let admin = app.admin();
    let post = app.create_post("ISCG Privas");
    let social_worker = app.token(Role::SocialWorker, &[&post]);
    let situations: Vec<String> = (0..3)
        .map(|_| app.create_situation(&social_worker, &post).id())
        .collect();
    for id in &situations {
        assert_eq!(
            app.get(&format!("/api/v1/situations/{id}"), &social_worker)
                .status,
            200
        );
    }
    app.get("/api/v1/situations/not-a-uuid", &social_worker);
    app.get(&format!("/api/v1/posts/{post}"), &admin);
    for i in 0..3 {
        app.get(&format!("/scanner/probe-{i}"), &admin);
    }

    let (status, content_type, text) = scrape(&app);
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
            .to_owned()
    };
    let count = |needle: &str| -> f64 { line(needle).rsplit(' ').next().unwrap().parse().unwrap() };
    assert_eq!(
        count(
            r#"relais_http_requests_total{method="GET",route="/api/v1/situations/{id}",status="200"}"#
        ),
        3.0
    );
    assert_eq!(
        count(
            r#"relais_http_requests_total{method="POST",route="/api/v1/situations",status="201"}"#
        ),
        3.0
    );
    assert_eq!(
        count(r#"relais_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        3.0
    );
    assert_eq!(
        count(
            r#"relais_http_request_duration_seconds_count{method="GET",route="/api/v1/situations/{id}",status="200"}"#
        ),
        3.0
    );
    line(
        r#"relais_http_request_duration_seconds_bucket{method="GET",route="/api/v1/situations/{id}",status="200",le="0.1"}"#,
    );
    // No raw path, so no id, reaches a label.
    for id in situations.iter().chain([&post]) {
        assert!(!text.contains(id.as_str()), "{id} leaked into the metrics");
    }
    assert!(!text.contains("probe-") && !text.contains("not-a-uuid"));
    // The service gauges.
    assert!(text.contains("relais_db_pool_connections{pool="), "{text}");
    assert_eq!(count("relais_webhook_outbox_pending "), 0.0);
    assert_eq!(count("relais_webhook_outbox_due "), 0.0);
}

#[test]
fn metrics_can_be_turned_off() {
    let app = TestApp::init().without_metrics().spawn();
    let answer = app.call("GET", "/metrics", None, None, &[]);
    answer.assert_problem(404);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("RELAIS_METRICS=off")
    );
    assert_eq!(
        app.call("GET", "/health/ready", None, None, &[]).status,
        200
    );
}

/// The error lines logged in this test process (the servers of the tests run in it).
fn error_log() -> &'static std::sync::Mutex<Vec<String>> {
    struct Capture(std::sync::Mutex<Vec<String>>);
    impl log::Log for Capture {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Error
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                self.0.lock().unwrap().push(record.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    static CAPTURE: std::sync::OnceLock<&'static Capture> = std::sync::OnceLock::new();
    &CAPTURE
        .get_or_init(|| {
            let capture: &'static Capture = Box::leak(Box::new(Capture(Default::default())));
            log::set_logger(capture).expect("no other logger in the API tests");
            log::set_max_level(log::LevelFilter::Error);
            capture
        })
        .0
}

#[test]
fn an_unexpected_failure_is_logged_with_the_request_id_and_its_cause_is_not_sent() {
    let logs = error_log();
    let app = TestApp::init().spawn();
    // Break the database under the service: the posts table is gone.
    app.db
        .write(|conn: &mut DbConnection| {
            conn.batch_execute("ALTER TABLE posts RENAME TO posts_gone")
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    let answer = app.call(
        "GET",
        "/api/v1/posts",
        Some(&app.admin()),
        None,
        &[("X-Request-Id", "trace-500")],
    );
    answer.assert_problem(500);
    assert_eq!(answer.body["request_id"], "trace-500");
    assert_eq!(
        answer.body["detail"], "internal error",
        "the cause stays in the log"
    );
    let logged: Vec<String> = logs
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("trace-500"))
        .cloned()
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].starts_with("request trace-500: GET /api/v1/posts answered 500: ")
            && logged[0].contains("posts"),
        "{logged:?}"
    );
}

/// SQLite: once the database file is deleted under the server, no write is acknowledged into the
/// unlinked file (503, `Retry-After`), the log says why, and readiness says so within a second.
#[test]
fn a_deleted_sqlite_file_takes_no_write_and_readiness_says_why() {
    let logs = error_log();
    let app = TestApp::init().spawn();
    let Some(file) = app.sqlite_file() else {
        eprintln!("skipped: the database file check is SQLite's");
        return;
    };
    let admin = app.admin();
    app.post(
        "/api/v1/posts",
        &admin,
        crate::support::fixtures::post_body("Avant"),
    )
    .expect_status(201);
    std::fs::remove_file(&file).unwrap();
    let refused = app.call(
        "POST",
        "/api/v1/posts",
        Some(&admin),
        Some(&crate::support::fixtures::post_body("Après")),
        &[("X-Request-Id", "trace-deleted")],
    );
    refused.assert_problem(503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused.body["detail"].as_str().unwrap().contains("deleted"),
        "{:#}",
        refused.body
    );
    let started = std::time::Instant::now();
    let ready = app.call("GET", "/health/ready", None, None, &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    ready.assert_problem(503);
    assert!(
        ready.body["detail"].as_str().unwrap().contains("deleted"),
        "{:#}",
        ready.body
    );
    app.call("GET", "/health", None, None, &[])
        .assert_problem(503);
    assert_eq!(app.call("GET", "/health/live", None, None, &[]).status, 200);
    let _ = logs;
}

/// PostgreSQL: a write that waits for a lock past `lock_timeout` is answered 503 with
/// `Retry-After` within seconds, not held for as long as the lock is.
#[test]
fn a_write_blocked_by_a_lock_is_answered_503_in_seconds() {
    let app = TestApp::init().spawn();
    if app.db.backend() != relais_persistence::Backend::Postgres {
        eprintln!("skipped: lock_timeout is PostgreSQL's");
        return;
    }
    let admin = app.admin();
    let (locked, release) = std::sync::mpsc::channel();
    let db = app.db.clone();
    let holder = std::thread::spawn(move || {
        db.write(|conn: &mut DbConnection| {
            conn.batch_execute("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
                .map_err(relais_persistence::StoreError::from)?;
            locked.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_secs(4));
            Ok::<_, relais_persistence::StoreError>(())
        })
    });
    release.recv().unwrap();
    let started = std::time::Instant::now();
    let answer = app.post(
        "/api/v1/posts",
        &admin,
        crate::support::fixtures::post_body("Bloqué"),
    );
    let waited = started.elapsed();
    answer.assert_problem(503);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(
        waited < std::time::Duration::from_millis(3500),
        "{waited:?}"
    );
    holder.join().unwrap().unwrap();
}
