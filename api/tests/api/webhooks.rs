//! Webhooks: a partner registers a URL, each of its events is POSTed there signed, retried
//! under the same `webhook-id` until acknowledged, and every delivery is visible to it alone.

use std::time::Duration;

use relais_api::jobs::webhooks::signing::verify;
use relais_api::jobs::webhooks::worker::WorkerSettings;
use relais_domain::access::Principal;
use relais_domain::ids::PartnerId;
use relais_domain::reference::Role;
use relais_persistence::StoreError;
use relais_persistence::events::{self, NewEvent};
use serde_json::{Value, json};

use crate::support::TestApp;

#[path = "webhook_receiver.rs"]
mod receiver;

use receiver::{Receiver, Reply};

/// The longest a test waits for the worker.
const PATIENCE: Duration = Duration::from_secs(10);

/// Adds the example partner to the directory and returns its id.
fn create_partner(app: &TestApp) -> String {
    let answer = app.post(
        "/api/v1/partners",
        &app.admin(),
        json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]}),
    );
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    answer.id()
}

/// A token of the partner system of `partner`.
fn partner_token(app: &TestApp, partner: &str) -> String {
    let principal = Principal {
        subject: format!("partner-system-{partner}"),
        role: Role::Partner,
        post_ids: vec![],
        unit_id: None,
        partner_id: Some(partner.parse().unwrap()),
    };
    app.issuer
        .issue(&principal, chrono::Duration::minutes(10))
        .unwrap()
}

/// Registers a webhook to `url` and returns the answer's body (with the secret).
fn register(app: &TestApp, token: &str, url: &str) -> Value {
    let answer = app.post("/api/v1/webhooks", token, json!({ "url": url }));
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    assert_eq!(
        answer.location,
        Some(format!("/api/v1/webhooks/{}", answer.id()))
    );
    answer.body
}

/// Records an event for `partner`, as a change would in its transaction; returns its id.
fn emit(app: &TestApp, partner: &str, kind: &str) -> String {
    let partner: PartnerId = partner.parse().unwrap();
    let record_id = uuid::Uuid::now_v7().to_string();
    let data = json!({"hand_off_id": record_id, "status": "sent"}).to_string();
    app.db
        .write(|conn| {
            let seq = events::append(
                conn,
                &NewEvent {
                    kind: kind.parse().unwrap(),
                    occurred_at: relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
                    post: None,
                    partner: Some(partner),
                    unit: None,
                    record_type: "hand_off",
                    record_id: record_id.clone(),
                    data,
                },
            )?;
            Ok::<_, StoreError>(events::get(conn, seq)?.id)
        })
        .unwrap()
}

