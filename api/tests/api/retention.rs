//! Retention (the purge job): the purge anonymises only the persons whose last contact is past
//! the period (even with a hand-off left in progress all that time), leaves the statistics of a
//! past year byte for byte as they were, changes nothing in a dry run and nothing the second
//! time, and runs on one replica at a time. (The right to erasure, `DELETE
//! /api/v1/beneficiaries/{id}`, is in `beneficiaries.rs`.)

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use relais_api::jobs::purge::{RetentionSettings, purge};
use relais_domain::reference::Role;
use relais_persistence::StoreError;
use relais_persistence::retention::{PURGE_LOCK, PurgeOutcome, PurgeReport};
use relais_persistence::schema::{
    beneficiaries, hand_off_transitions, hand_offs, idempotency_keys, referrals,
};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::{act, intervene, person, sent_hand_off, situation_of};

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

/// The message of the dataset's hand-offs: free text naming the person.
const MESSAGE: &str = "Mme Martin, 3 rue des Lilas";

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
    let mut s1 = situation_of(
        &post,
        "2023-03-10",
        "police",
        "victim",
        false,
        &["conjugal_violence", "housing"],
    );
    s1["beneficiary"] = json!({"first_name": "Camille", "last_name": "Martin", "birth_date": "2005-06-01",
        "sex": "female", "commune_code": "07010", "phone": "06 12 34 56 78", "known_to_social_services": "no"});
    let s1 = app.post("/api/v1/situations", &sw, s1).expect_status(201);
    let p1 = s1.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    let s1 = s1.id();
    let mut s2 = situation_of(
        &post,
        "2023-07-01",
        "spontaneous",
        "neither",
        false,
        &["mental_health"],
    );
    s2["beneficiary_id"] = json!(p1);
    let s2 = app
        .post("/api/v1/situations", &sw, s2)
        .expect_status(201)
        .id();
    intervene(app, &sw, &s1, "2023-03-12", "phone");
    intervene(app, &sw, &s2, "2023-07-02", "home_visit");
    app.put(
        &format!("/api/v1/situations/{s1}/evaluation"),
        &sw,
        None,
        json!({"text": "Violences conjugales depuis 2021, Mme Martin craint pour ses enfants"}),
    )
    .expect_status(201);
    let s1_hand_off = sent_hand_off(
        app,
        &sw,
        &s1,
        &ccas,
        json!(["identity"]),
        json!({ "message": MESSAGE }),
    );
    // Acknowledged with an Idempotency-Key: the stored answer goes with the period too.
    let acknowledged = app.call(
        "POST",
        &format!("/api/v1/hand-offs/{s1_hand_off}/acknowledge"),
        Some(&partner),
        Some(&json!({})),
        &[("Idempotency-Key", "ack-1")],
    );
    assert_eq!(acknowledged.status, 200, "{:#}", acknowledged.body);
    for (action, body) in [
        (
            "accept",
            json!({"comment": "Rendez-vous avec Mme Martin le 12"}),
        ),
        (
            "complete",
            json!({"result": "supported", "outcome": "Droits RSA ouverts pour Mme Martin"}),
        ),
    ] {
        act(app, &partner, &s1_hand_off, action, Some(body), &[]).expect_status(200);
    }

    // P2, born 1959, with a hand-off still sent.
    let mut s3 = situation_of(
        &post,
        "2023-12-31",
        "gendarmerie",
        "author",
        false,
        &["addiction"],
    );
    s3["beneficiary"] = json!({"last_name": "Durand", "birth_year": 1959, "sex": "male", "known_to_social_services": "yes"});
    let s3 = app.post("/api/v1/situations", &sw, s3).expect_status(201);
    let p2 = s3.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    let p2_hand_off = sent_hand_off(
        app,
        &sw,
        &s3.id(),
        &ccas,
        json!(["identity"]),
        json!({ "message": MESSAGE }),
    );

    // P3, referred by an officer and taken up.
    let officer = app.officer(&unit);
    let referral = json!({"post_id": post, "person": {"first_name": "Léa", "last_name": "Petit", "birth_year": 1990,
        "phone": "07 00 00 00 00"}, "reason": "Différend familial chez Mme Petit", "agreed_to_be_contacted": true});
    let r1 = app
        .post("/api/v1/referrals", &officer, referral.clone())
        .expect_status(201)
        .id();
    let s4 = app.post(
        &format!("/api/v1/referrals/{r1}/take-up"),
        &sw,
        json!({"opened_on": "2023-05-05", "origin": "police", "standing": "victim", "penal": false,
               "problems": ["intra_family_violence"], "principal_problem": "intra_family_violence"}),
    )
    .expect_status(201);
    let p3 = s4.body["beneficiary"]["id"].as_str().unwrap().to_owned();

    // P4, opened in 2023 and seen again a month ago.
    let mut s5 = situation_of(
        &post,
        "2023-09-09",
        "police",
        "victim",
        false,
        &["precarity"],
    );
    s5["beneficiary"] = json!({"first_name": "Paul", "sex": "male"});
    let s5 = app.post("/api/v1/situations", &sw, s5).expect_status(201);
    let p4 = s5.body["beneficiary"]["id"].as_str().unwrap().to_owned();
    intervene(app, &sw, &s5.id(), &recent, "phone");

    // P5, opened a month ago.
    let mut s6 = situation_of(&post, &recent, "police", "victim", false, &["precarity"]);
    s6["beneficiary"] = json!({"first_name": "Zoé", "sex": "female"});
    let p5 = app
        .post("/api/v1/situations", &sw, s6)
        .expect_status(201)
        .body["beneficiary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // R2, never taken up.
    let r2 = app
        .post("/api/v1/referrals", &officer, referral)
        .expect_status(201)
        .id();

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
    let national = format!("/api/v1/statistics?{period}&source=live");
    let observatory = app.token(Role::Statistics, &[]);
    vec![
        raw(app, &post, &data.sw, "application/json"),
        raw(app, &post, &data.sw, "text/csv"),
        raw(app, &national, &observatory, "application/json"),
    ]
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// P1 to P5, as their social worker reads them.
fn people(app: &TestApp, data: &Dataset) -> Vec<Value> {
    [&data.p1, &data.p2, &data.p3, &data.p4, &data.p5]
        .iter()
        .map(|id| person(app, &data.sw, id))
        .collect()
}

#[test]
fn a_dry_run_lists_what_the_purge_removes_and_changes_nothing() {
    let app = TestApp::init().spawn();
    let data = dataset(&app);
    let people_before = people(&app, &data);

    let plan = run(&app, true);
    assert_eq!(
        plan.persons,
        sorted(vec![data.p1.clone(), data.p2.clone(), data.p3.clone()])
    );
    assert_eq!(plan.situations, 4, "S1 and S2 of P1, S3 of P2, S4 of P3");
    assert_eq!(plan.stale_hand_offs, vec![data.p2.clone()]);
    assert_eq!(plan.referrals, vec![data.r2.clone()]);
    assert_eq!(plan.idempotency_keys, 1);
    assert_eq!(people(&app, &data), people_before);
    let evaluation = format!("/api/v1/situations/{}/evaluation", data.s1);
    assert_eq!(app.get(&evaluation, &data.sw).status, 200);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{}", data.r2), &data.sw)
            .body["person"]["last_name"],
        "Petit"
    );

    // The purge after it removes what it listed.
    let done = run(&app, false);
    assert_eq!(done.persons, plan.persons);
    assert_eq!(done.situations, 4);
    assert_eq!(done.stale_hand_offs, plan.stale_hand_offs);
    assert_eq!(done.referrals, plan.referrals);
    assert_eq!(done.idempotency_keys, 1);
}

