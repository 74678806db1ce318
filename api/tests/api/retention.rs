//! Retention and erasure: the purge anonymises only the persons whose last contact is past the
//! period (even with a hand-off left in progress all that time), leaves the statistics of a past
//! year byte for byte as they were, changes nothing in a dry run and nothing the second time; the
//! right to erasure anonymises one person now, except while a hand-off of theirs is in progress,
//! and only for the social workers of their post.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use relais_api::jobs::retention::{RetentionSettings, purge};
use relais_domain::reference::Role;
use relais_persistence::StoreError;
use relais_persistence::retention::{PURGE_LOCK, PurgeOutcome, PurgeReport};
use relais_persistence::schema::{
    beneficiaries, hand_off_transitions, hand_offs, idempotency_keys, referrals,
};
use serde_json::{Value, json};

use crate::support::{Answer, TestApp};

fn created(answer: Answer) -> Answer {
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    answer
}

fn situation(
    post: &str,
    opened_on: &str,
    origin: &str,
    standing: &str,
    problems: &[&str],
) -> Value {
    json!({"post_id": post, "opened_on": opened_on, "origin": origin, "standing": standing, "penal": false,
           "problems": problems, "principal_problem": problems[0]})
}

fn intervene(app: &TestApp, sw: &str, situation: &str, day: &str, mode: &str) {
    created(app.post(
        &format!("/api/v1/situations/{situation}/interventions"),
        sw,
        json!({"occurred_on": day, "mode": mode, "kind": "listening_and_evaluation", "duration_minutes": 30}),
    ));
}

/// A hand-off of `situation` to `partner`, with a message, consent, and sent.
fn hand_off_sent(app: &TestApp, sw: &str, situation: &str, partner: &str) -> String {
    let id = created(app.post(
        &format!("/api/v1/situations/{situation}/hand-offs"),
        sw,
        json!({"partner_id": partner, "reasons": ["precarity"], "message": "Mme Martin, 3 rue des Lilas"}),
    ))
    .id();
    let consent = app.put(
        &format!("/api/v1/hand-offs/{id}/consent"),
        sw,
        None,
        json!({"given": true, "form": "oral", "shared_data": ["identity"]}),
    );
    assert_eq!(consent.status, 200, "{:#}", consent.body);
    act(app, sw, &id, "send", json!({}));
    id
}

fn act(app: &TestApp, token: &str, hand_off: &str, action: &str, body: Value) {
    let answer = app.post(
        &format!("/api/v1/hand-offs/{hand_off}/{action}"),
        token,
        body,
    );
    assert_eq!(answer.status, 200, "{action}: {:#}", answer.body);
}

/// Moves every recorded instant (person records, referrals, hand-offs and their moves) to
/// mid-2023, as if all of it had been entered then; only the dates given to the API stay.
fn backdate_everything(app: &TestApp) {
    let at = NaiveDate::from_ymd_opt(2023, 6, 1)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    app.db
        .write(|conn| -> Result<(), StoreError> {
            diesel::update(beneficiaries::table)
                .set(beneficiaries::created_at.eq(at))
                .execute(conn)?;
            diesel::update(referrals::table)
                .set((referrals::created_at.eq(at), referrals::updated_at.eq(at)))
                .execute(conn)?;
            diesel::update(hand_offs::table)
                .set(hand_offs::created_at.eq(at))
                .execute(conn)?;
            diesel::update(hand_off_transitions::table)
                .set(hand_off_transitions::at.eq(at))
                .execute(conn)?;
            diesel::update(idempotency_keys::table)
                .set(idempotency_keys::created_at.eq(at))
                .execute(conn)?;
            Ok(())
        })
        .unwrap();
}

/// The raw bytes of a GET, as sent.
fn raw(app: &TestApp, path: &str, token: &str, accept: &str) -> String {
    let response = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    response.into_string().unwrap()
}

fn run(app: &TestApp, dry_run: bool) -> PurgeReport {
    match purge(
        &app.db,
        &RetentionSettings::default(),
        relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
        dry_run,
        &mut |_, _| {},
    )
    .unwrap()
    {
        PurgeOutcome::Ran(report) => report,
        PurgeOutcome::Busy => panic!("nobody else purges here"),
    }
}

