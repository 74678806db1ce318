//! The follow-up of hand-offs (`relais_api::jobs::follow_up`), run with a moved clock: reminders
//! at their deadline and not before, expiry, re-orientation after it, the outcome reminder, the
//! settings honoured, idempotence, and two runs at once acting once.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use relais_api::jobs::follow_up::{FollowUpReport, run};
use relais_domain::follow_up::Deadlines;
use relais_domain::reference::ReminderKind;
use relais_persistence::StoreError;
use relais_persistence::schema::audit_events;
use serde_json::{Value, json};

use crate::support::fixtures::{SentHandOff, act, sent_hand_off};
use crate::support::{TestApp, contract};

fn days(n: i64) -> DateTime<Utc> {
    relais_api::clock::Clock::now(&relais_api::clock::SystemClock) + Duration::days(n)
}

fn follow_up(app: &TestApp, deadlines: &Deadlines, at: DateTime<Utc>) -> FollowUpReport {
    run(&app.db, deadlines, at, false).unwrap()
}

/// The events of a feed of this type, as the catalogue's schema says.
fn events_of(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let feed = app
        .get("/api/v1/events?limit=500", token)
        .expect_status(200);
    contract::assert_matches("EventPage", &feed.body);
    feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

#[test]
fn a_sent_hand_off_is_reminded_at_day_ten_expires_at_thirty_and_the_post_hands_it_on() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    let d = Deadlines::default();

    assert!(
        follow_up(&app, &d, days(9)).is_empty(),
        "nothing before day 10"
    );
    let reminded = follow_up(&app, &d, days(10));
    assert_eq!(reminded.reminded.len(), 1);
    assert_eq!(reminded.reminded[0].1, ReminderKind::Answer);
    assert!(
        follow_up(&app, &d, days(11)).is_empty(),
        "a second run does nothing more"
    );
    for token in [&sent.partner_token, &sent.case.sw] {
        let reminders = events_of(&app, token, "hand_off.reminded");
        assert_eq!(reminders.len(), 1, "{reminders:?}");
        assert_eq!(reminders[0]["data"]["reminder"], "answer");
        assert_eq!(reminders[0]["record_id"], json!(sent.id));
    }

    let expired = follow_up(&app, &d, days(30));
    assert_eq!(expired.expired.len(), 1);
    assert!(follow_up(&app, &d, days(31)).is_empty());
    let path = format!("/api/v1/hand-offs/{}", sent.id);
    let post_view = app.get(&path, &sent.case.sw).expect_status(200);
    assert_eq!(post_view.body["status"], "expired");
    let last = post_view.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["by"], "system:follow-up");
    assert_eq!(last["to"], "expired");
    let partner_view = app.get(&path, &sent.partner_token).expect_status(200);
    assert!(
        partner_view.body.get("person").is_none_or(Value::is_null),
        "{:#}",
        partner_view.body
    );
    for token in [&sent.partner_token, &sent.case.sw] {
        assert_eq!(events_of(&app, token, "hand_off.expired").len(), 1);
    }
    // The job's acts are in the audit trail, as the job's.
    let acts: Vec<String> = app
        .db
        .read(|conn| {
            audit_events::table
                .filter(audit_events::subject.eq("system:follow-up"))
                .select(audit_events::action)
                .load::<String>(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(acts, ["remind_hand_off", "expire_hand_off"]);
    // A partner's answer now is a conflict; the post hands the situation to another partner.
    act(
        &app,
        &sent.partner_token,
        &sent.id,
        "acknowledge",
        None,
        &[],
    )
    .assert_problem(409);
    let other = app.create_partner("Secours populaire", "charity");
    let again = sent_hand_off(
        &app,
        &sent.case.sw,
        &sent.case.situation,
        &other,
        json!(["identity"]),
        json!({}),
    );
    assert_ne!(again, sent.id);
}

#[test]
fn an_accepted_hand_off_is_reminded_for_its_outcome_and_a_received_one_is_not_reminded() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    act(
        &app,
        &sent.partner_token,
        &sent.id,
        "acknowledge",
        None,
        &[],
    )
    .expect_status(200);
    let d = Deadlines::default();
    assert!(
        follow_up(&app, &d, days(12)).is_empty(),
        "acknowledged: no answer reminder"
    );
    act(&app, &sent.partner_token, &sent.id, "accept", None, &[]).expect_status(200);
    assert!(follow_up(&app, &d, days(89)).is_empty());
    let reminded = follow_up(&app, &d, days(90));
    assert_eq!(reminded.reminded.len(), 1);
    assert_eq!(reminded.reminded[0].1, ReminderKind::Outcome);
    assert!(
        follow_up(&app, &d, days(400)).is_empty(),
        "once; an accepted one never expires"
    );
    let reminders = events_of(&app, &sent.partner_token, "hand_off.reminded");
    assert_eq!(reminders[0]["data"]["reminder"], "outcome");
    assert_eq!(reminders[0]["data"]["status"], "accepted");
}

#[test]
fn each_deadline_setting_is_honoured() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    let d = Deadlines {
        remind_days: 2,
        expire_days: 4,
        outcome_days: 1,
    };
    assert!(follow_up(&app, &d, days(1)).is_empty());
    assert_eq!(follow_up(&app, &d, days(2)).reminded.len(), 1);
    assert!(follow_up(&app, &d, days(3)).is_empty());
    assert_eq!(
        follow_up(&app, &d, days(4)).expired,
        [sent.id.parse().unwrap()]
    );
}