#[test]
fn the_purge_anonymises_the_persons_past_the_period_and_the_free_text_about_them() {
    let app = TestApp::init().spawn();
    let data = dataset(&app);
    let done = run(&app, false);
    assert_eq!(
        done.persons,
        sorted(vec![data.p1.clone(), data.p2.clone(), data.p3.clone()])
    );

    let p1 = person(&app, &data.sw, &data.p1);
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
    app.get(
        &format!("/api/v1/situations/{}/evaluation", data.s1),
        &data.sw,
    )
    .assert_problem(404);
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
        let anonymised = person(&app, &data.sw, id);
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
}

#[test]
fn the_purge_leaves_the_persons_seen_within_the_period_as_they_were() {
    let app = TestApp::init().spawn();
    let data = dataset(&app);
    let people_before = people(&app, &data);
    run(&app, false);
    for index in [3, 4] {
        let id = people_before[index]["id"].as_str().unwrap();
        assert_eq!(person(&app, &data.sw, id), people_before[index]);
    }
}

#[test]
fn the_purge_leaves_the_statistics_of_a_past_year_byte_for_byte() {
    let app = TestApp::init().spawn();
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
    run(&app, true);
    run(&app, false);
    assert_eq!(statistics_of_2023(&app, &data), before);
}

#[test]
fn the_purge_keeps_ages_from_a_birth_year_under_either_convention() {
    let dir = std::env::temp_dir().join(format!("relais-grids-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let millesimes = include_str!("../../../grids/2026.toml")
        .replace("version = \"2026\"", "version = \"2026-millesimes\"")
        .replace("valid_from = \"2020-01-01\"", "valid_from = \"2099-01-01\"")
        .replace(
            "birth_year_age = \"mid_year\"",
            "birth_year_age = \"year_difference\"",
        );
    std::fs::write(dir.join("2026-millesimes.toml"), millesimes).unwrap();
    let app = TestApp::init().with_grids(&dir).spawn();
    let post = app.create_post("Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    // Born in 2005, year only, seen in March 2023: 17 from 1 July (mid_year), 18 by the
    // difference of years; born in 1990, year only, seen in September: 33 either way.
    for (day, birth_year) in [("2023-03-01", 2005), ("2023-09-01", 1990)] {
        let mut body = situation_of(&post, day, "police", "victim", false, &["other"]);
        body["beneficiary"] = json!({"last_name": "Durand", "birth_year": birth_year});
        app.post("/api/v1/situations", &sw, body).expect_status(201);
    }
    let period = "from=2023-01-01&to=2023-12-31";
    let grids = |app: &TestApp| -> Vec<String> {
        ["2026", "2026-millesimes"]
            .iter()
            .map(|grid| {
                raw(
                    app,
                    &format!("/api/v1/statistics?grid={grid}&{period}&post_id={post}"),
                    &sw,
                    "application/json",
                )
            })
            .collect()
    };
    let before = grids(&app);
    let ages = |answer: &str| -> Vec<(String, i64)> {
        let stats: Value = serde_json::from_str(answer).unwrap();
        stats["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "persons_by_age")
            .unwrap()["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["count"].as_i64().unwrap() > 0)
            .map(|v| {
                (
                    v["key"].as_str().unwrap().to_owned(),
                    v["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let pair = |k: &str| (k.to_owned(), 1);
    assert_eq!(ages(&before[0]), [pair("13-17"), pair("26-59")]);
    assert_eq!(ages(&before[1]), [pair("18-25"), pair("26-59")]);
    backdate_everything(&app);
    assert_eq!(run(&app, false).persons.len(), 2);
    assert_eq!(grids(&app), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_purge_has_nothing_to_do() {
    let app = TestApp::init().spawn();
    let data = dataset(&app);
    run(&app, false);
    let p1 = person(&app, &data.sw, &data.p1);
    let again = run(&app, false);
    assert!(again.is_empty(), "{again:?}");
    assert!(again.stale_hand_offs.is_empty());
    assert_eq!(person(&app, &data.sw, &data.p1), p1);
}

#[test]
fn retention_the_purge_runs_on_one_replica_at_a_time() {
    let app = TestApp::init().spawn();
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

/// The purge tells each partner still holding a purged person's data to erase its copy
/// (`hand_off.personal_data_withdrawn`, reason `retention`), in the batch's transaction.
#[test]
fn the_purge_tells_the_partners_holding_the_persons_data_to_erase_it() {
    let app = TestApp::init().spawn();
    let data = dataset(&app);
    run(&app, false);
    let read = app.get(&format!("/api/v1/hand-offs/{}", data.s1_hand_off), &data.sw);
    let partner = app.partner(read.body["partner_id"].as_str().unwrap());
    let feed = app
        .get("/api/v1/events?limit=500", &partner)
        .expect_status(200);
    let mut told: Vec<(String, String)> = feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "hand_off.personal_data_withdrawn")
        .map(|e| {
            let record = e["record_id"].as_str().unwrap().to_owned();
            (record, e["data"]["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    told.sort();
    let mut expected = vec![
        (data.s1_hand_off.clone(), "retention".to_owned()),
        (data.p2_hand_off.clone(), "retention".to_owned()),
    ];
    expected.sort();
    assert_eq!(told, expected);
    assert!(
        run(&app, false).persons.is_empty(),
        "nothing more, and no event more"
    );
    let again = app.get("/api/v1/events?limit=500", &partner);
    assert_eq!(again.body["items"], feed.body["items"]);
}
