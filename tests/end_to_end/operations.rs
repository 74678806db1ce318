//! Operations through the real binary: graceful shutdown on SIGTERM and SIGINT.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use relais_persistence::testing::TestDatabase;
use serde_json::Value;

use super::webhooks::receiver::{Receiver, Reply};
use super::webhooks::{partner_with_webhook, send_a_hand_off};
use super::{Server, create_post, example_situation, token};

impl Server {
    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name}");
    }

    /// Waits for the process to exit by itself.
    fn exit_status(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "relais serve still runs {timeout:?} after the signal"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

/// The deliveries of a webhook, as its partner reads them.
fn deliveries(server: &Server, partner_system: &str, webhook: &Value) -> Vec<Value> {
    let (status, page) = server.call(
        "GET",
        &format!(
            "/api/v1/webhooks/{}/deliveries?limit=100",
            webhook["id"].as_str().unwrap()
        ),
        partner_system,
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Starts a `POST /api/v1/situations` whose body is only half sent: the request stays in
/// flight until [`finish`] sends the rest.
fn start_slow_request(server: &Server, token: &str, body: &Value) -> (TcpStream, Vec<u8>) {
    let body = serde_json::to_vec(body).unwrap();
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/situations HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.address(),
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();
    (stream, body[half..].to_vec())
}

/// Sends the rest of the body and reads the whole answer.
fn finish(mut stream: TcpStream, rest: &[u8]) -> String {
    stream.write_all(rest).unwrap();
    stream.flush().unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn shuts_down_gracefully_on(signal: &str) {
    let db = TestDatabase::create();
    let settings = [
        ("RELAIS_WEBHOOK_POLL_MS", "50"),
        ("RELAIS_WEBHOOK_RETRY_BASE_MS", "100"),
        ("RELAIS_WEBHOOK_LEASE_SECONDS", "60"),
        ("RELAIS_SHUTDOWN_TIMEOUT_SECONDS", "20"),
    ];
    let mut server = Server::start(&db.url, &settings);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    // The receiver holds the delivery 3 s: the signal arrives while it is in flight.
    let receiver = Receiver::start(vec![Reply::delayed(Duration::from_secs(3), 200)]);
    let (partner, partner_system, webhook) =
        partner_with_webhook(&db.url, &server, &admin, &receiver.url);
    let post = create_post(&server, &admin);
    let social_worker = token(&db.url, &[], &["--role", "social_worker", "--post", &post]);
    send_a_hand_off([&server, &server], &social_worker, &post, &partner);
    receiver.wait_for(Duration::from_secs(10), "the delivery", |r| !r.is_empty());
    // And a request in flight: its body is half sent.
    let (stream, rest) = start_slow_request(&server, &social_worker, &example_situation(&post));
    std::thread::sleep(Duration::from_millis(300));

    let signalled = Instant::now();
    server.signal(signal);
    // New connections are refused at once…
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(server.address()).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with work in flight"
    );
    // …while the request in flight is answered in full.
    let answer = finish(stream, &rest);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = server.exit_status(Duration::from_secs(25));
    assert!(status.success(), "SIG{signal}: exit status {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "waited for the delivery only, not for the shutdown timeout"
    );

    // The delivery in flight was answered and recorded before the exit: a server that delivers
    // nothing finds it delivered, after exactly one attempt.
    let reader = Server::start(&db.url, &[("RELAIS_WEBHOOKS", "off")]);
    let recorded = deliveries(&reader, &partner_system, &webhook);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], "delivered", "{:?}", recorded[0]);
    assert_eq!(recorded[0]["attempts"], 1);
    assert_eq!(receiver.received().len(), 1);
    // The situation of the request in flight was stored.
    let (status, list) = reader.call("GET", "/api/v1/situations", &social_worker, None);
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
}

#[test]
fn sigterm_drains_requests_and_deliveries_in_flight_then_exits_0() {
    shuts_down_gracefully_on("TERM");
}

#[test]
fn sigint_drains_requests_and_deliveries_in_flight_then_exits_0() {
    shuts_down_gracefully_on("INT");
}
