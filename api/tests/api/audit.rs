//! The audit trail: every access to personal data leaves an event, coordinators read them, and
//! nobody alters them.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use relais_api::jobs::purge::{RetentionSettings, purge};
use relais_domain::reference::Role;
use relais_persistence::retention::PurgeOutcome;
use relais_persistence::schema::audit_events;
use relais_persistence::{Backend, StoreError, audit};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::Case;

fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let answer = app.get(&format!("/api/v1/audit?{query}"), token);
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    answer.body["items"].as_array().unwrap().clone()
}

/// (action, outcome, role) of each event, oldest first.
fn summary(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn triple(action: &str, outcome: &str, role: &str) -> (String, String, String) {
    (action.into(), outcome.into(), role.into())
}

#[test]
fn reads_writes_and_refusals_of_a_record_are_each_audited_without_its_content() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/situations/{}", case.situation);
    assert_eq!(app.get(&path, &case.sw).status, 200);
    app.put(
        &format!("{path}/evaluation"),
        &case.sw,
        None,
        json!({"text": "Violences répétées, enfants exposés"}),
    );
    assert_eq!(
        app.get(&format!("{path}/evaluation"), &case.coordinator)
            .status,
        200
    );
    // Refused: an officer (by the matrix) and a social worker of another post (out of scope).
    let unit = app.create_unit(&case.post);
    app.get(&path, &app.officer(&unit)).assert_problem(403);
    let elsewhere = app.create_post("Poste d'Aubenas");
    app.get(&path, &app.token(Role::SocialWorker, &[&elsewhere]))
        .assert_problem(404);

    let trail = events(
        &app,
        &case.coordinator,
        &format!("record_id={}", case.situation),
    );
    assert_eq!(
        summary(&trail),
        [
            triple("create_situation", "success", "social_worker"),
            triple("get_situation", "success", "social_worker"),
            triple("replace_evaluation", "success", "social_worker"),
            triple("get_evaluation", "success", "coordinator"),
            triple("get_situation", "denied", "officer"),
            triple("get_situation", "not_found", "social_worker"),
        ]
    );
    for event in &trail {
        assert_eq!(event["record_type"], "situation");
        assert_eq!(event["post_id"], json!(case.post));
        assert_eq!(event["beneficiary_id"], json!(case.person));
        assert!(event["subject"].as_str().unwrap().starts_with("test-"));
    }
    let text = serde_json::to_string(&trail).unwrap();
    for content in ["Camille", "Martin", "Violences", "conjugal"] {
        assert!(!text.contains(content), "the trail carries {content}");
    }
}

#[test]
fn every_kind_of_personal_record_is_audited() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS de Privas", "ccas");
    let hand_off = app
        .post(
            &format!("/api/v1/situations/{}/hand-offs", case.situation),
            &case.sw,
            json!({"partner_id": partner, "reasons": ["precarity"]}),
        )
        .id();
    let unit = app.create_unit(&case.post);
    let referral = app
        .post("/api/v1/referrals", &app.officer(&unit), json!({"post_id": case.post, "person": {"sex": "male"}, "reason": "Différend", "agreed_to_be_contacted": true}))
        .id();
    let requisition = app
        .post("/api/v1/requisitions", &case.sw, json!({"beneficiary_id": case.person, "legal_basis": "cpp_60_1", "procedure_reference": "PV 1", "requesting_authority": "OPJ", "received_on": "2026-11-20"}))
        .id();
    for (path, record_type, id) in [
        (
            format!("/api/v1/beneficiaries/{}", case.person),
            "beneficiary",
            &case.person,
        ),
        (
            format!("/api/v1/hand-offs/{hand_off}"),
            "hand_off",
            &hand_off,
        ),
        (
            format!("/api/v1/referrals/{referral}"),
            "referral",
            &referral,
        ),
        (
            format!("/api/v1/requisitions/{requisition}"),
            "requisition",
            &requisition,
        ),
        (
            format!("/api/v1/beneficiaries/{}/export", case.person),
            "beneficiary",
            &case.person,
        ),
    ] {
        assert_eq!(app.get(&path, &case.sw).status, 200, "{path}");
        let trail = events(&app, &case.coordinator, &format!("record_id={id}"));
        let last = &trail[0];
        assert_eq!(last["record_type"], record_type, "{path}");
        assert_eq!(last["outcome"], "success");
        assert_eq!(last["post_id"], json!(case.post));
        // A referral names a person only once taken up into a situation.
        let person = if record_type == "referral" {
            Value::Null
        } else {
            json!(case.person)
        };
        assert_eq!(last["beneficiary_id"], person, "{path}");
    }
    // Lists are audited too: an event for each record shown, tied to its post and person.
    app.get("/api/v1/situations", &case.sw);
    let lists = events(&app, &case.coordinator, "subject=test-social_worker");
    assert_eq!(lists[0]["action"], "list_situations");
    assert_eq!(lists[0]["record_id"], json!(case.situation));
    assert_eq!(lists[0]["beneficiary_id"], json!(case.person));
}

