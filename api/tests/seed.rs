//! `relais seed`: the synthetic dataset is deterministic, shaped like the field's figures, and
//! every row obeys the schema and the domain's rules. Runs on SQLite, and on PostgreSQL with
//! `RELAIS_TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta};
use relais_api::cli::seed::{Generator, SeedError, SeedOptions, seed};
use relais_domain::beneficiary::Birth;
use relais_domain::hand_off::{
    ConsentInput, HandOffAction, HandOffInput, SendCheck, is_final, transition,
};
use relais_domain::ids::PostId;
use relais_domain::reference::{HandOffStatus, Role, SituationStatus};
use relais_persistence::bulk::{self, Batch};
use relais_persistence::hand_offs::{self, HandOffFilter};
use relais_persistence::partners::{self, PartnerFilter};
use relais_persistence::situations::{self, SituationFilter};
use relais_persistence::testing::TestDatabase;
use relais_persistence::{Database, PageRequest, beneficiaries, interventions, posts, units};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn options(
    posts: u32,
    years: u32,
    seed: u64,
    first_year: Option<i32>,
    today: NaiveDate,
) -> SeedOptions {
    SeedOptions {
        posts,
        years,
        seed,
        first_year,
        today,
        // Small batches, so that the tests cross batch boundaries.
        batch_situations: 700,
        append: false,
        progress: false,
    }
}

/// A fresh database seeded with `options`; keep the `TestDatabase` alive while using it.
fn seeded(options: &SeedOptions) -> (TestDatabase, Database) {
    let test_db = TestDatabase::create();
    let db = Database::open(&test_db.url, 2).unwrap();
    let summary = seed(&db, options).unwrap();
    assert!(summary.rows() > 0);
    let stored = db.read(bulk::table_counts).unwrap();
    assert_eq!(
        stored, summary.counts,
        "the summary counts what was written"
    );
    (test_db, db)
}

fn load(db: &Database) -> Batch {
    sorted(db.read(bulk::load_all).unwrap())
}

/// Every table in byte order of its key, whatever the database's collation.
fn sorted(mut b: Batch) -> Batch {
    b.posts.sort_by(|x, y| x.id.cmp(&y.id));
    b.units.sort_by(|x, y| x.id.cmp(&y.id));
    b.post_units
        .sort_by(|x, y| (&x.post_id, &x.unit_id).cmp(&(&y.post_id, &y.unit_id)));
    b.partners.sort_by(|x, y| x.id.cmp(&y.id));
    b.beneficiaries.sort_by(|x, y| x.id.cmp(&y.id));
    b.situations.sort_by(|x, y| x.id.cmp(&y.id));
    b.situation_problems
        .sort_by(|x, y| (&x.situation_id, x.position).cmp(&(&y.situation_id, y.position)));
    b.interventions.sort_by(|x, y| x.id.cmp(&y.id));
    b.hand_offs.sort_by(|x, y| x.id.cmp(&y.id));
    b.hand_off_transitions
        .sort_by(|x, y| (&x.hand_off_id, x.position).cmp(&(&y.hand_off_id, y.position)));
    b.consents.sort_by(|x, y| x.hand_off_id.cmp(&y.hand_off_id));
    b
}

/// The dataset as drawn in memory, all batches together.
fn drawn(options: &SeedOptions) -> Batch {
    let generator = Generator::new(
        options.seed,
        options.posts as usize,
        options.period().unwrap(),
        options.batch_situations,
    );
    let mut all = Batch::default();
    for b in generator {
        all.posts.extend(b.posts);
        all.units.extend(b.units);
        all.post_units.extend(b.post_units);
        all.partners.extend(b.partners);
        all.beneficiaries.extend(b.beneficiaries);
        all.situations.extend(b.situations);
        all.situation_problems.extend(b.situation_problems);
        all.interventions.extend(b.interventions);
        all.hand_offs.extend(b.hand_offs);
        all.hand_off_transitions.extend(b.hand_off_transitions);
        all.consents.extend(b.consents);
    }
    sorted(all)
}

