//! The test harness: a `TestApp` per test — the real application on a database of its own
//! (SQLite file, or PostgreSQL when `RELAIS_TEST_DATABASE_URL` is set), served over HTTP.

use std::path::{Path, PathBuf};
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

use super::answer::{Answer, answer};
use super::fixtures::{post_body, situation_body};

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

pub struct TestApp {
    pub base: String,
    pub issuer: TokenIssuer,
    /// The application's database, for tests that write or read behind the API.
    pub db: Database,
    /// The application's state, for tests that look behind the API (its write count).
    pub state: web::Data<AppState>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    // Dropped last: the server must be gone before its database is.
    _database: TestDatabase,
}

fn jwt_settings() -> JwtSettings {
    JwtSettings {
        secret: Some(TEST_SECRET.to_owned()),
        issuer: "relais".to_owned(),
        audience: "relais".to_owned(),
        ..JwtSettings::default()
    }
}

/// How a test describes the app it wants, crates.io style: `TestApp::init()`, then what differs
/// from the default, then `spawn()`. By default: the HS256 test secret, no CORS, no rate limits
/// (so that no test trips one by accident), the built-in grids, `/metrics` served (as in
/// production), on a fresh database.
#[must_use = "an app is only started by `spawn()`"]
pub struct TestAppBuilder {
    jwt: JwtSettings,
    protection: ProtectionSettings,
    grids_dir: Option<PathBuf>,
    metrics: bool,
    database: Option<TestDatabase>,
    webhooks_per_partner: Option<u32>,
    authorization: relais_api::auth::Authorization,
    oidc_providers: Vec<relais_api::auth::ProviderSettings>,
}

impl TestAppBuilder {
    /// The token exchange (`RELAIS_OIDC_PROVIDERS`) with these providers; its tokens live
    /// 15 minutes.
    pub fn with_oidc_providers(
        mut self,
        providers: Vec<relais_api::auth::ProviderSettings>,
    ) -> Self {
        self.oidc_providers = providers;
        self
    }

    /// Roles and scopes from memberships (`RELAIS_AUTHORIZATION=memberships` or `both`).
    pub fn with_authorization(mut self, authorization: relais_api::auth::Authorization) -> Self {
        self.authorization = authorization;
        self
    }

    /// Other keys (an RS256 provider, a JWKS, ...).
    pub fn with_jwt(mut self, jwt: JwtSettings) -> Self {
        self.jwt = jwt;
        self
    }

    /// CORS origins or rate limits.
    pub fn with_protection(mut self, protection: ProtectionSettings) -> Self {
        self.protection = protection;
        self
    }

    /// Also reads grid versions from `dir`.
    pub fn with_grids(mut self, dir: &Path) -> Self {
        self.grids_dir = Some(dir.to_path_buf());
        self
    }

    /// `/metrics` not served (`RELAIS_METRICS=false`).
    pub fn without_metrics(mut self) -> Self {
        self.metrics = false;
        self
    }

    /// Each partner allowed `max` active webhooks (`RELAIS_WEBHOOKS_PER_PARTNER`) rather than
    /// the default.
    pub fn with_webhooks_per_partner(mut self, max: u32) -> Self {
        self.webhooks_per_partner = Some(max);
        self
    }

    /// On the given database rather than a fresh one of the suite's backend.
    pub fn on_database(mut self, database: TestDatabase) -> Self {
        self.database = Some(database);
        self
    }

