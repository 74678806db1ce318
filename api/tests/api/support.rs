//! The test harness: a `TestApp` per test — the real application on a database of its own
//! (SQLite file, or PostgreSQL when `RELAIS_TEST_DATABASE_URL` is set), served over HTTP.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use relais_api::auth::{JwtSettings, TokenIssuer, resolve_keys};
use relais_api::http::protection::ProtectionSettings;
use relais_api::http::state::AppState;
use relais_api::jobs::webhooks::worker::{WebhookWorker, WorkerSettings};
use relais_domain::access::Principal;
use relais_domain::ids::{PostId, UnitId};
use relais_domain::reference::Role;
use relais_persistence::Database;
use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

pub struct TestApp {
    pub base: String,
    pub issuer: TokenIssuer,
    /// The application's database, for tests that write or read behind the API.
    pub db: Database,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    // Dropped last: the server must be gone before its database is.
    _database: TestDatabase,
}

/// An answer: status, headers we care about, and the body as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub allow: Option<String>,
    pub body: Value,
    /// Every header, by lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
}

impl Answer {
    /// A header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The field names of a problem's `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .expect("an id in the answer")
            .to_owned()
    }

    /// Asserts a problem+json answer with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{:#}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"].is_string()
                && self.body["title"].is_string()
                && self.body["detail"].is_string()
        );
    }
}

pub fn jwt_settings() -> JwtSettings {
    JwtSettings {
        secret: Some(TEST_SECRET.to_owned()),
        issuer: "relais".to_owned(),
        audience: "relais".to_owned(),
        ..JwtSettings::default()
    }
}

/// What a test may change in the application it spawns; by default the HS256 test secret, no
/// CORS and no rate limits (so that no test trips one by accident).
pub struct Options {
    pub jwt: JwtSettings,
    pub protection: ProtectionSettings,
    pub grids_dir: Option<std::path::PathBuf>,
    /// Whether `/metrics` is served (`RELAIS_METRICS`); on by default, as in production.
    pub metrics: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jwt: jwt_settings(),
            protection: ProtectionSettings::default(),
            grids_dir: None,
            metrics: true,
        }
    }
}

impl TestApp {
    pub fn spawn() -> Self {
        Self::spawn_with_grids(None)
    }

    /// An app with other keys, CORS or rate limits.
    pub fn spawn_with(options: Options) -> Self {
        Self::spawn_configured(TestDatabase::create(), options)
    }

    /// An app that also reads grid versions from `grids_dir`.
    pub fn spawn_with_grids(grids_dir: Option<&std::path::Path>) -> Self {
        Self::spawn_on(TestDatabase::create(), grids_dir)
    }

    /// An app on the given database.
    pub fn spawn_on(database: TestDatabase, grids_dir: Option<&std::path::Path>) -> Self {
        let options = Options {
            grids_dir: grids_dir.map(std::path::Path::to_path_buf),
            ..Options::default()
        };
        Self::spawn_configured(database, options)
    }