#[test]
fn two_runs_at_once_act_on_each_hand_off_once() {
    let app = TestApp::init().spawn();
    let first = SentHandOff::create(&app, json!(["identity"]));
    let second = first
        .case
        .sent_hand_off(&app, &first.partner, json!(["identity"]));
    let d = Deadlines::default();
    for (day, acts) in [(10, (2, 0)), (30, (0, 2))] {
        let at = days(day);
        let runs: Vec<FollowUpReport> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| run(&app.db, &d, at, false).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let reminded: usize = runs.iter().map(|r| r.reminded.len()).sum();
        let expired: usize = runs.iter().map(|r| r.expired.len()).sum();
        assert_eq!((reminded, expired), acts, "day {day}");
    }
    for kind in ["hand_off.reminded", "hand_off.expired"] {
        let events = events_of(&app, &first.case.sw, kind);
        let mut ids: Vec<&str> = events
            .iter()
            .map(|e| e["record_id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let mut expected = [first.id.as_str(), second.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected, "{kind} once per hand-off");
    }
}

/// Whenever a partner loses the right to the person's data it is told so, with the reason, in
/// its feed and to its webhooks, so that its system erases its copy.
#[test]
fn the_partner_is_told_to_erase_its_copy_for_each_reason() {
    let app = TestApp::init().spawn();
    let sent = SentHandOff::create(&app, json!(["identity"]));
    let (sw, partner) = (&sent.case.sw, &sent.partner_token);
    let hook = app.post(
        "/api/v1/webhooks",
        partner,
        json!({"url": "https://si.ccas.example.org/relais"}),
    );
    assert_eq!(hook.status, 201, "{:#}", hook.body);
    let another = |extra: Value| {
        sent_hand_off(
            &app,
            sw,
            &sent.case.situation,
            &sent.partner,
            json!(["identity"]),
            extra,
        )
    };
    // consent_withdrawn: the first hand-off.
    app.post(
        &format!("/api/v1/hand-offs/{}/consent/withdraw", sent.id),
        sw,
        json!({}),
    )
    .expect_status(200);
    // cancelled, declined.
    let cancelled = another(json!({}));
    act(&app, sw, &cancelled, "cancel", None, &[]).expect_status(200);
    let declined = another(json!({}));
    act(&app, partner, &declined, "acknowledge", None, &[]).expect_status(200);
    act(
        &app,
        partner,
        &declined,
        "decline",
        Some(json!({"reason": "no_capacity"})),
        &[],
    )
    .expect_status(200);
    // expired, by the follow-up.
    let expired = another(json!({}));
    follow_up(&app, &Deadlines::default(), days(30));
    // erasure: a completed hand-off, then the person erased.
    let completed = another(json!({}));
    for (action, body) in [
        ("acknowledge", None),
        ("accept", None),
        (
            "complete",
            Some(json!({"result": "supported", "outcome": "Droits ouverts"})),
        ),
    ] {
        act(&app, partner, &completed, action, body, &[]).expect_status(200);
    }
    let person = app
        .get(&format!("/api/v1/situations/{}", sent.case.situation), sw)
        .body["beneficiary_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let current = app.get(&format!("/api/v1/beneficiaries/{person}"), sw);
    let version = current.header("etag").unwrap().to_owned();
    app.call(
        "DELETE",
        &format!("/api/v1/beneficiaries/{person}"),
        Some(sw),
        None,
        &[("If-Match", version.as_str())],
    )
    .expect_status(200);

    let told: Vec<(String, String)> = events_of(&app, partner, "hand_off.personal_data_withdrawn")
        .iter()
        .map(|e| {
            let record = e["record_id"].as_str().unwrap().to_owned();
            (record, e["data"]["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (&sent.id, "consent_withdrawn"),
        (&cancelled, "cancelled"),
        (&declined, "declined"),
        (&expired, "expired"),
        (&completed, "erasure"),
    ]
    .iter()
    .map(|(id, reason)| ((*id).clone(), (*reason).to_owned()))
    .collect();
    assert_eq!(told, expected);
    assert!(
        events_of(&app, sw, "hand_off.personal_data_withdrawn").is_empty(),
        "to the partner only"
    );
    // The same events wait in the partner's webhook outbox.
    let deliveries = app
        .get(
            &format!("/api/v1/webhooks/{}/deliveries?limit=200", hook.id()),
            partner,
        )
        .expect_status(200);
    let withdrawn = deliveries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event_type"] == "hand_off.personal_data_withdrawn")
        .count();
    assert_eq!(withdrawn, 5, "{:#}", deliveries.body);
}