/// Polls the deliveries of a webhook until `done` holds for them.
#[track_caller]
fn wait_for_deliveries(
    app: &TestApp,
    token: &str,
    webhook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let answer = app.get(&format!("/api/v1/webhooks/{webhook}/deliveries"), token);
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        let items = answer.body["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries: {items:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A partner with a webhook to a receiver that acknowledges everything, a worker running, and
/// two events emitted for the partner and received.
struct Hooked {
    partner: String,
    token: String,
    /// The answer to the registration.
    created: Value,
    secret: String,
    webhook: String,
    /// The ids of the events emitted: hand_off.sent, then hand_off.consent_withdrawn.
    sent: [String; 2],
    received: Vec<receiver::Received>,
    _worker: relais_api::jobs::webhooks::worker::WebhookWorker,
    _receiver: Receiver,
}

fn hooked(app: &TestApp) -> Hooked {
    let partner = create_partner(app);
    let token = partner_token(app, &partner);
    let receiver = Receiver::start(vec![]);
    let created = register(app, &token, &receiver.url);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let webhook = created["id"].as_str().unwrap().to_owned();
    let worker = app.webhook_worker();
    let sent = [
        emit(app, &partner, "hand_off.sent"),
        emit(app, &partner, "hand_off.consent_withdrawn"),
    ];
    let received = receiver.wait_for(PATIENCE, "two events", |r| r.len() >= 2);
    Hooked {
        partner,
        token,
        created,
        secret,
        webhook,
        sent,
        received,
        _worker: worker,
        _receiver: receiver,
    }
}

#[test]
fn a_webhook_is_registered_active_with_its_secret_shown_at_creation() {
    let app = TestApp::init().spawn();
    let hooked = hooked(&app);
    let created = &hooked.created;
    assert!(hooked.secret.starts_with("whsec_"), "{}", hooked.secret);
    assert_eq!(created["partner_id"], hooked.partner.as_str());
    assert_eq!(created["active"], true);
    assert_eq!(created["version"], 1);
}

#[test]
fn each_event_is_posted_signed_with_the_secret_shown_at_creation() {
    let app = TestApp::init().spawn();
    let hooked = hooked(&app);
    let mut ids = Vec::new();
    for request in &hooked.received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hooks/relais");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let id = request.header("webhook-id").expect("webhook-id");
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .expect("webhook-timestamp")
            .parse()
            .unwrap();
        assert!(
            (relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp()
                - timestamp)
                .abs()
                < 60
        );
        let signature = request
            .header("webhook-signature")
            .expect("webhook-signature");
        assert!(signature.starts_with("v1,"), "{signature}");
        assert!(
            verify(&hooked.secret, id, timestamp, &request.body, signature),
            "the signature must verify with the secret given at creation"
        );
        assert!(!verify(
            &hooked.secret,
            id,
            timestamp + 1,
            &request.body,
            signature
        ));
        let body = request.json();
        assert_eq!(body["data"]["status"], "sent");
        // The feed's envelope and names: seq, id, type, occurred_at, record_type, record_id, data.
        assert_eq!(body["record_type"], "hand_off");
        assert_eq!(body["id"], id);
        assert!(body["seq"].is_i64());
        assert!(
            chrono::DateTime::parse_from_rfc3339(body["occurred_at"].as_str().unwrap()).is_ok()
        );
        ids.push((id.to_owned(), body["type"].as_str().unwrap().to_owned()));
    }
    ids.sort();
    let mut expected = vec![
        (hooked.sent[0].clone(), "hand_off.sent".to_owned()),
        (
            hooked.sent[1].clone(),
            "hand_off.consent_withdrawn".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(ids, expected, "webhook-id is the event's id");
}

#[test]
fn each_delivery_is_listed_delivered_newest_first_page_by_page() {
    let app = TestApp::init().spawn();
    let hooked = hooked(&app);
    let deliveries = wait_for_deliveries(&app, &hooked.token, &hooked.webhook, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "delivered")
    });
    assert_eq!(
        deliveries[0]["event_type"], "hand_off.consent_withdrawn",
        "newest first"
    );
    for delivery in &deliveries {
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status_code"], 200);
        assert!(delivery["delivered_at"].is_string());
        assert!(delivery["next_attempt_at"].is_null());
    }
    let first = app.get(
        &format!("/api/v1/webhooks/{}/deliveries?limit=1", hooked.webhook),
        &hooked.token,
    );
    assert_eq!(first.body["items"][0]["id"], deliveries[0]["id"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(
        &format!(
            "/api/v1/webhooks/{}/deliveries?limit=1&cursor={cursor}",
            hooked.webhook
        ),
        &hooked.token,
    );
    assert_eq!(second.body["items"][0]["id"], deliveries[1]["id"]);
    assert!(second.body["next_cursor"].is_null());
}

#[test]
fn a_failed_attempt_is_retried_under_the_same_webhook_id() {
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    let receiver = Receiver::start(vec![Reply::status(500)]);
    let webhook = register(&app, &token, &receiver.url)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _worker = app.webhook_worker();
    let event = emit(&app, &partner, "hand_off.sent");

    let received = receiver.wait_for(PATIENCE, "a retry", |r| r.len() >= 2);
    let ids: Vec<_> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids, [Some(event.as_str()), Some(event.as_str())]);
    assert_eq!(received[0].body, received[1].body, "the same event");
    assert!(
        received[1].at - received[0].at >= Duration::from_millis(50),
        "the retry waits the base of the schedule"
    );

    let deliveries = wait_for_deliveries(&app, &token, &webhook, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    });
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery["event_id"], event.as_str());
    assert_eq!(delivery["event_type"], "hand_off.sent");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["last_status_code"], 200);
    assert!(delivery["last_error"].is_null());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(receiver.received().len(), 2, "nothing after the 2xx");
}