    fn spawn_configured(database: TestDatabase, options: Options) -> Self {
        let db = Database::open(&database.url, 4).expect("open the test database");
        let (verifier, issuer, _) = resolve_keys(&options.jwt, &db).expect("keys");
        let grids = relais_api::grids::GridSet::load(options.grids_dir.as_deref()).expect("grids");
        let metrics = options
            .metrics
            .then(|| relais_api::http::metrics::Metrics::new().expect("metrics"));
        let state = web::Data::new(
            AppState::new(db.clone(), verifier, grids, &options.protection, metrics)
                .expect("app state"),
        );
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || relais_api::app(state.clone()))
                    .workers(2)
                    .disable_signals()
                    .bind(("127.0.0.1", 0))
                    .expect("bind a free port");
                let address = server.addrs()[0];
                let server = server.run();
                sender
                    .send((address, server.handle()))
                    .expect("report the address");
                server.await.expect("server ran");
            });
        });
        let (address, handle) = receiver.recv().expect("the server started");
        TestApp {
            base: format!("http://{address}"),
            // An app that verifies public keys only cannot sign: its tests sign their own tokens,
            // and those of this issuer are refused.
            issuer: issuer.unwrap_or_else(|| {
                TokenIssuer::new(
                    jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
                    jsonwebtoken::Algorithm::HS256,
                    "relais",
                    "relais",
                )
            }),
            db,
            handle,
            thread: Some(thread),
            _database: database,
        }
    }

    pub fn token(&self, role: Role, posts: &[&str]) -> String {
        let principal = Principal {
            subject: format!("test-{role}"),
            role,
            post_ids: posts
                .iter()
                .map(|p| p.parse::<PostId>().expect("post id"))
                .collect(),
            unit_id: (role == Role::Officer).then(UnitId::generate),
            partner_id: (role == Role::Partner).then(relais_domain::ids::PartnerId::generate),
        };
        self.issuer
            .issue(&principal, chrono::Duration::minutes(10))
            .expect("sign a token")
    }

    /// A token for an officer of `unit`.
    pub fn officer(&self, unit: &str) -> String {
        self.scoped_token(Role::Officer, Some(unit), None)
    }

    /// A token for the system of `partner`.
    pub fn partner(&self, partner: &str) -> String {
        self.scoped_token(Role::Partner, None, Some(partner))
    }

    fn scoped_token(&self, role: Role, unit: Option<&str>, partner: Option<&str>) -> String {
        let principal = Principal {
            subject: format!("test-{role}"),
            role,
            post_ids: vec![],
            unit_id: unit.map(|u| u.parse().expect("unit id")),
            partner_id: partner.map(|p| p.parse().expect("partner id")),
        };
        self.issuer
            .issue(&principal, chrono::Duration::minutes(10))
            .expect("sign a token")
    }

    /// Creates a unit working with `post` and returns its id.
    pub fn create_unit(&self, post: &str) -> String {
        let answer = self.post(
            "/api/v1/units",
            &self.admin(),
            json!({"name": "Commissariat de Privas", "kind": "commissariat", "department_code": "07", "post_ids": [post]}),
        );
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.id()
    }

    /// Creates a partner of `kind` and returns its id.
    pub fn create_partner(&self, name: &str, kind: &str) -> String {
        let answer = self.post(
            "/api/v1/partners",
            &self.admin(),
            json!({"name": name, "kind": kind, "department_codes": ["07"], "themes": ["precarity", "child_in_danger"]}),
        );
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.id()
    }

    pub fn admin(&self) -> String {
        self.token(Role::Admin, &[])
    }

    /// A webhook worker on this app's database with a fast schedule (poll 20 ms, retry base 50 ms),
    /// stopped when dropped.
    pub fn webhook_worker(&self) -> WebhookWorker {
        self.webhook_worker_with(self.fast_webhook_settings())
    }

    /// The settings of `webhook_worker`.
    pub fn fast_webhook_settings(&self) -> WorkerSettings {
        WorkerSettings {
            enabled: true,
            poll: Duration::from_millis(20),
            retry_base: Duration::from_millis(50),
            lease: Duration::from_secs(5),
            // The test receivers listen on 127.0.0.1.
            private_addresses: true,
        }
    }

    /// A webhook worker on this app's database, stopped when dropped.
    pub fn webhook_worker_with(&self, settings: WorkerSettings) -> WebhookWorker {
        WebhookWorker::spawn(self.db.clone(), settings)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let result = match body {
            Some(body) => request.send_json(body.clone()),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        answer(response)
    }

    /// Sends raw bytes with a content type, for malformed and oversized bodies.
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        self.send_raw_with(method, path, token, content_type, body, &[])
    }

    /// `send_raw` with more headers.
    pub fn send_raw_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = ureq::request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", content_type);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_bytes(body) {
            Ok(response) | Err(ureq::Error::Status(_, response)) => answer(response),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None, &[])
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, Some(token), Some(&body), &[])
    }

    pub fn put(&self, path: &str, token: &str, if_match: Option<&str>, body: Value) -> Answer {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
        self.call("PUT", path, Some(token), Some(&body), &headers)
    }

    pub fn patch(&self, path: &str, token: &str, if_match: Option<&str>, body: Value) -> Answer {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
        self.call("PATCH", path, Some(token), Some(&body), &headers)
    }

    /// Creates a post as an administrator and returns its id.
    pub fn create_post(&self, name: &str) -> String {
        let answer = self.post("/api/v1/posts", &self.admin(), post_body(name));
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.id()
    }

    /// Opens the issue's example situation at `post` and returns the answer.
    pub fn create_situation(&self, token: &str, post: &str) -> Answer {
        let answer = self.post("/api/v1/situations", token, situation_body(post));
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer
    }
}

fn answer(response: ureq::Response) -> Answer {
    let status = response.status();
    let header = |name: &str| response.header(name).map(str::to_owned);
    let content_type = header("content-type").unwrap_or_default();
    let etag = header("etag");
    let location = header("location");
    let www_authenticate = header("www-authenticate");
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| (name.to_ascii_lowercase(), response.all(&name).join(", ")))
        .collect();
    let allow = header("allow");
    let text = response.into_string().unwrap_or_default();
    Answer {
        status,
        content_type,
        etag,
        location,
        www_authenticate,
        headers,
        allow,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn post_body(name: &str) -> Value {
    json!({
        "name": name, "kind": "mixed", "department_code": "07",
        "employer": "Association Le Relais 07", "convention": "tripartite"
    })
}

/// The example request of the foundation issue, which must work as written.
pub fn situation_body(post: &str) -> Value {
    json!({
        "post_id": post, "opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
        "problems": ["conjugal_violence", "housing"], "principal_problem": "conjugal_violence",
        "beneficiary": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987, "sex": "female",
                        "commune_code": "07010", "known_to_social_services": "no"}
    })
}
