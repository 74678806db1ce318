//! The audit trail's MAC chain: `relais audit verify` (the function the command calls) passes on
//! a clean trail and names what an edit, a removal or an insertion made behind the
//! application's back (its append-only triggers dropped) broke; the retention purge leaves a
//! checkpoint the rest verifies from; concurrent writers still give one chain.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use relais_api::cli::audit::{copy_line, verify};
use relais_api::jobs::purge::{RetentionSettings, purge};
use relais_api::writes::{WriteError, Writes};
use relais_domain::reference::Role;
use relais_persistence::audit::{self, NewAuditEvent};
use relais_persistence::audit_chain::{ChainedEvent, CheckpointKind, Problem, Verification};
use relais_persistence::audit_copy::AuditSink;
use relais_persistence::schema::audit_events;
use relais_persistence::testing::TestDatabase;
use relais_persistence::{Backend, Database, StoreError};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::Case;

fn now() -> DateTime<Utc> {
    relais_api::clock::Clock::now(&relais_api::clock::SystemClock)
}

fn verified(db: &Database) -> Verification {
    verify(db, None).unwrap()
}

fn sql(db: &Database, statements: &str) {
    db.write(|conn| conn.batch_execute(statements).map_err(StoreError::from))
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// Drops the append-only triggers, as someone with the database's owner role (or the SQLite
/// file) could.
fn drop_triggers(db: &Database) {
    sql(
        db,
        match db.backend() {
            Backend::Sqlite => {
                "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_early_delete;"
            }
            Backend::Postgres => {
                "DROP TRIGGER audit_events_no_update ON audit_events; \
                 DROP TRIGGER audit_events_no_early_delete ON audit_events;"
            }
        },
    );
}

/// (position, id) of every event of the chain, in order.
fn chain(db: &Database) -> Vec<(i64, String)> {
    db.read(|conn| {
        audit_events::table
            .filter(audit_events::position.is_not_null())
            .order(audit_events::position.asc())
            .select((audit_events::position.assume_not_null(), audit_events::id))
            .load(conn)
            .map_err(StoreError::from)
    })
    .unwrap()
}

fn event_at(subject: &str, at: DateTime<Utc>) -> NewAuditEvent {
    NewAuditEvent {
        at,
        subject: subject.to_owned(),
        role: Role::SocialWorker,
        action: "get_situation",
        record: None,
        post_hint: None,
        status: 200,
        replayed: false,
    }
}

/// A round trip of audited requests: reads, a list, writes, refusals.
fn round_trip(app: &TestApp) -> Case {
    let case = Case::open(app);
    let path = format!("/api/v1/situations/{}", case.situation);
    assert_eq!(app.get(&path, &case.sw).status, 200);
    app.put(
        &format!("{path}/evaluation"),
        &case.sw,
        None,
        json!({"text": "Violences répétées"}),
    );
    assert_eq!(app.get("/api/v1/situations", &case.sw).status, 200);
    let unit = app.create_unit(&case.post);
    app.get(&path, &app.officer(&unit)).assert_problem(403);
    let partner = app.create_partner("CCAS de Privas", "ccas");
    app.post(
        &format!("{path}/hand-offs"),
        &case.sw,
        json!({"partner_id": partner, "reasons": ["precarity"]}),
    );
    assert_eq!(app.get(&path, &case.coordinator).status, 200);
    case
}

#[test]
fn verify_passes_on_a_clean_trail_after_a_round_trip() {
    let app = TestApp::init().spawn();
    round_trip(&app);
    let report = verified(&app.db);
    assert!(report.is_intact(), "{report}");
    let events = chain(&app.db);
    assert!(events.len() >= 7, "{events:?}");
    assert_eq!(report.verified, events.len() as u64);
    assert_eq!(report.head, events.len() as i64);
    assert_eq!(report.start.checkpoint, None);
    // Positions 1 to n, none missing, and each event names the audit key.
    let positions: Vec<i64> = events.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>());
    let keys: Vec<Option<String>> = app
        .db
        .read(|conn| {
            audit_events::table
                .select(audit_events::key_id)
                .distinct()
                .load(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(keys, [Some("test-audit".to_owned())]);
    assert!(report.to_string().starts_with("audit trail OK"), "{report}");
}

#[test]
fn verify_names_the_event_edited_in_sql() {
    let app = TestApp::init().spawn();
    round_trip(&app);
    let events = chain(&app.db);
    let (position, id) = events[3].clone();
    drop_triggers(&app.db);
    sql(
        &app.db,
        &format!("UPDATE audit_events SET subject = 'someone-else' WHERE id = '{id}'"),
    );
    let report = verified(&app.db);
    assert_eq!(
        report.problems,
        [Problem::Edited {
            position,
            id: id.clone()
        }],
        "{report}"
    );
    assert!(report.to_string().contains(&id), "{report}");
    // Back-dating is an edit too.
    let (position, id) = events[5].clone();
    sql(
        &app.db,
        &format!(
            "UPDATE audit_events SET at = {} WHERE id = '{id}'",
            match app.db.backend() {
                Backend::Sqlite => "datetime(at, '-3 days')",
                Backend::Postgres => "at - interval '3 days'",
            }
        ),
    );
    assert_eq!(
        verified(&app.db).problems[1],
        Problem::Edited { position, id }
    );
}

#[test]
fn verify_names_the_gap_a_delete_in_the_middle_leaves() {
    let app = TestApp::init().spawn();
    round_trip(&app);
    let events = chain(&app.db);
    let (position, id) = events[4].clone();
    drop_triggers(&app.db);
    sql(
        &app.db,
        &format!("DELETE FROM audit_events WHERE id = '{id}'"),
    );
    let report = verified(&app.db);
    assert_eq!(
        report.problems,
        [Problem::Removed {
            from: position,
            to: position,
            before: Some(events[3].1.clone()),
            after: Some(events[5].1.clone()),
        }],
        "{report}"
    );
    // Closing the gap by renumbering the events after it breaks their MACs (the position is in
    // them): the first renumbered event is named.
    sql(
        &app.db,
        &format!(
            "UPDATE audit_events SET position = -(position - 1) WHERE position > {position}; \
             UPDATE audit_events SET position = -position WHERE position < 0;"
        ),
    );
    let report = verified(&app.db);
    assert_eq!(
        report.problems[0],
        Problem::Mismatch {
            position,
            id: events[5].1.clone()
        },
        "{report}"
    );
}

#[test]
fn verify_names_the_last_events_removed_even_with_the_head_moved_back() {
    let app = TestApp::init().spawn();
    let case = round_trip(&app);
    let events = chain(&app.db);
    let (last, last_id) = events.last().cloned().unwrap();
    drop_triggers(&app.db);
    sql(
        &app.db,
        &format!("DELETE FROM audit_events WHERE id = '{last_id}'"),
    );
    let report = verified(&app.db);
    assert_eq!(
        report.problems,
        [Problem::Removed {
            from: last,
            to: last,
            before: Some(events[events.len() - 2].1.clone()),
            after: None,
        }],
        "{report}"
    );
    // Moving the head back onto the event now last: its signature does not follow.
    sql(
        &app.db,
        &format!(
            "UPDATE audit_chain SET position = {}, mac = (SELECT mac FROM audit_events WHERE position = {})",
            last - 1,
            last - 1
        ),
    );
    let report = verified(&app.db);
    assert!(
        matches!(&report.problems[..], [Problem::Head(why)] if why.contains("altered")),
        "{report}"
    );
    // And Relais refuses to chain after it: an access is not served rather than blessing it.
    app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw)
        .assert_problem(500);
}

#[test]
fn verify_names_a_forged_event_inserted_in_sql() {
    let app = TestApp::init().spawn();
    round_trip(&app);
    let events = chain(&app.db);
    let head = events.len() as i64;
    let forged = |id: &str, position: &str| {
        format!(
            "INSERT INTO audit_events (id, at, subject, role, action, outcome, status, position, mac, key_id) \
             VALUES ('{id}', '2020-01-01 10:00:00', 'forger', 'coordinator', 'get_situation', 'success', 200, {position}, '{}', 'test-audit')",
            "ab".repeat(32)
        )
    };
    // Without a position (inserting needs no trigger dropped).
    let unplaced = "01900000-0000-7000-8000-00000000000a";
    sql(&app.db, &forged(unplaced, "NULL"));
    let report = verified(&app.db);
    assert!(
        matches!(&report.problems[..], [Problem::Outside { id, position: None, count: 1, .. }] if id == unplaced),
        "{report}"
    );
    sql(
        &app.db,
        &format!("DELETE FROM audit_events WHERE id = '{unplaced}'"),
    );
    // After the head.
    let beyond = "01900000-0000-7000-8000-00000000000b";
    sql(&app.db, &forged(beyond, &(head + 1).to_string()));
    let report = verified(&app.db);
    assert!(
        matches!(&report.problems[..], [Problem::Outside { id, position: Some(p), .. }] if id == beyond && *p == head + 1),
        "{report}"
    );
    sql(
        &app.db,
        &format!("DELETE FROM audit_events WHERE id = '{beyond}'"),
    );
    assert!(verified(&app.db).is_intact());
    // In the middle, the events after it renumbered to make room.
    drop_triggers(&app.db);
    let (position, _) = events[4].clone();
    sql(
        &app.db,
        &format!(
            "UPDATE audit_events SET position = -(position + 1) WHERE position >= {position}; \
             UPDATE audit_events SET position = -position WHERE position < 0;"
        ),
    );
    let middle = "01900000-0000-7000-8000-00000000000c";
    sql(&app.db, &forged(middle, &position.to_string()));
    let report = verified(&app.db);
    assert_eq!(
        report.problems[0],
        Problem::Inserted {
            position,
            id: middle.to_owned()
        },
        "{report}"
    );
    assert!(report.to_string().contains(middle), "{report}");
}

#[test]
fn a_forged_checkpoint_is_named_and_not_used() {
    let app = TestApp::init().spawn();
    round_trip(&app);
    let events = chain(&app.db);
    // A purge checkpoint past half the chain would skip the verification of its first half.
    sql(
        &app.db,
        &format!(
            "INSERT INTO audit_checkpoints (id, kind, position, mac, events, at, key_id, signature) \
             VALUES ('01900000-0000-7000-8000-0000000000cc', 'purge', {}, (SELECT mac FROM audit_events WHERE position = {}), 3, '2026-11-30 10:00:00', 'test-audit', '{}')",
            events.len() / 2,
            events.len() / 2,
            "00".repeat(32)
        ),
    );
    let report = verified(&app.db);
    assert!(
        matches!(&report.problems[..], [Problem::Checkpoint(why)] if why.contains("0000000000cc")),
        "{report}"
    );
    assert_eq!(report.start.checkpoint, None);
    assert_eq!(report.verified, events.len() as u64);
}

#[test]
fn after_the_purge_of_old_events_the_rest_verifies_from_its_checkpoint() {
    let app = TestApp::init().spawn();
    // The three oldest events are past the retention period.
    for i in 0..3 {
        app.db
            .write(|conn| {
                audit::append(
                    conn,
                    &event_at(&format!("old-{i}"), now() - chrono::Duration::days(400)),
                )
            })
            .unwrap();
    }
    round_trip(&app);
    let before = chain(&app.db);
    let outcome = purge(
        &app.db,
        &RetentionSettings::default(),
        now(),
        false,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(
        matches!(outcome, relais_persistence::retention::PurgeOutcome::Ran(ref r) if r.audit_events == 3)
    );
    let after = chain(&app.db);
    assert_eq!(after[..], before[3..]);
    let report = verified(&app.db);
    assert!(report.is_intact(), "{report}");
    assert!(
        matches!(report.start.checkpoint, Some((CheckpointKind::Purge, _, _))),
        "{report}"
    );
    assert_eq!(report.start.position, 3);
    assert_eq!(report.verified, after.len() as u64);
    // A second purge has nothing to delete and still verifies.
    purge(
        &app.db,
        &RetentionSettings::default(),
        now(),
        false,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(verified(&app.db).is_intact());

    // --from: the head checkpoint the purge left (today) is before tomorrow; only what came
    // after it is walked.
    let case = Case::open(&app);
    app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw);
    let tomorrow = (now() + chrono::Duration::days(1)).date_naive();
    let from = verify(&app.db, Some(tomorrow)).unwrap();
    assert!(from.is_intact(), "{from}");
    assert!(
        matches!(from.start.checkpoint, Some((CheckpointKind::Head, _, _))),
        "{from}"
    );
    assert_eq!(from.start.position, before.last().unwrap().0);
    assert_eq!(
        from.verified,
        (chain(&app.db).len() - after.len()) as u64,
        "{from}"
    );
    // A day before any checkpoint: from the purge's, as without --from.
    let long_ago = verify(
        &app.db,
        Some(chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
    )
    .unwrap();
    assert_eq!(long_ago.start.position, 3);
    // An edit before the --from checkpoint is not seen from it, and is seen without --from.
    drop_triggers(&app.db);
    sql(
        &app.db,
        &format!(
            "UPDATE audit_events SET status = 404 WHERE id = '{}'",
            after[1].1
        ),
    );
    assert!(verify(&app.db, Some(tomorrow)).unwrap().is_intact());
    assert!(!verified(&app.db).is_intact());
}

/// The events recorded before migration 000011 are numbered by it, without MAC, and sealed in
/// the genesis checkpoint by the first append after it: an edit among them is then detected.
#[test]
fn the_events_from_before_the_chain_are_sealed_in_its_genesis() {
    let app = TestApp::init().spawn();
    // What the migration leaves: positions, no MAC, the head at the last one, unsealed.
    let old = match app.db.backend() {
        Backend::Sqlite => "datetime('now', '-400 days')",
        Backend::Postgres => "(now() AT TIME ZONE 'UTC') - interval '400 days'",
    };
    for i in 1..=4 {
        sql(
            &app.db,
            &format!(
                "INSERT INTO audit_events (id, at, subject, role, action, outcome, status, position) \
                 VALUES ('01900000-0000-7000-8000-00000000000{i}', {old}, 'before', 'social_worker', 'get_situation', 'success', 200, {i})"
            ),
        );
    }
    sql(&app.db, "UPDATE audit_chain SET position = 4");
    let unsealed = verified(&app.db);
    assert!(unsealed.is_intact() && unsealed.unsealed, "{unsealed}");
    round_trip(&app);
    let report = verified(&app.db);
    assert!(report.is_intact(), "{report}");
    assert!(!report.unsealed);
    assert_eq!(report.before_genesis, 4);
    assert_eq!(report.verified, chain(&app.db).len() as u64);
    drop_triggers(&app.db);
    sql(
        &app.db,
        "UPDATE audit_events SET subject = 'rewritten' WHERE id = '01900000-0000-7000-8000-000000000002'",
    );
    let report = verified(&app.db);
    assert_eq!(
        report.problems,
        [Problem::BeforeGenesis { from: 1, to: 4 }],
        "{report}"
    );
    sql(
        &app.db,
        "UPDATE audit_events SET subject = 'before' WHERE id = '01900000-0000-7000-8000-000000000002'",
    );
    assert!(verified(&app.db).is_intact());
    // The purge of the old ones: the chain's MAC at the last of them, computed, is checkpointed.
    let outcome = purge(
        &app.db,
        &RetentionSettings::default(),
        now(),
        false,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(
        matches!(outcome, relais_persistence::retention::PurgeOutcome::Ran(ref r) if r.audit_events == 4)
    );
    let report = verified(&app.db);
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.start.position, 4);
}

/// Several threads writing audited requests at once (reads grouped by the audit writer,
/// writes through the pool on PostgreSQL, jobs' own transactions): one chain, in commit
/// order, that verifies.
#[test]
fn concurrent_writers_give_a_chain_that_verifies() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/situations/{}", case.situation);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (app, case, path) = (&app, &case, &path);
            scope.spawn(move || {
                for i in 0..20 {
                    match (t + i) % 3 {
                        0 => assert_eq!(app.get(path, &case.sw).status, 200),
                        1 => {
                            let answer = app.post(
                                &format!("{path}/interventions"),
                                &case.sw,
                                json!({"occurred_on": "2026-11-20", "mode": "phone", "kind": "listening_and_evaluation", "duration_minutes": 10}),
                            );
                            assert_eq!(answer.status, 201, "{:#}", answer.body);
                        }
                        _ => {
                            app.db
                                .write(|conn| audit::append_all(conn, &[event_at("job", now()), event_at("job", now())]))
                                .unwrap();
                        }
                    }
                }
            });
        }
    });
    let report = verified(&app.db);
    assert!(report.is_intact(), "{report}");
    let events = chain(&app.db);
    assert_eq!(report.verified, events.len() as u64);
    assert!(events.len() >= 8 * 20, "{}", events.len());
    let positions: Vec<i64> = events.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>());
}