/// A partner's webhook to `receiver`, one event, and a worker with `settings`: the event's
/// delivery once it has been attempted twice (so it is being retried).
fn retried_delivery(app: &TestApp, receiver: &Receiver, settings: WorkerSettings) -> Value {
    let partner = create_partner(app);
    let token = partner_token(app, &partner);
    let webhook = register(app, &token, &receiver.url)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _worker = app.webhook_worker_with(settings);
    emit(app, &partner, "hand_off.sent");
    let deliveries = wait_for_deliveries(app, &token, &webhook, |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(2))
    });
    deliveries[0].clone()
}

#[test]
fn a_failing_receiver_shows_its_status_and_the_next_attempt() {
    let app = TestApp::init().spawn();
    let receiver = Receiver::start(vec![Reply::status(503); 100]);
    let delivery = retried_delivery(&app, &receiver, app.fast_webhook_settings());
    assert_eq!(delivery["status"], "pending");
    assert_eq!(delivery["last_status_code"], 503);
    assert_eq!(
        delivery["last_error"], "HTTP 503",
        "the status, and no more"
    );
    assert!(delivery["next_attempt_at"].is_string());
    assert!(delivery["delivered_at"].is_null());
}

/// By default a webhook is never delivered to a private address (a partner could otherwise make
/// Relais POST into the deployment's own network): the attempt fails as `unreachable` (the
/// server's log says why), and the receiver gets nothing.
#[test]
fn a_webhook_to_a_private_address_is_not_delivered_by_default() {
    let app = TestApp::init().spawn();
    let receiver = Receiver::start(vec![Reply::status(204); 10]);
    let settings = WorkerSettings {
        private_addresses: false,
        ..app.fast_webhook_settings()
    };
    let delivery = retried_delivery(&app, &receiver, settings);
    assert_eq!(delivery["status"], "pending");
    assert!(delivery["last_status_code"].is_null());
    assert_eq!(delivery["last_error"], "unreachable");
    assert!(receiver.received().is_empty());
}