fn ids(batch: &Batch) -> BTreeSet<String> {
    batch
        .beneficiaries
        .iter()
        .map(|b| b.id.clone())
        .chain(batch.situations.iter().map(|s| s.id.clone()))
        .chain(batch.interventions.iter().map(|i| i.id.clone()))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_rows_and_another_seed_other_rows() {
    let today = day(2026, 11, 24);
    let first = options(2, 1, 42, Some(2025), today);
    let (_a, db_a) = seeded(&first);
    let (_b, db_b) = seeded(&first);
    let (_c, db_c) = seeded(&SeedOptions {
        seed: 43,
        ..first.clone()
    });

    let a = load(&db_a);
    let b = load(&db_b);
    let c = load(&db_c);
    assert!(a.situations.len() > 500, "{}", a.situations.len());
    assert_eq!(a, b, "same arguments, same rows (ids included)");
    assert_eq!(
        db_a.read(bulk::fingerprint).unwrap(),
        db_b.read(bulk::fingerprint).unwrap()
    );
    assert_ne!(a, c);
    assert!(ids(&a).is_disjoint(&ids(&c)), "another seed, other ids");

    // What was stored is exactly what was drawn: same formats, nothing lost in the round trip.
    assert_eq!(a, drawn(&first));

    // Ids are UUID v7 stamped with the record's creation time, lowercase and hyphenated.
    for s in &a.situations {
        let id: uuid::Uuid = s.id.parse().unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.hyphenated().to_string(), s.id);
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        let stamped = i64::try_from(secs).unwrap() * 1000 + i64::from(nanos / 1_000_000);
        assert_eq!(stamped, s.created_at.and_utc().timestamp_millis());
    }
}

#[test]
fn a_database_with_data_is_refused_unless_appended_to() {
    let first = options(1, 1, 7, Some(2025), day(2026, 11, 24));
    let (_t, db) = seeded(&first);
    let again = seed(&db, &first);
    assert!(matches!(again, Err(SeedError::NotEmpty(1))), "{again:?}");
    let appended = seed(
        &db,
        &SeedOptions {
            seed: 8,
            append: true,
            ..first
        },
    )
    .unwrap();
    let counts = db.read(bulk::table_counts).unwrap();
    assert_eq!(counts[0], ("posts", 2));
    assert!(appended.rows() > 0);
}

#[test]
fn options_out_of_range_are_refused() {
    let today = day(2026, 11, 24);
    assert!(options(0, 1, 1, None, today).period().is_err());
    assert!(options(1, 0, 1, None, today).period().is_err());
    assert!(options(1, 1, 1, Some(1990), today).period().is_err());
    assert!(options(1, 1, 1, Some(2027), today).period().is_err());
    let period = options(1, 2, 1, None, today).period().unwrap();
    assert_eq!(period.first_day, day(2025, 1, 1));
    assert_eq!(period.last_day, day(2026, 11, 23));
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole.max(1) as f64
}