#[test]
fn the_trail_filters_by_person_subject_and_period_within_the_coordinators_posts() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let other = Case::open(&app);
    app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw);
    let history = events(
        &app,
        &case.coordinator,
        &format!("beneficiary_id={}", case.person),
    );
    assert!(history.len() >= 2);
    assert!(
        history
            .iter()
            .all(|e| e["beneficiary_id"] == json!(case.person))
    );
    // Another post's coordinator sees none of it, even when asking for the record.
    assert!(
        events(
            &app,
            &other.coordinator,
            &format!("record_id={}", case.situation)
        )
        .is_empty()
    );
    app.get(
        &format!("/api/v1/audit?post_id={}", case.post),
        &other.coordinator,
    )
    .assert_problem(403);
    // Period: nothing before 2020, everything today.
    assert!(events(&app, &case.coordinator, "to=2020-01-01").is_empty());
    let today = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).date_naive();
    assert!(!events(&app, &case.coordinator, &format!("from={today}")).is_empty());
    app.get(
        "/api/v1/audit?from=2026-02-01&to=2026-01-01",
        &case.coordinator,
    )
    .assert_problem(422);
    // Social workers do not read the trail.
    app.get("/api/v1/audit", &case.sw).assert_problem(403);
}

#[test]
fn audit_events_cannot_be_altered_nor_deleted_early_even_in_sql() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw);
    let count = || {
        events(
            &app,
            &case.coordinator,
            &format!("record_id={}", case.situation),
        )
        .len()
    };
    let before = count();
    assert!(before >= 2);
    for statement in [
        "UPDATE audit_events SET subject = 'someone-else'",
        "DELETE FROM audit_events",
    ] {
        let result = app
            .db
            .write(|conn| sql_query(statement).execute(conn).map_err(StoreError::from));
        assert!(result.is_err(), "{statement} went through");
    }
    if app.db.backend() == Backend::Postgres {
        let result = app.db.write(|conn| {
            sql_query("TRUNCATE audit_events")
                .execute(conn)
                .map_err(StoreError::from)
        });
        assert!(result.is_err(), "TRUNCATE went through");
    }
    assert_eq!(count(), before);
    let trail = events(
        &app,
        &case.coordinator,
        &format!("record_id={}", case.situation),
    );
    assert!(trail.iter().all(|e| e["subject"] != "someone-else"));
    // No route changes the trail.
    for method in ["DELETE", "PUT", "PATCH"] {
        let answer = app.call(method, "/api/v1/audit", Some(&case.coordinator), None, &[]);
        assert!(
            [404, 405].contains(&answer.status),
            "{method}: {}",
            answer.status
        );
    }
}

#[test]
fn the_retention_purge_deletes_only_events_past_their_period() {
    let app = TestApp::init().spawn();
    // The old event is the first of the chain: the purge cuts the chain at one point, after its
    // oldest events (`audit_chain`).
    let post = app.create_post("Poste de Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let coordinator = app.token(Role::Coordinator, &[&post]);
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock);
    app.db
        .write(|conn| {
            audit::append(
                conn,
                &audit::NewAuditEvent {
                    at: now - chrono::Duration::days(400),
                    subject: "old".into(),
                    role: Role::SocialWorker,
                    action: "get_situation",
                    record: None,
                    post_hint: Some(post.parse().unwrap()),
                    status: 200,
                    replayed: false,
                },
            )
        })
        .unwrap();
    let situation = app.create_situation(&sw, &post).id();
    let all = |app: &TestApp| {
        let mut all = events(app, &coordinator, "subject=old");
        all.extend(events(app, &coordinator, &format!("record_id={situation}")));
        all
    };
    assert!(all(&app).iter().any(|e| e["subject"] == "old"));
    // The retention job: its dry run counts the old event, its run deletes it.
    let settings = RetentionSettings::default();
    let dry = purge(
        &app.db,
        &settings,
        relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
        true,
        &mut |_, _| {},
    )
    .unwrap();
    let PurgeOutcome::Ran(dry) = dry else {
        panic!("the purge lock was held")
    };
    assert_eq!(dry.audit_events, 1);
    assert!(all(&app).iter().any(|e| e["subject"] == "old"));
    let done = purge(
        &app.db,
        &settings,
        relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
        false,
        &mut |_, _| {},
    )
    .unwrap();
    let PurgeOutcome::Ran(done) = done else {
        panic!("the purge lock was held")
    };
    assert_eq!(done.audit_events, 1);
    let left = all(&app);
    assert!(!left.is_empty());
    assert!(left.iter().all(|e| e["subject"] != "old"));
    // A retention shorter than the floor the database enforces is refused by the database.
    assert!(app.db.write(|conn| audit::purge(conn, 0)).is_err());
}