struct Dataset {
    post: String,
    sw: String,
    /// Past the period: two situations, an evaluation, a completed hand-off.
    p1: String,
    s1: String,
    s1_hand_off: String,
    /// Past the period, with a hand-off sent and never answered since.
    p2: String,
    p2_hand_off: String,
    /// Past the period, taken up from a referral.
    p3: String,
    r1: String,
    /// Opened in 2023, but an intervention a month ago.
    p4: String,
    /// Opened a month ago.
    p5: String,
    /// A referral never taken up, past the period.
    r2: String,
}

fn dataset(app: &TestApp) -> Dataset {
    let post = app.create_post("Privas");
    let unit = app.create_unit(&post);
    let sw = app.token(Role::SocialWorker, &[&post]);
    let ccas = app.create_partner("CCAS", "ccas");
    let partner = app.partner(&ccas);
    let recent = (relais_api::clock::Clock::now(&relais_api::clock::SystemClock)
        - Duration::days(30))
    .date_naive()
    .to_string();

    // P1, born 2005-06-01: 17 at her first situation, 18 at her second. With the birth year
    // alone she would be 18 at both, so the age brackets depend on keeping more than the year.
    let mut s1 = situation(
        &post,
        "2023-03-10",
        "police",
        "victim",
        &["conjugal_violence", "housing"],
    );
    s1["beneficiary"] = json!({"first_name": "Camille", "last_name": "Martin", "birth_date": "2005-06-01",
        "sex": "female", "commune_code": "07010", "phone": "06 12 34 56 78", "known_to_social_services": "no"});
    let s1 = created(app.post("/api/v1/situations", &sw, s1));
    let p1 = s1.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    let s1 = s1.id();
    let mut s2 = situation(
        &post,
        "2023-07-01",
        "spontaneous",
        "neither",
        &["mental_health"],
    );
    s2["beneficiary_id"] = json!(p1);
    let s2 = created(app.post("/api/v1/situations", &sw, s2)).id();
    intervene(app, &sw, &s1, "2023-03-12", "phone");
    intervene(app, &sw, &s2, "2023-07-02", "home_visit");
    created(app.put(
        &format!("/api/v1/situations/{s1}/evaluation"),
        &sw,
        None,
        json!({"text": "Violences conjugales depuis 2021, Mme Martin craint pour ses enfants"}),
    ));
    let s1_hand_off = hand_off_sent(app, &sw, &s1, &ccas);
    // Acknowledged with an Idempotency-Key: the stored answer goes with the period too.
    let acknowledged = app.call(
        "POST",
        &format!("/api/v1/hand-offs/{s1_hand_off}/acknowledge"),
        Some(&partner),
        Some(&json!({})),
        &[("Idempotency-Key", "ack-1")],
    );
    assert_eq!(acknowledged.status, 200, "{:#}", acknowledged.body);
    act(
        app,
        &partner,
        &s1_hand_off,
        "accept",
        json!({"comment": "Rendez-vous avec Mme Martin le 12"}),
    );
    act(
        app,
        &partner,
        &s1_hand_off,
        "complete",
        json!({"outcome": "Droits RSA ouverts pour Mme Martin"}),
    );

    // P2, born 1959, with a hand-off still sent.
    let mut s3 = situation(&post, "2023-12-31", "gendarmerie", "author", &["addiction"]);
    s3["beneficiary"] = json!({"last_name": "Durand", "birth_year": 1959, "sex": "male", "known_to_social_services": "yes"});
    let s3 = created(app.post("/api/v1/situations", &sw, s3));
    let p2 = s3.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    let p2_hand_off = hand_off_sent(app, &sw, &s3.id(), &ccas);

    // P3, referred by an officer and taken up.
    let officer = app.officer(&unit);
    let referral = json!({"post_id": post, "person": {"first_name": "Léa", "last_name": "Petit", "birth_year": 1990,
        "phone": "07 00 00 00 00"}, "reason": "Différend familial chez Mme Petit", "agreed_to_be_contacted": true});
    let r1 = created(app.post("/api/v1/referrals", &officer, referral.clone())).id();
    let s4 = created(app.post(
        &format!("/api/v1/referrals/{r1}/take-up"),
        &sw,
        json!({"opened_on": "2023-05-05", "origin": "police", "standing": "victim", "penal": false,
               "problems": ["intra_family_violence"], "principal_problem": "intra_family_violence"}),
    ));
    let p3 = s4.body["beneficiary"]["id"].as_str().unwrap().to_owned();

    // P4, opened in 2023 and seen again a month ago.
    let mut s5 = situation(&post, "2023-09-09", "police", "victim", &["precarity"]);
    s5["beneficiary"] = json!({"first_name": "Paul", "sex": "male"});
    let s5 = created(app.post("/api/v1/situations", &sw, s5));
    let p4 = s5.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    intervene(app, &sw, &s5.id(), &recent, "phone");

    // P5, opened a month ago.
    let mut s6 = situation(&post, &recent, "police", "victim", &["precarity"]);
    s6["beneficiary"] = json!({"first_name": "Zoé", "sex": "female"});
    let p5 = created(app.post("/api/v1/situations", &sw, s6)).body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // R2, never taken up.
    let r2 = created(app.post("/api/v1/referrals", &officer, referral)).id();

    backdate_everything(app);
    Dataset {
        post,
        sw,
        p1,
        s1,
        s1_hand_off,
        p2,
        p2_hand_off,
        p3,
        r1,
        p4,
        p5,
        r2,
    }
}