#[test]
fn the_dataset_has_the_shape_of_the_field() {
    let today = day(2026, 11, 24);
    let (_t, db) = seeded(&options(4, 2, 5, Some(2024), today));
    let data = load(&db);
    let situations = data.situations.len();
    assert!((3_000..6_000).contains(&situations), "{situations}");

    // 300–700 persons a year per post (both years are whole).
    let mut per_post_year: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for b in &data.beneficiaries {
        *per_post_year
            .entry((b.post_id.clone(), b.created_at.year()))
            .or_default() += 1;
    }
    assert_eq!(per_post_year.len(), 8);
    assert!(
        per_post_year.values().all(|n| (300..=700).contains(n)),
        "{per_post_year:?}"
    );

    // Sex and age at the first opening, among the persons whose birth is known.
    let mut first_opening: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for s in &data.situations {
        let entry = first_opening
            .entry(&s.beneficiary_id)
            .or_insert(s.opened_on);
        *entry = (*entry).min(s.opened_on);
    }
    let (mut known, mut minors, mut adults, mut women) = (0, 0, 0, 0);
    for b in &data.beneficiaries {
        let birth = Birth {
            date: b.birth_date,
            year: b.birth_year,
        };
        let Some(age) = birth.age_on(first_opening[b.id.as_str()]) else {
            continue;
        };
        known += 1;
        if age < 18 {
            minors += 1;
        } else {
            adults += 1;
            women += usize::from(b.sex == "female");
        }
    }
    let births = share(known, data.beneficiaries.len());
    assert!((0.85..0.95).contains(&births), "birth known for {births}");
    let minors = share(minors, known);
    assert!((0.08..0.17).contains(&minors), "minors: {minors}");
    let women = share(women, adults);
    assert!((0.65..0.85).contains(&women), "women among adults: {women}");
    let unknown = share(
        data.beneficiaries
            .iter()
            .filter(|b| b.known_to_social_services == "no")
            .count(),
        data.beneficiaries.len(),
    );
    assert!(
        (0.40..0.60).contains(&unknown),
        "unknown to social services: {unknown}"
    );

    // Conjugal and intra-family violence.
    let violent: BTreeSet<&str> = data
        .situation_problems
        .iter()
        .filter(|p| p.problem == "conjugal_violence" || p.problem == "intra_family_violence")
        .map(|p| p.situation_id.as_str())
        .collect();
    let violence = share(violent.len(), situations);
    assert!((0.50..0.80).contains(&violence), "violence: {violence}");
    let penal = share(
        data.situations.iter().filter(|s| s.penal).count(),
        situations,
    );
    assert!((0.5..0.7).contains(&penal), "penal: {penal}");

    // Interventions: 1–4 a situation, within 60 days of its opening, mostly by phone.
    let opened: BTreeMap<&str, NaiveDate> = data
        .situations
        .iter()
        .map(|s| (s.id.as_str(), s.opened_on))
        .collect();
    let mut per_situation: BTreeMap<&str, usize> = BTreeMap::new();
    let mut modes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &data.interventions {
        let opening = opened[i.situation_id.as_str()];
        assert!(i.occurred_on >= opening && i.occurred_on <= opening + TimeDelta::days(60));
        assert!((10..=120).contains(&i.duration_minutes));
        *per_situation.entry(&i.situation_id).or_default() += 1;
        *modes.entry(&i.mode).or_default() += 1;
    }
    assert_eq!(
        per_situation.len(),
        situations,
        "every situation has interventions"
    );
    assert!(per_situation.values().all(|n| (1..=4).contains(n)));
    let most_common = modes.iter().max_by_key(|(_, n)| **n).unwrap();
    assert_eq!(*most_common.0, "phone", "{modes:?}");
    let phone = share(modes["phone"], data.interventions.len());
    assert!((0.45..0.65).contains(&phone), "phone: {phone}");

    // About a third handed to a partner, most of them with an answer.
    let handed = share(data.hand_offs.len(), situations);
    assert!((0.25..0.45).contains(&handed), "hand-offs: {handed}");
    let answered = data
        .hand_offs
        .iter()
        .filter(|h| ["completed", "accepted", "declined", "cancelled"].contains(&h.status.as_str()))
        .count();
    assert!(share(answered, data.hand_offs.len()) > 0.8);
    assert_eq!(data.consents.len(), data.hand_offs.len());

    // Old situations are mostly closed, with a reason; only those.
    for s in &data.situations {
        assert_eq!(s.status == "closed", s.closing_reason.is_some(), "{s:?}");
    }
    let old: Vec<_> = data
        .situations
        .iter()
        .filter(|s| s.opened_on < day(2025, 6, 1))
        .collect();
    let closed = share(
        old.iter().filter(|s| s.status == "closed").count(),
        old.len(),
    );
    assert!(closed > 0.7, "closed among old situations: {closed}");
}

fn page() -> PageRequest {
    PageRequest {
        limit: 500,
        cursor: None,
    }
}

/// The first sending and first answer the database keeps on each hand-off for the grid are the
/// recount from its transitions, for rows written by the seed's bulk insert too.
#[test]
fn the_hand_offs_kept_dates_are_the_recount_of_their_transitions() {
    let (_t, db) = seeded(&options(3, 2, 5, None, day(2026, 3, 10)));
    db.read(|conn| -> Result<(), relais_persistence::StoreError> {
        assert_eq!(hand_offs::dates_out_of_step(conn)?, 0);
        #[derive(diesel::QueryableByName)]
        struct Kept {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            sent: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            answered: i64,
        }
        let kept: Kept = diesel::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT COUNT(sent_at) AS sent, COUNT(answered_at) AS answered FROM hand_offs",
            ),
            conn,
        )?;
        assert!(kept.sent > 0 && kept.answered > 0, "dates were kept");
        Ok(())
    })
    .unwrap();
}