#[test]
fn rectification_and_erasure_are_audited() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/beneficiaries/{}", case.person);
    let rectified = app.put(
        &path,
        &case.sw,
        Some("\"1\""),
        json!({"first_name": "Camille", "last_name": "Martin-Roux", "birth_year": 1987, "sex": "female", "known_to_social_services": "no"}),
    );
    assert_eq!(rectified.status, 200, "{:#}", rectified.body);
    let erased = app.call(
        "DELETE",
        &path,
        Some(&case.sw),
        None,
        &[("If-Match", "\"2\"")],
    );
    assert_eq!(erased.status, 200, "{:#}", erased.body);
    let trail = events(
        &app,
        &case.coordinator,
        &format!("record_id={}", case.person),
    );
    let actions: Vec<_> = summary(&trail)
        .into_iter()
        .map(|(a, o, _)| format!("{a}:{o}"))
        .collect();
    assert_eq!(
        actions,
        ["replace_beneficiary:success", "erase_beneficiary:success"]
    );
    // The trail outlives the identity it no longer holds.
    assert_eq!(trail[0]["beneficiary_id"], json!(case.person));
}

/// The guarantee of the trail: an access whose event cannot be stored is answered with an error,
/// never with the record.
#[test]
fn an_access_whose_event_cannot_be_stored_is_not_served() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let refuse = match app.db.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_all BEFORE INSERT ON audit_events \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_all() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END \
             $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_all BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_all();"
        }
    };
    app.db
        .write(|conn| conn.batch_execute(refuse).map_err(StoreError::from))
        .unwrap();
    let answer = app.get(&format!("/api/v1/situations/{}", case.situation), &case.sw);
    assert_eq!(answer.status, 500, "{:#}", answer.body);
    assert!(answer.body.get("beneficiary").is_none());
}

/// Concurrent reads, committed in groups by the audit writer, each leave their own event.
#[test]
fn concurrent_reads_each_leave_their_event() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/situations/{}", case.situation);
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                for _ in 0..5 {
                    assert_eq!(app.get(&path, &case.sw).status, 200);
                }
            });
        }
    });
    let reads: i64 = app
        .db
        .read(|conn| {
            audit_events::table
                .filter(audit_events::record_id.eq(&case.situation))
                .filter(audit_events::action.eq("get_situation"))
                .count()
                .get_result(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(reads, 80);
}

/// HEAD is GET without the body (RFC 9110): the same status and `ETag`, the same access rules,
/// and, since it tells whether a record exists and its version, the same audit event.
#[test]
fn head_is_answered_and_audited_as_get() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/situations/{}", case.situation);
    let got = app.get(&path, &case.sw);
    let head = app.call("HEAD", &path, Some(&case.sw), None, &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.etag, got.etag);
    assert!(head.body.is_null(), "{:#}", head.body);
    assert_eq!(
        head.headers["content-length"],
        got.body.to_string().len().to_string(),
        "the GET's length"
    );
    let officer = app.officer(&app.create_unit(&case.post));
    assert_eq!(
        app.call("HEAD", &path, Some(&officer), None, &[]).status,
        403
    );
    assert_eq!(app.call("HEAD", &path, None, None, &[]).status, 401);
    let other_post = app.create_post("Poste de Valence");
    let outsider = app.token(Role::SocialWorker, &[&other_post]);
    assert_eq!(
        app.call("HEAD", &path, Some(&outsider), None, &[]).status,
        404
    );
    let trail = summary(&events(
        &app,
        &case.coordinator,
        &format!("record_id={}", case.situation),
    ));
    assert_eq!(
        trail,
        [
            triple("create_situation", "success", "social_worker"),
            triple("get_situation", "success", "social_worker"),
            triple("get_situation", "success", "social_worker"),
            triple("get_situation", "denied", "officer"),
            triple("get_situation", "not_found", "social_worker"),
        ]
    );
}