/// Everything the statistics of 2023 answer, as bytes: the post's grid in JSON and CSV, and the
/// national grid.
fn statistics_of_2023(app: &TestApp, data: &Dataset) -> Vec<String> {
    let period = "from=2023-01-01&to=2023-12-31";
    let post = format!("/api/v1/statistics?{period}&post_id={}", data.post);
    let national = format!("/api/v1/statistics?{period}");
    let observatory = app.token(Role::Statistics, &[]);
    vec![
        raw(app, &post, &data.sw, "application/json"),
        raw(app, &post, &data.sw, "text/csv"),
        raw(app, &national, &observatory, "application/json"),
    ]
}

fn person(app: &TestApp, data: &Dataset, id: &str) -> Value {
    let answer = app.get(&format!("/api/v1/beneficiaries/{id}"), &data.sw);
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    answer.body
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn retention_purge_anonymises_only_what_is_past_and_keeps_the_statistics() {
    let app = TestApp::spawn();
    let data = dataset(&app);
    let before = statistics_of_2023(&app, &data);
    // P1 counts as 17 (her age at her first situation of 2023), which her birth year alone
    // would not give: the check below is not vacuous.
    let stats: Value = serde_json::from_str(&before[0]).unwrap();
    let by_age = stats["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "persons_by_age")
        .unwrap();
    let minors = by_age["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "13-17")
        .unwrap();
    assert_eq!(minors["count"], 1, "{by_age:#}");
    let people_before: Vec<Value> = [&data.p1, &data.p2, &data.p3, &data.p4, &data.p5]
        .iter()
        .map(|id| person(&app, &data, id))
        .collect();

    // The dry run lists what would go, and changes nothing.
    let plan = run(&app, true);
    assert_eq!(
        plan.persons,
        sorted(vec![data.p1.clone(), data.p2.clone(), data.p3.clone()])
    );
    assert_eq!(plan.situations, 4, "S1 and S2 of P1, S3 of P2, S4 of P3");
    assert_eq!(plan.stale_hand_offs, vec![data.p2.clone()]);
    assert_eq!(plan.referrals, vec![data.r2.clone()]);
    assert_eq!(plan.idempotency_keys, 1);
    let people_after_dry_run: Vec<Value> = [&data.p1, &data.p2, &data.p3, &data.p4, &data.p5]
        .iter()
        .map(|id| person(&app, &data, id))
        .collect();
    assert_eq!(people_after_dry_run, people_before);
    let evaluation = format!("/api/v1/situations/{}/evaluation", data.s1);
    assert_eq!(app.get(&evaluation, &data.sw).status, 200);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{}", data.r2), &data.sw)
            .body["person"]["last_name"],
        "Petit"
    );

    // The purge.
    let done = run(&app, false);
    assert_eq!(done.persons, plan.persons);
    assert_eq!(done.situations, 4);
    assert_eq!(done.stale_hand_offs, plan.stale_hand_offs);
    assert_eq!(done.referrals, plan.referrals);
    assert_eq!(done.idempotency_keys, 1);

    let p1 = person(&app, &data, &data.p1);
    for field in [
        "first_name",
        "last_name",
        "birth_date",
        "birth_year",
        "commune_code",
        "phone",
    ] {
        assert_eq!(p1[field], Value::Null, "{field}: {p1:#}");
    }
    assert_eq!(p1["sex"], "female");
    assert_eq!(p1["known_to_social_services"], "no");
    assert!(p1["anonymised_at"].is_string(), "{p1:#}");
    app.get(&evaluation, &data.sw).assert_problem(404);
    let hand_off = app.get(&format!("/api/v1/hand-offs/{}", data.s1_hand_off), &data.sw);
    assert_eq!(hand_off.status, 200, "{:#}", hand_off.body);
    assert_eq!(hand_off.body["status"], "completed");
    assert!(
        !hand_off.body.to_string().contains("Martin"),
        "no free text left in the hand-off: {:#}",
        hand_off.body
    );
    for referral in [&data.r1, &data.r2] {
        let read = app.get(&format!("/api/v1/referrals/{referral}"), &data.sw);
        assert_eq!(read.status, 200, "{:#}", read.body);
        assert!(!read.body.to_string().contains("Petit"), "{:#}", read.body);
        assert_eq!(read.body["reason"], "");
    }
    for id in [&data.p2, &data.p3] {
        let anonymised = person(&app, &data, id);
        assert!(
            anonymised["anonymised_at"].is_string() && anonymised["last_name"].is_null(),
            "{anonymised:#}"
        );
    }
    // The stale hand-off keeps its status (the statistics count it), not its message.
    let stale = app.get(&format!("/api/v1/hand-offs/{}", data.p2_hand_off), &data.sw);
    assert_eq!(stale.body["status"], "sent");
    assert!(
        !stale.body.to_string().contains("Martin"),
        "{:#}",
        stale.body
    );
    // The others are untouched.
    for index in [3, 4] {
        let id = people_before[index]["id"].as_str().unwrap();
        assert_eq!(person(&app, &data, id), people_before[index]);
    }

    // Nothing the statistics use has changed: the same bytes.
    assert_eq!(statistics_of_2023(&app, &data), before);

    // A second purge has nothing to do.
    let again = run(&app, false);
    assert!(again.is_empty(), "{again:?}");
    assert!(again.stale_hand_offs.is_empty());
    assert_eq!(person(&app, &data, &data.p1), p1);
}

#[test]
fn retention_the_purge_runs_on_one_replica_at_a_time() {
    let app = TestApp::spawn();
    if app.db.backend() != relais_persistence::Backend::Postgres {
        return; // SQLite has a single writer already.
    }
    app.db
        .read(|conn| -> Result<(), StoreError> {
            diesel::sql_query(format!("SELECT pg_advisory_lock({PURGE_LOCK})")).execute(conn)?;
            let outcome = purge(
                &app.db,
                &RetentionSettings::default(),
                relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
                false,
                &mut |_, _| {},
            );
            diesel::sql_query(format!("SELECT pg_advisory_unlock({PURGE_LOCK})")).execute(conn)?;
            assert_eq!(outcome?, PurgeOutcome::Busy);
            Ok(())
        })
        .unwrap();
    assert!(matches!(
        purge(
            &app.db,
            &RetentionSettings::default(),
            relais_api::clock::Clock::now(&relais_api::clock::SystemClock),
            false,
            &mut |_, _| {}
        )
        .unwrap(),
        PurgeOutcome::Ran(_)
    ));
}

fn erase(app: &TestApp, id: &str, token: &str, if_match: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
    app.call(
        "DELETE",
        &format!("/api/v1/beneficiaries/{id}"),
        Some(token),
        None,
        &headers,
    )
}

#[test]
fn retention_erasure_anonymises_now_unless_a_hand_off_is_in_progress() {
    let app = TestApp::spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let opened = app.create_situation(&sw, &post);
    let situation = opened.id();
    let id = opened.body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    created(app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &sw,
        None,
        json!({"text": "Évaluation confidentielle"}),
    ));
    let ccas = app.create_partner("CCAS", "ccas");
    let hand_off = hand_off_sent(&app, &sw, &situation, &ccas);

    // In progress: refused, and why.
    let refused = erase(&app, &id, &sw, Some("\"1\""));
    refused.assert_problem(409);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("hand-off"),
        "{:#}",
        refused.body
    );
    assert_eq!(person_of(&app, &sw, &id)["last_name"], "Martin");

    // Cancelled: allowed, with the version read.
    act(&app, &sw, &hand_off, "cancel", json!({}));
    erase(&app, &id, &sw, None).assert_problem(428);
    erase(&app, &id, &sw, Some("\"7\"")).assert_problem(412);
    let erased = erase(&app, &id, &sw, Some("\"1\""));
    assert_eq!(erased.status, 200, "{:#}", erased.body);
    assert_eq!(erased.etag.as_deref(), Some("\"2\""));
    assert!(erased.body["anonymised_at"].is_string());
    assert!(erased.body["last_name"].is_null() && erased.body["birth_year"].is_null());
    assert_eq!(erased.body["sex"], "female");
    assert_eq!(person_of(&app, &sw, &id), erased.body);
    app.get(&format!("/api/v1/situations/{situation}/evaluation"), &sw)
        .assert_problem(404);

    // Erasing again changes nothing; the identity cannot come back.
    let again = erase(&app, &id, &sw, Some("\"2\""));
    assert_eq!(again.status, 200);
    assert_eq!(again.body, erased.body);
    app.put(
        &format!("/api/v1/beneficiaries/{id}"),
        &sw,
        Some("\"2\""),
        json!({"last_name": "Martin"}),
    )
    .assert_problem(409);
    // Nothing new is written about them in their old situation either.
    app.put(
        &format!("/api/v1/situations/{situation}/evaluation"),
        &sw,
        None,
        json!({"text": "Nouvelle évaluation"}),
    )
    .assert_problem(409);
    app.post(
        &format!("/api/v1/situations/{situation}/interventions"),
        &sw,
        json!({"occurred_on": "2026-03-15", "mode": "phone", "kind": "listening_and_evaluation", "duration_minutes": 10}),
    )
    .assert_problem(409);
    app.post(
        &format!("/api/v1/situations/{situation}/hand-offs"),
        &sw,
        json!({"partner_id": ccas, "reasons": ["precarity"]}),
    )
    .assert_problem(409);
    let mut reopen = situation_for(&post);
    reopen["beneficiary_id"] = json!(id);
    let reopened = app.post("/api/v1/situations", &sw, reopen);
    reopened.assert_problem(422);
    assert_eq!(reopened.fields(), ["beneficiary_id"]);
}