    /// Starts the app and waits until it listens.
    pub fn spawn(self) -> TestApp {
        let database = self.database.unwrap_or_else(TestDatabase::create);
        let db = Database::open(&database.url, 4).expect("open the test database");
        let (verifier, issuer, _) = resolve_keys(&self.jwt, &db).expect("keys");
        let grids = relais_api::grids::GridSet::load(self.grids_dir.as_deref()).expect("grids");
        let metrics = self
            .metrics
            .then(|| relais_api::http::metrics::Metrics::new().expect("metrics"));
        let mut state = AppState::new(db.clone(), verifier, grids, &self.protection, metrics)
            .expect("app state")
            .with_authorization(self.authorization);
        // The token endpoint, whenever the app signs its tokens; with the providers if any.
        // (Keys resolved again only then: an app verifying a JWKS would fetch it twice.)
        let signer = issuer
            .is_some()
            .then(|| resolve_keys(&self.jwt, &db).expect("keys").1)
            .flatten();
        if let Some(signer) = signer {
            let providers = (!self.oidc_providers.is_empty()).then(|| {
                std::sync::Arc::new(
                    relais_api::auth::Providers::new(
                        self.oidc_providers,
                        Duration::from_secs(1),
                        &self.jwt.audience,
                    )
                    .expect("the providers' keys"),
                )
            });
            state = state.with_front_door(relais_api::auth::FrontDoor {
                providers,
                issuer: signer,
                ttl: chrono::Duration::minutes(15),
            });
        }
        if let Some(max) = self.webhooks_per_partner {
            state = state.with_webhooks_per_partner(max);
        }
        let state = web::Data::new(state);
        let kept = state.clone();
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
            state: kept,
            handle,
            thread: Some(thread),
            _database: database,
        }
    }
}

impl TestApp {
    /// The one way to an app: `TestApp::init()`, what the test changes, `.spawn()`.
    /// The SQLite file of the app's database; `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        (self.db.backend() == relais_persistence::Backend::Sqlite)
            .then(|| relais_persistence::db::sqlite_path(&self._database.url).into())
    }

    pub fn init() -> TestAppBuilder {
        TestAppBuilder {
            jwt: jwt_settings(),
            protection: ProtectionSettings::default(),
            grids_dir: None,
            metrics: true,
            database: None,
            webhooks_per_partner: None,
            authorization: relais_api::auth::Authorization::default(),
            oidc_providers: Vec::new(),
        }
    }

    /// A token naming only an identity (`sub`, and `email` for an invitation's first login),
    /// issued by the app's issuer (`relais`).
    pub fn identity_token(&self, subject: &str, email: Option<&str>) -> String {
        self.issuer
            .issue_identity(subject, email, chrono::Duration::minutes(10))
            .expect("sign an identity token")
    }

    /// Grants a membership behind the API, as `relais members add` does; returns its id.
    pub fn grant_member(&self, body: Value) -> String {
        let input: relais_domain::member::NewMember =
            serde_json::from_value(body).expect("a membership");
        let by = Principal::system("members-add");
        let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock);
        let member = self
            .db
            .write(|conn| relais_api::workflows::members::grant(conn, &by, &input, now))
            .expect("grant the membership");
        member.id.to_string()
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
        self.create_partner_with(&self.admin(), name, kind)
    }

    /// Creates a departmental social services partner with `admin`'s token (a membership's, in
    /// memberships mode) and returns its id.
    pub fn create_partner_as(&self, admin: &str, name: &str) -> String {
        self.create_partner_with(admin, name, "departmental_social_services")
    }

    fn create_partner_with(&self, admin: &str, name: &str, kind: &str) -> String {
        let answer = self.post(
            "/api/v1/partners",
            admin,
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

    /// Posts a form (`application/x-www-form-urlencoded`) without a token, as to a token endpoint.
    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_form_with(path, &[], form)
    }

    /// `post_form` with headers (a client's `Authorization: Basic …`).
    pub fn post_form_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Answer {
        let mut request = ureq::post(&format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_form(form) {
            Ok(response) | Err(ureq::Error::Status(_, response)) => answer(response),
            Err(e) => panic!("POST {path}: {e}"),
        }
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
        self.create_post_as(&self.admin(), name)
    }

    /// Creates a post with `admin`'s token and returns its id.
    pub fn create_post_as(&self, admin: &str, name: &str) -> String {
        let answer = self.post("/api/v1/posts", admin, post_body(name));
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.id()
    }

    /// A token of the app's issuer and audience, valid now for ten minutes, with `claims` added
    /// (HS256 with the test secret).
    pub fn issuer_claims_token(&self, claims: Value) -> String {
        let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
        let mut all =
            json!({"iss": "relais", "aud": "relais", "iat": now, "nbf": now, "exp": now + 600});
        for (name, value) in claims.as_object().expect("claims") {
            all[name] = value.clone();
        }
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &all,
            &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        )
        .expect("sign")
    }

    /// Opens the issue's example situation at `post` and returns the answer.
    pub fn create_situation(&self, token: &str, post: &str) -> Answer {
        let answer = self.post("/api/v1/situations", token, situation_body(post));
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer
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
