//! End-to-end tests: they start the real `relais` binary on a free port, get tokens from its
//! own `relais token` command, and speak HTTP only. They run on SQLite, or on PostgreSQL when
//! `RELAIS_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

mod consolidation;
mod faults;
mod follow_up;
mod members;
mod operations;
mod secrets;
mod webhooks;

const BINARY: &str = env!("CARGO_BIN_EXE_relais");

/// A `relais serve` process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

fn relais(database_url: &str, env: &[(&str, &str)]) -> Command {
    with_env(Command::new(BINARY), database_url, env)
}

/// The keys of the runs on PostgreSQL, where the zero-set-up key file would land in the working
/// directory: the tests name their own (SQLite runs use the key file beside their database).
const POSTGRES_DATA_KEYS: &str = "e2e-data:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const POSTGRES_AUDIT_KEY: &str = "e2e-audit:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// `command` with only the environment of a test run: `PATH`, `DATABASE_URL`, `RUST_LOG=warn`,
/// the keys on PostgreSQL, and `env`.
fn with_env(mut command: Command, database_url: &str, env: &[(&str, &str)]) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    if database_url.starts_with("postgres") {
        command
            .env("RELAIS_DATA_KEYS", POSTGRES_DATA_KEYS)
            .env("RELAIS_AUDIT_KEY", POSTGRES_AUDIT_KEY);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Each setting, alone, must stop `relais serve` at start with an error naming it.
fn assert_refused_at_start(settings: &[(&str, &str)]) {
    let db = TestDatabase::create();
    for &(name, value) in settings {
        let output = relais(&db.url, &[(name, value)])
            .arg("serve")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}={value}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(name),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Server {
    fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::launch(relais(database_url, env))
    }

    /// Runs `command` (from [`relais`], perhaps wrapped) with `serve` on a free port, and waits
    /// until it answers.
    fn launch(mut command: Command) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let child = command
            .args(["serve"])
            .env("RELAIS_BIND", &bind)
            .env("RELAIS_WORKERS", "2")
            .stdout(Stdio::null())
            .spawn()
            .expect("start relais serve");
        let mut server = Server {
            child,
            base: format!("http://{bind}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if ureq::get(&format!("{}/health", server.base)).call().is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("relais serve exited at start ({status}); see its log above");
            }
            assert!(
                Instant::now() < deadline,
                "relais serve did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let request = ureq::request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                let status = response.status();
                (status, response.into_json().unwrap_or(Value::Null))
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token from the binary's own `relais token` command.
fn token(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let output = relais(database_url, env)
        .arg("token")
        .args(args)
        .output()
        .expect("run relais token");
    assert!(
        output.status.success(),
        "relais token failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn create_post(server: &Server, admin: &str) -> String {
    let (status, body) = server.call(
        "POST",
        "/api/v1/posts",
        admin,
        Some(json!({"name": "ISCG Privas", "kind": "mixed", "department_code": "07", "employer": "Association", "convention": "tripartite"})),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn example_situation(post: &str) -> Value {
    json!({"post_id": post, "opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
           "problems": ["conjugal_violence", "housing"], "principal_problem": "conjugal_violence",
           "beneficiary": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987, "sex": "female",
                           "commune_code": "07010", "known_to_social_services": "no"}})
}

#[test]
fn zero_set_up_tokens_work_and_survive_a_restart() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &[]);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    let post = create_post(&server, &admin);
    let social_worker = token(
        &db.url,
        &[],
        &[
            "--role",
            "social_worker",
            "--post",
            &post,
            "--subject",
            "iscg.privas",
        ],
    );
    let (status, situation) = server.call(
        "POST",
        "/api/v1/situations",
        &social_worker,
        Some(example_situation(&post)),
    );
    assert_eq!(status, 201, "{situation}");
    let path = format!("/api/v1/situations/{}", situation["id"].as_str().unwrap());
    let (status, interventions) = server.call(
        "POST",
        &format!("{path}/interventions"),
        &social_worker,
        Some(json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 45})),
    );
    assert_eq!(status, 201, "{interventions}");
    assert_eq!(interventions["recorded_by"], "iscg.privas");
    drop(server);

    let restarted = Server::start(&db.url, &[]);
    let (status, read) = restarted.call("GET", &path, &social_worker, None);
    assert_eq!(
        status, 200,
        "the instance secret must survive a restart: {read}"
    );
    assert_eq!(read["beneficiary"]["first_name"], "Camille");
}

#[test]
fn a_configured_secret_replaces_the_instance_secret() {
    let db = TestDatabase::create();
    let configured = [(
        "RELAIS_JWT_SECRET",
        "a-configured-secret-of-more-than-32-bytes",
    )];
    let server = Server::start(&db.url, &configured);
    let good = token(&db.url, &configured, &["--role", "admin"]);
    assert_eq!(server.call("GET", "/api/v1/posts", &good, None).0, 200);
    let instance_signed = token(&db.url, &[], &["--role", "admin"]);
    assert_eq!(
        server
            .call("GET", "/api/v1/posts", &instance_signed, None)
            .0,
        401
    );
    let foreign_audience = token(
        &db.url,
        &[configured[0], ("RELAIS_JWT_AUDIENCE", "elsewhere")],
        &["--role", "admin"],
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/posts", &foreign_audience, None)
            .0,
        401
    );
}

#[test]
fn sixty_four_concurrent_creations_all_land() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &[]);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    let post = create_post(&server, &admin);
    let social_worker = token(&db.url, &[], &["--role", "social_worker", "--post", &post]);
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                scope.spawn(|| {
                    server.call(
                        "POST",
                        "/api/v1/situations",
                        &social_worker,
                        Some(example_situation(&post)),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, body) in &statuses {
        assert_eq!(*status, 201, "{body}");
    }
    let (status, list) = server.call("GET", "/api/v1/situations?limit=200", &social_worker, None);
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 64);
    assert!(list["next_cursor"].is_null());
}

#[test]
fn swagger_ui_and_the_published_spec_are_served() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &[]);
    let page = ureq::get(&format!("{}/swagger-ui/", server.base))
        .call()
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.content_type().starts_with("text/html"));
    assert!(
        page.into_string()
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
    let served: Value = ureq::get(&format!("{}/api-docs/openapi.json", server.base))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, published,
        "the served spec must be the published one"
    );
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let db = TestDatabase::create();
    let run = || {
        let output = relais(&db.url, &[]).arg("migrate").output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(
        !run().starts_with("0 "),
        "the first run applies the migrations"
    );
    assert!(
        run().starts_with("0 migration"),
        "the second run has nothing to do"
    );
}

