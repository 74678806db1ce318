//! `relais follow-up` on the real binary, beside a running server: `--as-of` moves the day,
//! `--dry-run` changes nothing, a second run does nothing more.

use relais_persistence::testing::TestDatabase;
use serde_json::json;

use super::webhooks::send_a_hand_off;
use super::{Server, create_post, relais, token};

/// Runs `relais follow-up` with `args`; its standard output.
fn follow_up(url: &str, args: &[&str]) -> String {
    let output = relais(url, &[])
        .arg("follow-up")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "relais follow-up {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn day(offset: i64) -> String {
    let today = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).date_naive();
    (today + chrono::Duration::days(offset)).to_string()
}

#[test]
fn the_follow_up_command_reminds_then_expires_once_as_of_the_day_given() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &[("RELAIS_FOLLOW_UP_JOB", "off")]);
    let admin = token(&db.url, &[], &["--role", "admin"]);
    let post = create_post(&server, &admin);
    let (status, partner) = server.call(
        "POST",
        "/api/v1/partners",
        &admin,
        Some(json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]})),
    );
    assert_eq!(status, 201, "{partner}");
    let partner = partner["id"].as_str().unwrap().to_owned();
    let social_worker = token(&db.url, &[], &["--role", "social_worker", "--post", &post]);
    let hand_off = send_a_hand_off([&server, &server], &social_worker, &post, &partner);

    assert!(follow_up(&db.url, &["--as-of", &day(9)]).contains("reminded 0 hand-off(s)"));
    let reminded = follow_up(&db.url, &["--as-of", &day(10)]);
    assert!(reminded.contains("reminded 1 hand-off(s)"), "{reminded}");
    assert!(
        reminded.contains(&format!("hand-off {hand_off} (answer)")),
        "{reminded}"
    );
    assert!(follow_up(&db.url, &["--as-of", &day(10)]).contains("reminded 0 hand-off(s)"));

    let dry = follow_up(&db.url, &["--dry-run", "--as-of", &day(30)]);
    assert!(dry.contains("would expire 1 hand-off(s)"), "{dry}");
    let path = format!("/api/v1/hand-offs/{hand_off}");
    let (_, read) = server.call("GET", &path, &social_worker, None);
    assert_eq!(read["status"], "sent", "a dry run changes nothing");

    let expired = follow_up(&db.url, &["--as-of", &day(30)]);
    assert!(expired.contains("expired 1 hand-off(s)"), "{expired}");
    let (_, read) = server.call("GET", &path, &social_worker, None);
    assert_eq!(read["status"], "expired");
    assert!(follow_up(&db.url, &["--as-of", &day(31)]).contains("expired 0 hand-off(s)"));
}

#[test]
fn follow_up_settings_are_checked_at_start() {
    super::assert_refused_at_start(&[
        ("RELAIS_HAND_OFF_REMIND_DAYS", "0"),
        ("RELAIS_HAND_OFF_EXPIRE_DAYS", "soon"),
        ("RELAIS_HAND_OFF_OUTCOME_DAYS", "99999"),
        ("RELAIS_FOLLOW_UP_JOB", "maybe"),
        ("RELAIS_FOLLOW_UP_INTERVAL_MINUTES", "0"),
    ]);
}