/// The previous opening the database keeps on each situation for the grid is the recount from the
/// person's situations, for rows written by the seed's bulk insert too.
#[test]
fn the_situations_kept_previous_opening_is_the_recount_of_their_persons_situations() {
    let (_t, db) = seeded(&options(3, 2, 5, None, day(2026, 3, 10)));
    db.read(|conn| -> Result<(), relais_persistence::StoreError> {
        assert_eq!(situations::previous_out_of_step(conn)?, 0);
        #[derive(diesel::QueryableByName)]
        struct Kept {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let kept: Kept = diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT COUNT(previous_opened_on) AS n FROM situations"),
            conn,
        )?;
        assert!(
            kept.n > 0,
            "some persons came back, and their previous opening was kept"
        );
        Ok(())
    })
    .unwrap();
}

/// The problems the database keeps on each situation, the opening it keeps on each hand-off and
/// the interventions it counts by post and month, for the grid, are the recount of their rows,
/// for rows written by the seed's bulk insert too.
#[test]
fn the_kept_problems_openings_and_intervention_months_are_the_recount_of_their_rows() {
    let (_t, db) = seeded(&options(3, 2, 5, None, day(2026, 3, 10)));
    db.read(|conn| -> Result<(), relais_persistence::StoreError> {
        assert_eq!(situations::problems_out_of_step(conn)?, 0);
        assert_eq!(hand_offs::opening_out_of_step(conn)?, 0);
        assert_eq!(relais_persistence::interventions::months_out_of_step(conn)?, 0);
        #[derive(diesel::QueryableByName)]
        struct Kept {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            problems: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            several: i64,
        }
        let kept: Kept = diesel::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT COUNT(problems) AS problems, \
                 COUNT(CASE WHEN problems LIKE '%,%' THEN 1 END) AS several FROM situations",
            ),
            conn,
        )?;
        assert!(
            kept.problems > 0 && kept.several > 0,
            "problems were kept, several for some situations"
        );
        #[derive(diesel::QueryableByName)]
        struct Months {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            groups: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            months: i64,
        }
        let months: Months = diesel::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT COUNT(*) AS groups, COUNT(DISTINCT month) AS months FROM intervention_months",
            ),
            conn,
        )?;
        assert!(
            months.groups > months.months && months.months > 1,
            "interventions were counted, in several groups of several months"
        );
        Ok(())
    })
    .unwrap();
}

