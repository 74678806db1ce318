//! Webhooks through the real binary: an event committed before a crash is delivered after the
//! restart, under the same `webhook-id` as the attempt the crash interrupted.

use std::collections::BTreeMap;
use std::time::Duration;

use relais_api::jobs::webhooks::signing::verify;
use relais_persistence::testing::TestDatabase;
use serde_json::{Value, json};

use super::{Server, create_post, example_situation, token};

#[path = "../../api/tests/api/webhook_receiver.rs"]
pub(super) mod receiver;

use receiver::{Receiver, Reply};

/// A fast schedule: poll every 50 ms, retry after 100 ms, leases of 2 s; the receivers listen
/// on 127.0.0.1.
const FAST: [(&str, &str); 4] = [
    ("RELAIS_WEBHOOK_POLL_MS", "50"),
    ("RELAIS_WEBHOOK_RETRY_BASE_MS", "100"),
    ("RELAIS_WEBHOOK_LEASE_SECONDS", "2"),
    ("RELAIS_WEBHOOK_PRIVATE_ADDRESSES", "on"),
];

/// A request with an optional `If-Match`; returns the status, the `ETag` and the body.
pub(super) fn request(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = ureq::request(method, &format!("{}{path}", server.base))
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(etag) = if_match {
        request = request.set("If-Match", etag);
    }
    let result = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => {
            let status = response.status();
            let etag = response.header("etag").map(str::to_owned);
            (status, etag, response.into_json().unwrap_or(Value::Null))
        }
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

#[track_caller]
pub(super) fn created(answer: (u16, Value)) -> String {
    assert_eq!(answer.0, 201, "{}", answer.1);
    answer.1["id"].as_str().unwrap().to_owned()
}

/// A partner of the directory with a webhook to `url`: its id, a token of its system, and the
/// webhook as created (with its secret).
pub(super) fn partner_with_webhook(
    database_url: &str,
    server: &Server,
    admin: &str,
    url: &str,
) -> (String, String, Value) {
    let partner = created(server.call(
        "POST",
        "/api/v1/partners",
        admin,
        Some(json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]})),
    ));
    let partner_system = token(
        database_url,
        &[],
        &["--role", "partner", "--partner", &partner],
    );
    let (status, webhook) = server.call(
        "POST",
        "/api/v1/webhooks",
        &partner_system,
        Some(json!({ "url": url })),
    );
    assert_eq!(status, 201, "{webhook}");
    (partner, partner_system, webhook)
}

/// Opens a situation at `post` and hands it to `partner` with the person's consent: the
/// `hand_off.sent` event is queued for the partner's webhooks. The steps alternate between
/// the two servers given (the same one twice is fine). Returns the hand-off's id.
pub(super) fn send_a_hand_off(
    servers: [&Server; 2],
    social_worker: &str,
    post: &str,
    partner: &str,
) -> String {
    let situation = created(servers[0].call(
        "POST",
        "/api/v1/situations",
        social_worker,
        Some(example_situation(post)),
    ));
    let hand_off = created(servers[1].call(
        "POST",
        &format!("/api/v1/situations/{situation}/hand-offs"),
        social_worker,
        Some(json!({"partner_id": partner, "reasons": ["precarity"], "message": "Besoin d'une aide alimentaire"})),
    ));
    let (status, _, consent) = request(
        servers[0],
        "PUT",
        &format!("/api/v1/hand-offs/{hand_off}/consent"),
        social_worker,
        None,
        Some(json!({"given": true, "form": "oral", "shared_data": ["identity", "contact"]})),
    );
    assert_eq!(status, 200, "{consent}");
    let path = format!("/api/v1/hand-offs/{hand_off}");
    let (status, etag, read) = request(servers[1], "GET", &path, social_worker, None, None);
    assert_eq!(status, 200, "{read}");
    let (status, _, sent) = request(
        servers[0],
        "POST",
        &format!("{path}/send"),
        social_worker,
        etag.as_deref(),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{sent}");
    hand_off
}

#[test]
fn an_event_interrupted_by_a_crash_is_delivered_after_the_restart_with_the_same_id() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &FAST);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    // The first delivery is held long enough for the server to die while it waits, even on a
    // busy machine; the retry after the restart does not wait for it (the lease is 2 s).
    let receiver = Receiver::start(vec![Reply::delayed(Duration::from_secs(5), 200)]);
    let (partner, partner_system, webhook) =
        partner_with_webhook(&db.url, &server, &admin, &receiver.url);
    let secret = webhook["secret"].as_str().unwrap().to_owned();

    let post = create_post(&server, &admin);
    let social_worker = token(&db.url, &[], &["--role", "social_worker", "--post", &post]);
    let hand_off = send_a_hand_off([&server, &server], &social_worker, &post, &partner);

    let first = receiver.wait_for(Duration::from_secs(10), "the first attempt", |r| {
        !r.is_empty()
    });
    assert_eq!(first[0].json()["type"], "hand_off.sent");
    // Killed while the receiver holds the delivery: no outcome is recorded.
    drop(server);

    let restarted = Server::start(&db.url, &FAST);
    let restarted_at = std::time::Instant::now();
    let received = receiver.wait_for(
        Duration::from_secs(20),
        "a delivery after the restart",
        |r| r.len() >= 2,
    );
    assert!(
        received.last().unwrap().at >= restarted_at,
        "the last attempt comes from the restarted server"
    );
    let mut by_id: BTreeMap<String, Vec<&receiver::Received>> = BTreeMap::new();
    for request in &received {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hooks/relais")
        );
        let id = request.header("webhook-id").expect("webhook-id");
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let signature = request.header("webhook-signature").unwrap();
        assert!(verify(&secret, id, timestamp, &request.body, signature));
        by_id.entry(id.to_owned()).or_default().push(request);
    }
    assert_eq!(
        by_id.len(),
        1,
        "one event, so one webhook-id once repeats are dropped: {:?}",
        by_id.keys()
    );
    let attempts = by_id.values().next().unwrap();
    assert!(attempts.len() >= 2, "sent before the crash and after");
    assert!(attempts.iter().all(|r| r.json() == attempts[0].json()));
    assert_eq!(attempts[0].json()["record_id"], hand_off.as_str());
    // The body is the event exactly as the partner's feed lists it.
    let (status, feed) = restarted.call("GET", "/api/v1/events", &partner_system, None);
    assert_eq!(status, 200, "{feed}");
    let listed = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == attempts[0].json()["id"])
        .expect("the delivered event is in the feed");
    assert_eq!(*listed, attempts[0].json());

    let webhook_id = webhook["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = restarted.call(
            "GET",
            &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
            &partner_system,
            None,
        );
        assert_eq!(status, 200, "{page}");
        let delivery = &page["items"][0];
        if delivery["status"] == "delivered" {
            assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
            assert_eq!(delivery["event_type"], "hand_off.sent");
            assert_eq!(delivery["last_status_code"], 200);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn webhook_settings_are_checked_at_start() {
    super::assert_refused_at_start(&[
        ("RELAIS_WEBHOOKS", "maybe"),
        ("RELAIS_WEBHOOK_POLL_MS", "soon"),
        ("RELAIS_WEBHOOK_LEASE_SECONDS", "-1"),
        ("RELAIS_WEBHOOK_PRIVATE_ADDRESSES", "yes"),
        ("RELAIS_WEBHOOKS_PER_PARTNER", "0"),
        ("RELAIS_WEBHOOKS_PER_PARTNER", "many"),
    ]);
}