fn person_of(app: &TestApp, token: &str, id: &str) -> Value {
    let answer = app.get(&format!("/api/v1/beneficiaries/{id}"), token);
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    answer.body
}

fn situation_for(post: &str) -> Value {
    situation(post, "2026-03-14", "police", "victim", &["other"])
}

#[test]
fn retention_erasure_is_for_the_social_workers_of_the_post() {
    let app = TestApp::spawn();
    let (post, other) = (app.create_post("Privas"), app.create_post("Aubenas"));
    let sw = app.token(Role::SocialWorker, &[&post]);
    let id = app.create_situation(&sw, &post).body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = app.create_unit(&post);
    for token in [
        app.token(Role::Coordinator, &[&post]),
        app.officer(&unit),
        app.token(Role::Statistics, &[]),
        app.admin(),
    ] {
        erase(&app, &id, &token, Some("\"1\"")).assert_problem(403);
    }
    erase(
        &app,
        &id,
        &app.token(Role::SocialWorker, &[&other]),
        Some("\"1\""),
    )
    .assert_problem(404);
    erase(&app, &uuid_like(), &sw, Some("\"1\"")).assert_problem(404);
    assert_eq!(person_of(&app, &sw, &id)["last_name"], "Martin");
}

fn uuid_like() -> String {
    "01936b2e-7c4a-7f00-8000-000000000001".to_owned()
}