/// A refused connection says `unreachable` as a refused address does: `last_error` tells a
/// partner nothing of what listens where.
#[test]
fn a_refused_connection_says_only_unreachable() {
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let webhook = register(&app, &token, &format!("http://127.0.0.1:{port}/hooks"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _worker = app.webhook_worker();
    emit(&app, &partner, "hand_off.sent");
    let deliveries = wait_for_deliveries(&app, &token, &webhook, |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
    });
    assert_eq!(deliveries[0]["status"], "pending");
    assert!(deliveries[0]["last_status_code"].is_null());
    assert_eq!(deliveries[0]["last_error"], "unreachable");
}

/// IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4), and the
/// site-local and documentation ranges, are refused like the IPv4 address they name: the
/// receiver on 127.0.0.1 gets nothing, and each delivery says `unreachable`.
#[test]
fn webhooks_to_ipv6_forms_of_private_addresses_are_not_delivered() {
    let app = TestApp::init().with_webhooks_per_partner(10).spawn();
    let receiver = Receiver::start(vec![]);
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    let hosts = [
        "[::ffff:127.0.0.1]",
        "[::7f00:1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[fec0::1]",
        "[2001:db8::1]",
    ];
    let webhooks: Vec<String> = hosts
        .iter()
        .map(|host| {
            register(&app, &token, &format!("http://{host}:{port}/hooks/relais"))["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let _worker = app.webhook_worker_with(WorkerSettings {
        private_addresses: false,
        ..app.fast_webhook_settings()
    });
    emit(&app, &partner, "hand_off.sent");
    for (host, webhook) in hosts.iter().zip(&webhooks) {
        let deliveries = wait_for_deliveries(&app, &token, webhook, |items| {
            items
                .first()
                .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
        });
        assert!(deliveries[0]["last_status_code"].is_null(), "{host}");
        assert_eq!(deliveries[0]["last_error"], "unreachable", "{host}");
    }
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
}

/// A partner has at most `RELAIS_WEBHOOKS_PER_PARTNER` active webhooks (5 by default): one
/// more is a 409 problem; a deleted one makes room; another partner has its own count.
#[test]
fn a_partner_has_at_most_five_webhooks_by_default() {
    let app = TestApp::init().spawn();
    let (a, b) = (create_partner(&app), create_partner(&app));
    let (token_a, token_b) = (partner_token(&app, &a), partner_token(&app, &b));
    let url = |i: usize| format!("https://si.ccas-privas.fr/relais/webhook/{i}");
    let first: Vec<String> = (0..5)
        .map(|i| {
            register(&app, &token_a, &url(i))["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let refused = app.post("/api/v1/webhooks", &token_a, json!({ "url": url(5) }));
    refused.assert_problem(409);
    assert_eq!(refused.body["type"], "/problems/conflict");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("5 active webhooks"), "{detail}");
    assert_eq!(
        app.get("/api/v1/webhooks", &token_a).body["items"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "nothing registered"
    );
    register(&app, &token_b, &url(0));

    let deleted = app.call(
        "DELETE",
        &format!("/api/v1/webhooks/{}", first[0]),
        Some(&token_a),
        None,
        &[],
    );
    assert_eq!(deleted.status, 204);
    register(&app, &token_a, &url(5));
    app.post("/api/v1/webhooks", &token_a, json!({ "url": url(6) }))
        .assert_problem(409);
}

/// Registrations sent at once never pass the limit: each counts with its partner's row locked.
#[test]
fn registrations_sent_at_once_never_pass_the_limit() {
    let app = TestApp::init().with_webhooks_per_partner(3).spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..8)
            .map(|i| {
                let (app, token) = (&app, &token);
                scope.spawn(move || {
                    let url = format!("https://si.ccas-privas.fr/relais/webhook/{i}");
                    app.post("/api/v1/webhooks", token, json!({ "url": url }))
                        .status
                })
            })
            .collect();
        sent.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, refused), (3, 5), "{statuses:?}");
    assert_eq!(
        app.get("/api/v1/webhooks", &token).body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// The count and the insert of a registration hold the partner's row: a second registration
/// while the first's transaction is open waits for it, then counts its webhook (on PostgreSQL,
/// without the lock, it would count one too few and pass the limit).
#[test]
fn a_registration_waits_for_one_in_flight_and_counts_it() {
    use relais_api::workflows::{WorkflowError, webhooks::register as register_within};
    let app = TestApp::init().spawn();
    let partner: PartnerId = create_partner(&app).parse().unwrap();
    let url = "https://si.ccas-privas.fr/relais/webhook";
    let hold = Duration::from_millis(500);
    let (locked, finished) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (finished_during_hold, second) = std::thread::scope(|scope| {
        let db = app.db.clone();
        let first = scope.spawn(move || {
            db.write(|conn| {
                register_within(conn, partner, url, "whsec_a", 1)?;
                locked.0.send(()).unwrap();
                // Hold the transaction open while the other registration runs.
                Ok::<_, WorkflowError>(finished.1.recv_timeout(hold).is_ok())
            })
            .unwrap()
        });
        locked.1.recv().unwrap();
        let second = app
            .db
            .write(|conn| register_within(conn, partner, url, "whsec_b", 1));
        let _ = finished.0.send(());
        (first.join().unwrap(), second)
    });
    assert!(
        !finished_during_hold,
        "the second registration must wait for the first's transaction"
    );
    assert!(
        matches!(second, Err(WorkflowError::Conflict(_))),
        "{second:?}"
    );
}

#[test]
fn a_deleted_webhook_gets_nothing_more() {
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    let receiver = Receiver::start(vec![]);
    let webhook = register(&app, &token, &receiver.url)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Queued while the worker is not running, then the webhook is deleted.
    emit(&app, &partner, "hand_off.sent");
    let path = format!("/api/v1/webhooks/{webhook}");
    let deleted = app.call("DELETE", &path, Some(&token), None, &[]);
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert_eq!(
        app.call("DELETE", &path, Some(&token), None, &[]).status,
        204,
        "deleting again changes nothing"
    );
    let read = app.get(&path, &token);
    assert_eq!(read.body["active"], false);
    assert_eq!(read.body["version"], 2);
    assert_eq!(read.etag.as_deref(), Some("\"2\""));

    let _worker = app.webhook_worker();
    emit(&app, &partner, "hand_off.consent_withdrawn");
    std::thread::sleep(Duration::from_millis(300));
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
    let deliveries = app.get(&format!("{path}/deliveries"), &token).body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deliveries.len(), 1, "nothing queued after the deletion");
    assert_eq!(deliveries[0]["status"], "failed");
    assert_eq!(deliveries[0]["attempts"], 0);
    assert_eq!(
        deliveries[0]["last_error"],
        "the webhook was deleted before delivery"
    );
    let list = app.get("/api/v1/webhooks", &token);
    assert_eq!(list.body["items"][0]["active"], false);
}

#[test]
fn partners_see_and_delete_only_their_own_webhooks() {
    let app = TestApp::init().spawn();
    let (a, b) = (create_partner(&app), create_partner(&app));
    let (token_a, token_b) = (partner_token(&app, &a), partner_token(&app, &b));
    let webhook = register(&app, &token_a, "https://si.ccas-privas.fr/relais/webhook");
    let path = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());

    app.get(&path, &token_b).assert_problem(404);
    app.get(&format!("{path}/deliveries"), &token_b)
        .assert_problem(404);
    app.call("DELETE", &path, Some(&token_b), None, &[])
        .assert_problem(404);
    assert_eq!(
        app.get("/api/v1/webhooks", &token_b).body,
        json!({"items": [], "next_cursor": null})
    );

    let list = app.get("/api/v1/webhooks", &token_a);
    assert_eq!(list.status, 200);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["url"], "https://si.ccas-privas.fr/relais/webhook");
    assert_eq!(items[0]["active"], true, "B's attempt deleted nothing");
    assert!(items[0].get("secret").is_none(), "the secret is shown once");
    assert!(app.get(&path, &token_a).body.get("secret").is_none());
    app.get(
        &format!("/api/v1/webhooks/{}", uuid::Uuid::now_v7()),
        &token_a,
    )
    .assert_problem(404);
}

#[test]
fn only_partner_systems_in_the_directory_have_webhooks() {
    let app = TestApp::init().spawn();
    let post = app.create_post("ISCG Privas");
    let body = json!({"url": "https://si.ccas-privas.fr/relais/webhook"});
    for token in [
        app.token(Role::SocialWorker, &[&post]),
        app.token(Role::Coordinator, &[&post]),
        app.admin(),
    ] {
        app.post("/api/v1/webhooks", &token, body.clone())
            .assert_problem(403);
        app.get("/api/v1/webhooks", &token).assert_problem(403);
    }
    let unknown = partner_token(&app, &PartnerId::generate().to_string());
    app.post("/api/v1/webhooks", &unknown, body)
        .assert_problem(403);
}

#[test]
fn a_url_that_is_not_http_is_refused_naming_url() {
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    let long = format!("https://example.fr/{}", "a".repeat(2000));
    for url in [
        "ftp://example.fr/hook",
        "not a url",
        "/relative/hook",
        long.as_str(),
    ] {
        let answer = app.post("/api/v1/webhooks", &token, json!({ "url": url }));
        answer.assert_problem(422);
        assert_eq!(answer.fields(), ["url"], "{url}");
    }
    let extra = app.post(
        "/api/v1/webhooks",
        &token,
        json!({"url": "https://example.fr/", "secret": "mine"}),
    );
    extra.assert_problem(422);
    assert_eq!(extra.fields(), ["secret"]);
    assert_eq!(app.get("/api/v1/webhooks", &token).body["items"], json!([]));
}

#[test]
fn concurrent_claims_never_share_a_delivery_and_a_lapsed_lease_is_claimed_again() {
    use relais_persistence::webhooks::claim_due;
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    register(&app, &token, "http://127.0.0.1:9/unused");
    for _ in 0..4 {
        emit(&app, &partner, "hand_off.sent");
    }
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock)
        + chrono::Duration::seconds(1);
    let lease = chrono::Duration::seconds(30);
    // PostgreSQL skips the rows locked by the open claim at once; SQLite's single writer
    // makes the other claim wait for the first to commit.
    let postgres = app.db.backend() == relais_persistence::Backend::Postgres;
    let hold = Duration::from_millis(if postgres { 5000 } else { 300 });
    let (claimed, sender) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let ((first, overlapped), second) = std::thread::scope(|scope| {
        let db = app.db.clone();
        let holder = scope.spawn(move || {
            db.write(|conn| {
                let got = claim_due(conn, now, lease, 2)?;
                claimed.0.send(()).unwrap();
                // Hold the transaction open while the other claim runs.
                let overlapped = sender.1.recv_timeout(hold).is_ok();
                Ok::<_, StoreError>((got, overlapped))
            })
            .unwrap()
        });
        claimed.1.recv().unwrap();
        let other = app
            .db
            .write(|conn| claim_due(conn, now, lease, 10))
            .unwrap();
        let _ = sender.0.send(());
        (holder.join().unwrap(), other)
    });
    let ids = |due: &[relais_persistence::webhooks::DueDelivery]| {
        due.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    };
    if postgres {
        assert!(
            overlapped,
            "the other claim must not wait for the first (SKIP LOCKED)"
        );
    }
    let (first, second) = (ids(&first), ids(&second));
    assert_eq!(first.len(), 2);
    assert_eq!(
        second.len(),
        2,
        "the other claim takes the rest: {second:?}"
    );
    assert!(
        first.iter().all(|id| !second.contains(id)),
        "{first:?} {second:?}"
    );

    let during = app
        .db
        .write(|conn| claim_due(conn, now, lease, 10))
        .unwrap();
    assert!(during.is_empty(), "all four are leased");
    let lapsed = app
        .db
        .write(|conn| claim_due(conn, now + lease + chrono::Duration::seconds(1), lease, 10))
        .unwrap();
    assert_eq!(lapsed.len(), 4, "a worker that died lets its leases lapse");
    assert!(lapsed.iter().all(|d| d.attempts == 0));
}