/// `RELAIS_AUDIT_COPY`: the sink gets each committed event once, in chain order, after its
/// commit; never an event whose transaction rolled back.
#[test]
fn the_copy_gets_the_committed_events_only() {
    #[derive(Default)]
    struct Collected(Mutex<Vec<ChainedEvent>>);
    impl AuditSink for Collected {
        fn committed(&self, events: &[ChainedEvent]) {
            self.0.lock().unwrap().extend_from_slice(events);
        }
    }
    let database = TestDatabase::create();
    let copy = Arc::new(Collected::default());
    let db = Database::open(&database.url, 4)
        .unwrap()
        .with_audit_copy(copy.clone());
    let writes = Writes::start(db.clone()).unwrap();
    let system = actix_web::rt::System::new();
    let results = system.block_on(futures_util::future::join_all(
        (0..40).map(|i| writes.audit(event_at(&format!("copied-{i}"), now()))),
    ));
    assert!(results.iter().all(Result::is_ok));
    // A write that appends its event and then fails: neither is committed, nor copied.
    let failed = system.block_on(writes.run(|conn| {
        audit::append(conn, &event_at("rolled-back", now()))?;
        Err::<(), WriteError>(StoreError::Conflict("refused after writing".into()).into())
    }));
    assert!(failed.is_err());
    db.write(|conn| audit::append(conn, &event_at("direct", now())))
        .unwrap();
    // Each batch is handed over after its own commit: a collector orders by position.
    let mut copied = copy.0.lock().unwrap().clone();
    copied.sort_by_key(|e| e.position);
    let stored: Vec<ChainedEvent> = db
        .read(|conn| {
            audit_events::table
                .order(audit_events::position.asc())
                .select(ChainedEvent::as_select())
                .load(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(copied, stored);
    assert_eq!(stored.len(), 41);
    assert!(stored.iter().all(|e| e.subject != "rolled-back"));
    let line: Value = serde_json::from_str(&copy_line(&stored[0])).unwrap();
    assert_eq!(line["position"], 1);
    assert_eq!(line["mac"], json!(stored[0].mac));
    assert_eq!(line["key_id"], "test-audit");
    assert!(line["at"].as_str().unwrap().ends_with('Z'));
}

fn per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

/// Not a test: throughput of audited requests and of the audit writer alone, printed
/// (`cargo test -p relais-api --test api audit_throughput -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, run by hand"]
fn audit_throughput() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    for _ in 0..19 {
        app.create_situation(&case.sw, &case.post);
    }
    let get = format!("/api/v1/situations/{}", case.situation);
    let threads = 8;
    let rounds = 3;
    for round in 0..rounds {
        let n = 150;
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..n {
                        assert_eq!(app.get(&get, &case.sw).status, 200);
                    }
                });
            }
        });
        let gets = per_second(threads * n, started);
        let n = 25;
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..n {
                        assert_eq!(app.get("/api/v1/situations?limit=20", &case.sw).status, 200);
                    }
                });
            }
        });
        let lists = per_second(threads * n, started);
        let n = 25;
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..n {
                        assert_eq!(app.create_situation(&case.sw, &case.post).status, 201);
                    }
                });
            }
        });
        let creates = per_second(threads * n, started);
        eprintln!(
            "[{:?} round {round}] GET situation {gets:.0}/s, list of 20 {lists:.0}/s, create {creates:.0}/s",
            app.db.backend()
        );
    }
    let database = TestDatabase::create();
    let db = Database::open(&database.url, 4).unwrap();
    let writes = Writes::start(db.clone()).unwrap();
    let event = |i: usize| NewAuditEvent {
        at: chrono::DateTime::from_timestamp(1_773_484_927, 0).unwrap(),
        subject: format!("bench-{i}"),
        role: Role::SocialWorker,
        action: "get_situation",
        record: None,
        post_hint: None,
        status: 200,
        replayed: false,
    };
    let system = actix_web::rt::System::new();
    for round in 0..rounds {
        let n = 6000;
        let started = Instant::now();
        let results = system.block_on(futures_util::future::join_all(
            (0..n).map(|i| writes.audit(event(i))),
        ));
        assert!(results.iter().all(Result::is_ok));
        let alone = per_second(n, started);
        // At most 8 waiting at once, as 8 connections would.
        let started = Instant::now();
        system.block_on(async {
            let lanes = (0..8).map(|_| async {
                for i in 0..n / 8 {
                    writes.audit(event(i)).await.unwrap();
                }
            });
            futures_util::future::join_all(lanes).await;
        });
        let eight = per_second(n, started);
        eprintln!(
            "[{:?} round {round}] audit writer: {alone:.0} events/s with {n} waiting, {eight:.0} events/s with 8 waiting",
            db.backend()
        );
    }
}