/// Every row read back through persistence obeys the domain's rules; nothing is dated on or
/// after `today`, even in a year the period covers in part.
#[test]
fn every_row_obeys_the_domain_rules() {
    let today = day(2026, 3, 10);
    let now = today.and_time(NaiveTime::MIN);
    let (_t, db) = seeded(&options(3, 2, 11, None, today));
    db.read(|conn| -> Result<(), relais_persistence::StoreError> {
        let all_posts = posts::list(conn, None, &page())?.items;
        assert_eq!(all_posts.len(), 3);
        let mut department_of = BTreeMap::new();
        for post in &all_posts {
            post.details.validate().unwrap();
            department_of.insert(post.id, post.details.department_code.clone());
            let linked = units::list(conn, Some(post.id), &page())?.items;
            assert!((1..=2).contains(&linked.len()));
            for unit in linked {
                unit.details.validate().unwrap();
                assert_eq!(unit.details.department_code, post.details.department_code);
            }
        }
        let post_ids: Vec<PostId> = all_posts.iter().map(|p| p.id).collect();

        let directory = partners::list(conn, &PartnerFilter::default(), &page())?.items;
        assert_eq!(directory.len(), 3 * 12);
        for partner in &directory {
            partner.details.validate().unwrap();
        }

        let mut births = BTreeMap::new();
        let mut request = page();
        loop {
            let people = beneficiaries::list(conn, &post_ids, &request)?;
            for person in &people.items {
                person.identity.validate(today).unwrap();
                if person.identity.birth_date.is_some() {
                    assert!(
                        person.identity.birth_year.is_some(),
                        "birth_year goes with birth_date"
                    );
                }
                births.insert(person.id, person.identity.birth());
            }
            match people.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }

        let filter = SituationFilter {
            posts: post_ids.clone(),
            ..SituationFilter::default()
        };
        let mut opened = BTreeMap::new();
        let mut request = page();
        loop {
            let listed = situations::list(conn, &filter, &request)?;
            for s in &listed.items {
                let birth = births[&s.beneficiary_id];
                s.details.validate(today, birth).unwrap();
                assert!(s.details.opened_on >= day(2025, 1, 1) && s.details.opened_on < today);
                assert_eq!(
                    s.state.status == SituationStatus::Closed,
                    s.state.closing_reason.is_some()
                );
                assert!(s.meta.created_at.naive_utc() < now && s.meta.updated_at.naive_utc() < now);
                assert!(s.meta.updated_at >= s.meta.created_at);
                let acts = interventions::list(conn, s.id)?;
                assert!((1..=4).contains(&acts.len()));
                for act in acts {
                    act.details.validate(today, s.details.opened_on).unwrap();
                }
                opened.insert(s.id, s.clone());
            }
            match listed.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        assert!(opened.len() > 1_000, "{}", opened.len());

        let mut sent_situations = BTreeSet::new();
        let mut request = page();
        loop {
            let listed = hand_offs::list(conn, &HandOffFilter::default(), &request)?;
            for h in &listed.items {
                let situation = &opened[&h.situation_id];
                assert_eq!(h.post_id, situation.post_id);
                HandOffInput {
                    partner_id: h.partner_id,
                    reasons: h.reasons.clone(),
                    message: h.message.clone(),
                    legal_exception: h.legal_exception,
                    parental_authority: h.parental_authority.clone(),
                }
                .validate(chrono::NaiveDate::MAX)
                .unwrap();
                assert!(
                    h.reasons
                        .iter()
                        .all(|r| situation.details.problems.contains(r))
                );
                let partner = partners::get(conn, h.partner_id)?;
                assert!(
                    partner
                        .details
                        .department_codes
                        .contains(&department_of[&h.post_id])
                );
                assert_eq!(
                    h.decline_reason.is_some(),
                    h.status == HandOffStatus::Declined
                );
                assert_eq!(h.outcome.is_some(), h.status == HandOffStatus::Completed);

                let consent = hand_offs::consent(conn, h.id)?.expect("a consent");
                ConsentInput {
                    given: consent.given,
                    form: consent.form,
                    answered_at: Some(consent.answered_at),
                    shared_data: consent.shared_data.clone(),
                }
                .validate(now.and_utc())
                .unwrap();
                SendCheck {
                    partner_kind: partner.details.kind,
                    legal_exception: h.legal_exception,
                    consent: consent.in_force(),
                    parental_authority_recorded: h.parental_authority.is_some(),
                }
                .check()
                .unwrap();

                let history = hand_offs::history(conn, h.id)?;
                assert_eq!(history[0].from, None);
                assert_eq!(history[0].to, HandOffStatus::Draft);
                assert_eq!(history.last().unwrap().to, h.status);
                assert_eq!(h.meta.version, history.len() as i64);
                assert!(history[0].at >= situation.meta.created_at);
                for pair in history.windows(2) {
                    let (before, after) = (&pair[0], &pair[1]);
                    let action = match after.to {
                        HandOffStatus::Sent => HandOffAction::Send,
                        HandOffStatus::Received => HandOffAction::Acknowledge,
                        HandOffStatus::Accepted => HandOffAction::Accept,
                        HandOffStatus::Declined => HandOffAction::Decline,
                        HandOffStatus::Completed => HandOffAction::Complete,
                        other => {
                            assert_eq!(other, HandOffStatus::Cancelled);
                            HandOffAction::Cancel
                        }
                    };
                    assert_eq!(after.from, Some(before.to));
                    assert_eq!(transition(before.to, action), Ok(after.to));
                    assert!(after.at > before.at);
                    let partner_side = after.by_role == Role::Partner;
                    assert_eq!(
                        partner_side,
                        action.side() == relais_domain::hand_off::Side::Partner
                    );
                    if after.to == HandOffStatus::Sent {
                        assert!(consent.answered_at < after.at, "consent before sending");
                        sent_situations.insert(h.situation_id);
                    }
                }
                assert!(history.last().unwrap().at.naive_utc() < now);
                if is_final(h.status) {
                    assert!(history.len() >= 2);
                }
            }
            match listed.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        // A situation is oriented only once a hand-off of it was sent.
        for s in opened.values() {
            if s.state.status == SituationStatus::Oriented {
                assert!(sent_situations.contains(&s.id));
            }
        }
        Ok(())
    })
    .unwrap();
}