#[test]
fn claims_given_back_by_a_stopping_worker_come_due_at_once() {
    use relais_persistence::webhooks::{backlog, claim_due, release};
    let app = TestApp::init().spawn();
    let partner = create_partner(&app);
    let token = partner_token(&app, &partner);
    register(&app, &token, "http://127.0.0.1:9/unused");
    for _ in 0..3 {
        emit(&app, &partner, "hand_off.sent");
    }
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock)
        + chrono::Duration::seconds(1);
    let lease = chrono::Duration::seconds(60);
    let claimed = app
        .db
        .write(|conn| claim_due(conn, now, lease, 10))
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let counts = app.db.read(|conn| backlog(conn, now)).unwrap();
    assert_eq!(
        (counts.pending, counts.due),
        (3, 0),
        "leased: pending, not due"
    );
    // Two were not started when the worker was told to stop.
    let unstarted: Vec<String> = claimed[..2].iter().map(|d| d.id.clone()).collect();
    app.db.write(|conn| release(conn, &unstarted, now)).unwrap();
    let again = app
        .db
        .write(|conn| claim_due(conn, now, lease, 10))
        .unwrap();
    let mut again: Vec<String> = again.into_iter().map(|d| d.id).collect();
    again.sort();
    let mut expected = unstarted.clone();
    expected.sort();
    assert_eq!(
        again, expected,
        "due at once for another worker, not after the lease"
    );
    assert!(
        app.db
            .write(|conn| claim_due(conn, now, lease, 10))
            .unwrap()
            .is_empty(),
        "the one under way stays leased"
    );
}