#[test]
fn bad_settings_fail_at_start_with_a_message() {
    let db = TestDatabase::create();
    let output = relais(&db.url, &[("RELAIS_JWT_SECRET", "short")])
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("RELAIS_JWT_SECRET"));
    let scopeless = relais(&db.url, &[])
        .args(["token", "--role", "social_worker"])
        .output()
        .unwrap();
    assert!(
        !scopeless.status.success(),
        "a social worker token needs a post"
    );
    assert!(String::from_utf8_lossy(&scopeless.stderr).contains("post_ids"));
}

fn fixture(name: &str) -> String {
    format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn tokens_of_an_external_identity_provider_are_verified_with_its_public_key() {
    for (algorithm, public, private) in [
        ("ES256", "es256-public.pem", "es256-private.pem"),
        ("RS256", "rs256-public.pem", "rs256-private.pem"),
    ] {
        let db = TestDatabase::create();
        let (public, private) = (fixture(public), fixture(private));
        let provider = [
            ("RELAIS_JWT_ALGORITHM", algorithm),
            ("RELAIS_JWT_PUBLIC_KEY", public.as_str()),
            ("RELAIS_JWT_ISSUER", "https://idp.example.fr"),
            ("RELAIS_JWT_AUDIENCE", "relais-api"),
        ];
        let server = Server::start(&db.url, &provider);
        let mut signing = provider.to_vec();
        signing.push(("RELAIS_JWT_PRIVATE_KEY", private.as_str()));
        let good = token(&db.url, &signing, &["--role", "admin"]);
        assert_eq!(
            server.call("GET", "/api/v1/posts", &good, None).0,
            200,
            "{algorithm}"
        );
        // An HS256 token, even one signed with the public key as secret, is refused: the algorithm is pinned.
        let pem = std::fs::read_to_string(&public).unwrap();
        let confused = token(
            &db.url,
            &[
                ("RELAIS_JWT_SECRET", pem.as_str()),
                provider[2],
                provider[3],
            ],
            &["--role", "admin"],
        );
        assert_eq!(
            server.call("GET", "/api/v1/posts", &confused, None).0,
            401,
            "{algorithm}"
        );
        let other_issuer = token(
            &db.url,
            &[
                signing[0],
                signing[1],
                ("RELAIS_JWT_ISSUER", "https://evil.example"),
                signing[3],
                signing[4],
            ],
            &["--role", "admin"],
        );
        assert_eq!(
            server.call("GET", "/api/v1/posts", &other_issuer, None).0,
            401,
            "{algorithm}"
        );
    }
}

/// `relais purge --dry-run` lists, `relais purge` anonymises, a second `relais purge` finds
/// nothing, and the job of a `relais serve` started with `RELAIS_PURGE_JOB=on` does the same.
#[test]
fn purge_lists_then_anonymises_what_is_past_retention_and_the_job_does_too() {
    use diesel::prelude::*;
    use relais_persistence::schema::beneficiaries;

    let db = TestDatabase::create();
    let off = [("RELAIS_PURGE_JOB", "off")];
    let server = Server::start(&db.url, &off);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    let post = create_post(&server, &admin);
    let sw = token(&db.url, &[], &["--role", "social_worker", "--post", &post]);
    let open = |opened_on: &str| {
        let mut body = example_situation(&post);
        body["opened_on"] = json!(opened_on);
        let (status, body) = server.call("POST", "/api/v1/situations", &sw, Some(body));
        assert_eq!(status, 201, "{body}");
        body["beneficiary"]["id"].as_str().unwrap().to_owned()
    };
    // Records entered in 2023 are past the two years; one opened this year is not.
    let entered_in_2023 = |person: &str| {
        let store = relais_persistence::Database::connect(&db.url, 1).unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2023, 3, 14)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        store
            .write(|conn| {
                diesel::update(beneficiaries::table.find(person))
                    .set(beneficiaries::created_at.eq(at))
                    .execute(conn)
                    .map_err(relais_persistence::StoreError::from)
            })
            .unwrap();
    };
    let old = open("2023-03-14");
    entered_in_2023(&old);
    let recent = open("2026-03-14");
    let last_name = |server: &Server, person: &str| {
        let (status, body) =
            server.call("GET", &format!("/api/v1/beneficiaries/{person}"), &sw, None);
        assert_eq!(status, 200, "{body}");
        body["last_name"].clone()
    };
    let purge = |args: &[&str], env: &[(&str, &str)]| {
        let output = relais(&db.url, env)
            .arg("purge")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };

    let (ok, listed, errors) = purge(&["--dry-run"], &[]);
    assert!(ok, "{errors}");
    assert!(
        listed.contains("would anonymise 1 person(s) with 1 situation(s)"),
        "{listed}"
    );
    assert!(
        listed.contains(&old) && !listed.contains(&recent),
        "{listed}"
    );
    assert!(!listed.contains("Martin"), "ids and counts, no content");
    assert_eq!(
        last_name(&server, &old),
        "Martin",
        "a dry run changes nothing"
    );

    let (ok, done, errors) = purge(&[], &[]);
    assert!(ok, "{errors}");
    assert!(
        done.contains("anonymised 1 person(s) with 1 situation(s)"),
        "{done}"
    );
    assert_eq!(last_name(&server, &old), Value::Null);
    assert_eq!(last_name(&server, &recent), "Martin");
    let (ok, again, _) = purge(&[], &[]);
    assert!(ok && again.contains("anonymised 0 person(s)"), "{again}");

    for (name, value) in [
        ("RELAIS_RETENTION_DAYS", "two years"),
        ("RELAIS_RETENTION_DAYS", "0"),
        ("RELAIS_PURGE_JOB", "daily"),
        ("RELAIS_PURGE_INTERVAL_HOURS", "0"),
        // Shorter than the 180 days the database keeps audit events at least.
        ("RELAIS_AUDIT_RETENTION_DAYS", "30"),
    ] {
        let (ok, _, errors) = purge(&[], &[(name, value)]);
        assert!(!ok && errors.contains(name), "{name}={value}: {errors}");
    }

    // The job of `relais serve` runs at start, then every RELAIS_PURGE_INTERVAL_HOURS.
    let later = open("2023-06-01");
    entered_in_2023(&later);
    drop(server);
    let server = Server::start(&db.url, &[("RELAIS_PURGE_JOB", "on")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while last_name(&server, &later) != Value::Null {
        assert!(Instant::now() < deadline, "the job did not run within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last_name(&server, &recent), "Martin");
}
