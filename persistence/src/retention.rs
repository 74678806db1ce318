//! Retention and erasure. The CNIL framework for the social sector keeps a person's records in
//! the active base for two years after the last contact, then destroys or anonymises them.
//! Relais anonymises in place, so that the statistics of past years stay exactly as published.
//!
//! **Last contact.** A person's last contact is the latest of:
//! - the day each of their situations opened (`situations.opened_on`),
//! - the day of each intervention in those situations (`interventions.occurred_on`),
//! - each move of a hand-off of those situations (`hand_off_transitions.at`: sent, acknowledged,
//!   accepted, declined, completed, cancelled — the partner's contacts with the person show there),
//! - the reception of each referral taken up into those situations (`referrals.created_at`),
//! - and the creation of the person's record (`beneficiaries.created_at`), so that a record
//!   entered late with old dates is not destroyed the night it is entered.
//!
//! Editing a record (`updated_at`) is not a contact. The person is the unit of retention: all of
//! their situations go together, when the latest contact of any of them is past the period.
//! A referral never taken up has no person: its last contact is its last change of status
//! (`referrals.updated_at`).
//!
//! **Anonymised**, for a person: names, phone, birth date and year, commune (the identity);
//! the social evaluation of each situation (deleted); the free text of their hand-offs
//! (message, outcome, and the comments and reasons of their moves); the names, phone, birth
//! year, commune and reason of the referrals taken up into their situations.
//! **Kept**, because the statistics grid counts them: sex, known to social services, every code
//! of the situations (origin, standing, problems, status…), interventions (mode, kind, date,
//! duration), hand-offs' partners, statuses and dates, and the consent's codes. The age at each
//! opening, which the grid computes from the birth, is stored first in
//! `situations.age_at_opening` with the grid's own expression (with `BirthYearAge::MidYear`), with
//! `situations.age_from_birth_year` saying whether only the birth year was known, so the age
//! brackets do not move whichever convention a grid declares.
//! Staff subjects (`recorded_by`, `by_subject`…) are the accountability of the service, not the
//! person's data, and are kept.
//!
//! **Hand-offs in progress.** The right to erasure waits while a hand-off of the person is sent,
//! received or accepted: the partner is working from what was shared, and the hand-off must end
//! (or be cancelled) first. The retention purge does not wait: a hand-off still marked in
//! progress has not moved during the whole period (its moves are contacts), and holding the
//! person until it does could keep them forever. Such persons are anonymised all the same and
//! listed apart (`stale_hand_offs`) for follow-up; the hand-off's status is left as it is, since
//! the statistics count it.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection;
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use relais_domain::grid::BirthYearAge;
use relais_domain::ids::BeneficiaryId;
use relais_domain::reference::{CodeList, HandOffStatus};

use crate::convert::parse;
use crate::schema::{
    beneficiaries, evaluations, hand_off_transitions, hand_offs, idempotency_keys, interventions,
    referrals, requisitions, situations,
};
use crate::statistics::age_years;
use crate::{Backend, Database, DbConnection, StoreError};

/// The CNIL framework's two years, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 730;

/// Persons anonymised per transaction.
pub const DEFAULT_BATCH: usize = 100;

/// Persons per query when counting what the candidates hold (bind parameters are limited).
const PAGE: usize = 1_000;

/// Lets one replica purge at a time on PostgreSQL (SQLite has one writer already).
pub const PURGE_LOCK: i64 = 0x7265_6c61_6973_0002;

/// The hand-off statuses during which the partner works from what was shared with it.
pub const HAND_OFF_IN_PROGRESS: [HandOffStatus; 3] = [
    HandOffStatus::Sent,
    HandOffStatus::Received,
    HandOffStatus::Accepted,
];

type Db = <DbConnection as Connection>::Backend;

/// Contacts before this moment are past the retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    /// Days (`opened_on`, `occurred_on`) before this one are past.
    pub day: NaiveDate,
    /// Instants (transitions, receptions, creations) before this one are past.
    pub instant: NaiveDateTime,
}

impl Cutoff {
    /// The cutoff of a retention of `days` days, seen at `at` (UTC).
    pub fn before(at: NaiveDateTime, days: u32) -> Self {
        let instant = at - TimeDelta::days(i64::from(days));
        Cutoff {
            day: instant.date(),
            instant,
        }
    }
}

/// The ids of the persons, not yet anonymised, whose last contact (see the module) is before
/// `cutoff`; hand-offs in progress are not looked at here.
fn expired_persons(
    cutoff: Cutoff,
) -> beneficiaries::BoxedQuery<'static, Db, diesel::sql_types::Text> {
    let opened = situations::table
        .filter(situations::beneficiary_id.eq(beneficiaries::id))
        .filter(situations::opened_on.ge(cutoff.day))
        .select(situations::id);
    let intervened = interventions::table
        .inner_join(situations::table)
        .filter(situations::beneficiary_id.eq(beneficiaries::id))
        .filter(interventions::occurred_on.ge(cutoff.day))
        .select(interventions::id);
    let handed_off = hand_off_transitions::table
        .inner_join(hand_offs::table.inner_join(situations::table))
        .filter(situations::beneficiary_id.eq(beneficiaries::id))
        .filter(hand_off_transitions::at.ge(cutoff.instant))
        .select(hand_off_transitions::hand_off_id);
    let referred = referrals::table
        .inner_join(situations::table.on(referrals::situation_id.eq(situations::id.nullable())))
        .filter(situations::beneficiary_id.eq(beneficiaries::id))
        .filter(referrals::created_at.ge(cutoff.instant))
        .select(referrals::id);
    beneficiaries::table
        .select(beneficiaries::id)
        .filter(beneficiaries::anonymised_at.is_null())
        .filter(beneficiaries::created_at.lt(cutoff.instant))
        .filter(not(exists(opened)))
        .filter(not(exists(intervened)))
        .filter(not(exists(handed_off)))
        .filter(not(exists(referred)))
        .into_boxed()
}

/// Those of `persons` with a hand-off in progress.
fn in_progress_among(
    conn: &mut DbConnection,
    persons: &[String],
) -> Result<Vec<String>, StoreError> {
    let statuses: Vec<&str> = HAND_OFF_IN_PROGRESS.iter().map(|s| s.code()).collect();
    Ok(situations::table
        .inner_join(hand_offs::table)
        .filter(situations::beneficiary_id.eq_any(persons))
        .filter(hand_offs::status.eq_any(statuses))
        .select(situations::beneficiary_id)
        .distinct()
        .load(conn)?)
}

/// Whether a hand-off of the person is sent, received or accepted.
pub fn has_hand_off_in_progress(
    conn: &mut DbConnection,
    person: BeneficiaryId,
) -> Result<bool, StoreError> {
    Ok(!in_progress_among(conn, &[person.to_string()])?.is_empty())
}

/// Whether the situation was anonymised with its person; `NotFound` if there is none.
pub fn situation_is_anonymised(
    conn: &mut DbConnection,
    situation: relais_domain::ids::SituationId,
) -> Result<bool, StoreError> {
    let marked: Option<NaiveDateTime> = situations::table
        .find(situation.to_string())
        .select(situations::anonymised_at)
        .first(conn)?;
    Ok(marked.is_some())
}

/// What anonymising one person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anonymisation {
    /// The identity and the free text are gone; how many situations and referrals were touched.
    Done { situations: usize, referrals: usize },
    /// Nothing to do: the person was anonymised before.
    AlreadyAnonymised,
    /// Refused (right to erasure only): a hand-off of theirs is sent, received or accepted.
    HandOffInProgress,
}

/// Anonymises one person and everything recorded about them (see the module for what goes and
/// what stays), now, whatever their last contact: the right to erasure. Refused while a
/// hand-off of theirs is in progress. Call it inside a transaction; `NotFound` if there is no
/// such person.
pub fn anonymise_beneficiary(
    conn: &mut DbConnection,
    person: BeneficiaryId,
    at: NaiveDateTime,
) -> Result<Anonymisation, StoreError> {
    let key = person.to_string();
    let marked: Option<NaiveDateTime> = beneficiaries::table
        .find(&key)
        .select(beneficiaries::anonymised_at)
        .first(conn)?;
    if marked.is_some() {
        return Ok(Anonymisation::AlreadyAnonymised);
    }
    if has_hand_off_in_progress(conn, person)? {
        return Ok(Anonymisation::HandOffInProgress);
    }
    let (situations, referrals) = anonymise_persons(conn, &[person], at)?;
    Ok(Anonymisation::Done {
        situations,
        referrals,
    })
}

/// Anonymises these persons, not anonymised yet, with a few statements for all of them;
/// returns how many situations and referrals were touched.
fn anonymise_persons(
    conn: &mut DbConnection,
    persons: &[BeneficiaryId],
    at: NaiveDateTime,
) -> Result<(usize, usize), StoreError> {
    if persons.is_empty() {
        return Ok((0, 0));
    }
    let keys: Vec<String> = persons.iter().map(ToString::to_string).collect();
    let situation_ids: Vec<String> = situations::table
        .filter(situations::beneficiary_id.eq_any(&keys))
        .select(situations::id)
        .load(conn)?;

    // First keep the age at each opening, with the grid's own expression, while the birth is
    // still there. The ids are parsed UUIDs: nothing from outside enters the statement.
    let backend = conn.backend();
    let quoted: Vec<String> = persons.iter().map(|p| format!("'{p}'")).collect();
    // Stored in completed years with the birth on 1 July when only its year is known, and
    // whether it was, so that a grid with the other convention reads it back exactly.
    conn.batch_execute(&format!(
        "UPDATE situations SET \
           age_at_opening = (SELECT {age} FROM beneficiaries b WHERE b.id = situations.beneficiary_id), \
           age_from_birth_year = (SELECT b.birth_date IS NULL AND b.birth_year IS NOT NULL \
                                  FROM beneficiaries b WHERE b.id = situations.beneficiary_id) \
         WHERE beneficiary_id IN ({list}) AND age_at_opening IS NULL",
        age = age_years(backend, "situations.opened_on", BirthYearAge::MidYear),
        list = quoted.join(", "),
    ))?;
    let situations =
        diesel::update(situations::table.filter(situations::beneficiary_id.eq_any(&keys)))
            .set((
                situations::anonymised_at.eq(at),
                situations::updated_at.eq(at),
                situations::version.eq(situations::version + 1),
            ))
            .execute(conn)?;

    diesel::delete(evaluations::table.filter(evaluations::situation_id.eq_any(&situation_ids)))
        .execute(conn)?;
    let their_hand_offs = hand_offs::table
        .filter(hand_offs::situation_id.eq_any(&situation_ids))
        .select(hand_offs::id);
    diesel::update(
        hand_off_transitions::table
            .filter(hand_off_transitions::hand_off_id.eq_any(their_hand_offs)),
    )
    .set((
        hand_off_transitions::comment.eq(None::<String>),
        hand_off_transitions::reason.eq(None::<String>),
    ))
    .execute(conn)?;
    diesel::update(hand_offs::table.filter(hand_offs::situation_id.eq_any(&situation_ids)))
        .set((
            hand_offs::message.eq(None::<String>),
            hand_offs::outcome.eq(None::<String>),
            hand_offs::parental_authority_not_informed_because.eq(None::<String>),
            hand_offs::updated_at.eq(at),
            hand_offs::version.eq(hand_offs::version + 1),
        ))
        .execute(conn)?;
    let their_referrals: Vec<String> = referrals::table
        .filter(referrals::situation_id.eq_any(&situation_ids))
        .select(referrals::id)
        .load(conn)?;
    // The idempotency keys of requests about the person's records go with them.
    let mut their_records: Vec<String> = hand_offs::table
        .filter(hand_offs::situation_id.eq_any(&situation_ids))
        .select(hand_offs::id)
        .load(conn)?;
    their_records.extend(situation_ids.iter().cloned());
    their_records.extend(their_referrals.iter().cloned());
    their_records.extend(
        interventions::table
            .filter(interventions::situation_id.eq_any(&situation_ids))
            .select(interventions::id)
            .load::<String>(conn)?,
    );
    their_records.extend(
        requisitions::table
            .filter(requisitions::beneficiary_id.eq_any(&keys))
            .select(requisitions::id)
            .load::<String>(conn)?,
    );
    crate::idempotency::forget_records(conn, &their_records)?;
    let referrals = anonymise_referrals(conn, &their_referrals, at)?;

    diesel::update(beneficiaries::table.filter(beneficiaries::id.eq_any(&keys)))
        .set((
            beneficiaries::first_name.eq(None::<String>),
            beneficiaries::last_name.eq(None::<String>),
            beneficiaries::birth_date.eq(None::<NaiveDate>),
            beneficiaries::birth_year.eq(None::<i32>),
            beneficiaries::commune_code.eq(None::<String>),
            beneficiaries::phone.eq(None::<String>),
            beneficiaries::anonymised_at.eq(at),
            beneficiaries::updated_at.eq(at),
            beneficiaries::version.eq(beneficiaries::version + 1),
        ))
        .execute(conn)?;

    // The person's audit events stay: they hold who accessed which record id, never content,
    // and go with their own retention period (`audit::purge`).

    Ok((situations, referrals))
}

/// Removes the person's data from these referrals, if not done before.
fn anonymise_referrals(
    conn: &mut DbConnection,
    ids: &[String],
    at: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        referrals::table
            .filter(referrals::id.eq_any(ids))
            .filter(referrals::anonymised_at.is_null()),
    )
    .set((
        referrals::first_name.eq(None::<String>),
        referrals::last_name.eq(None::<String>),
        referrals::phone.eq(None::<String>),
        referrals::birth_year.eq(None::<i32>),
        referrals::commune_code.eq(None::<String>),
        referrals::reason.eq(""),
        referrals::anonymised_at.eq(at),
        referrals::updated_at.eq(at),
        referrals::version.eq(referrals::version + 1),
    ))
    .execute(conn)?)
}

/// Referrals never taken up, not yet anonymised, whose last change is before `cutoff`.
fn expired_referrals(
    cutoff: Cutoff,
) -> referrals::BoxedQuery<'static, Db, diesel::sql_types::Text> {
    referrals::table
        .select(referrals::id)
        .filter(referrals::situation_id.is_null())
        .filter(referrals::anonymised_at.is_null())
        .filter(referrals::updated_at.lt(cutoff.instant))
        .into_boxed()
}

/// How a purge runs.
#[derive(Debug, Clone, Copy)]
pub struct PurgeOptions {
    pub cutoff: Cutoff,
    /// The instant written as `anonymised_at`.
    pub at: NaiveDateTime,
    /// List what would go, change nothing.
    pub dry_run: bool,
    /// Persons per transaction.
    pub batch: usize,
    /// Audit events older than this many days are deleted.
    pub audit_retention_days: u32,
}

/// What a purge anonymised (or, in a dry run, would anonymise): ids and counts, no content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The persons past the retention period.
    pub persons: Vec<String>,
    /// How many situations they have.
    pub situations: u64,
    /// Of `persons`, those with a hand-off still marked sent, received or accepted, though none
    /// of their hand-offs moved during the whole period (anonymised all the same).
    pub stale_hand_offs: Vec<String>,
    /// Referrals never taken up, past the period.
    pub referrals: Vec<String>,
    /// Stored answers to idempotent writes, past the period (they may echo personal data).
    pub idempotency_keys: u64,
    /// Audit events past their own retention period.
    pub audit_events: u64,
}

impl PurgeReport {
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
            && self.referrals.is_empty()
            && self.idempotency_keys == 0
            && self.situations == 0
            && self.audit_events == 0
    }
}

/// Whether the purge ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    Ran(PurgeReport),
    /// Another replica holds the purge lock (PostgreSQL); nothing was done.
    Busy,
}

/// Where the purge's statements go: one PostgreSQL session that holds the lock, or the pools.
enum Channel<'a> {
    Session(&'a mut DbConnection),
    Pools(&'a Database),
}

impl Channel<'_> {
    fn read<T>(
        &mut self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Channel::Session(conn) => f(conn),
            Channel::Pools(db) => db.read(f),
        }
    }

    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Channel::Session(conn) => conn.transaction(f),
            Channel::Pools(db) => db.write(f),
        }
    }
}

/// What the caller records in a batch's transaction before its persons are anonymised.
pub type BeforeAnonymising<'a> =
    dyn Fn(&mut DbConnection, &[BeneficiaryId]) -> Result<(), StoreError> + 'a;

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Anonymises everything past the retention period (see the module), in batches of one
/// transaction each; or, with `dry_run`, lists it and changes nothing. A second run finds
/// nothing more to do. `progress(done, total)` is called as the work goes.
///
/// On PostgreSQL, one replica at a time: the run holds a session advisory lock, and another
/// replica trying meanwhile gets [`PurgeOutcome::Busy`] at once.
///
/// `before_anonymising(conn, persons)` runs in each batch's transaction, before its persons are
/// anonymised: the caller records there what the change must say (the partners told to erase
/// their copies), so that it commits with the change or not at all.
pub fn purge(
    db: &Database,
    options: &PurgeOptions,
    progress: &mut dyn FnMut(u64, u64),
    before_anonymising: &BeforeAnonymising<'_>,
) -> Result<PurgeOutcome, StoreError> {
    match db.backend() {
        Backend::Sqlite => run(
            &mut Channel::Pools(db),
            options,
            progress,
            before_anonymising,
        )
        .map(PurgeOutcome::Ran),
        Backend::Postgres => db.session(|conn| {
            let Locked { locked } = diesel::sql_query(format!(
                "SELECT pg_try_advisory_lock({PURGE_LOCK}) AS locked"
            ))
            .get_result(conn)?;
            if !locked {
                return Ok(PurgeOutcome::Busy);
            }
            let result = run(
                &mut Channel::Session(conn),
                options,
                progress,
                before_anonymising,
            );
            let unlocked = conn.batch_execute(&format!("SELECT pg_advisory_unlock({PURGE_LOCK})"));
            let report = result?;
            unlocked?;
            Ok(PurgeOutcome::Ran(report))
        }),
    }
}

fn run(
    channel: &mut Channel<'_>,
    options: &PurgeOptions,
    progress: &mut dyn FnMut(u64, u64),
    before_anonymising: &BeforeAnonymising<'_>,
) -> Result<PurgeReport, StoreError> {
    let cutoff = options.cutoff;
    // One statement for the whole base: PostgreSQL answers it with one anti-join over the
    // recent contacts (paging it would rebuild that join for every page), SQLite with index
    // probes per person. Ids only: a few tens of bytes per person.
    let mut plan = PurgeReport {
        persons: channel.read(|conn| {
            Ok(expired_persons(cutoff)
                .order(beneficiaries::id.asc())
                .load(conn)?)
        })?,
        ..PurgeReport::default()
    };
    for page in plan.persons.chunks(PAGE) {
        let mut stale = channel.read(|conn| in_progress_among(conn, page))?;
        stale.sort();
        plan.stale_hand_offs.extend(stale);
        plan.situations += channel.read(|conn| {
            let n: i64 = situations::table
                .filter(situations::beneficiary_id.eq_any(page))
                .count()
                .get_result(conn)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })?;
    }
    plan.referrals = channel.read(|conn| {
        Ok(expired_referrals(cutoff)
            .order(referrals::id.asc())
            .load(conn)?)
    })?;
    plan.idempotency_keys = channel.read(|conn| {
        let n: i64 = idempotency_keys::table
            .filter(idempotency_keys::created_at.lt(cutoff.instant))
            .count()
            .get_result(conn)?;
        Ok(u64::try_from(n).unwrap_or(0))
    })?;
    plan.audit_events =
        channel.read(|conn| crate::audit::count_older(conn, options.audit_retention_days))?;
    let total = (plan.persons.len() + plan.referrals.len()) as u64;
    progress(0, total);
    if options.dry_run {
        return Ok(plan);
    }

    // Expired keys first: anonymising a person forgets the keys about them too, and the count
    // is of keys past their period, as the dry run counts them.
    let expired_keys = channel.write(|conn| {
        let deleted = diesel::delete(
            idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff.instant)),
        )
        .execute(conn)?;
        Ok(deleted as u64)
    })?;
    let mut done = PurgeReport {
        idempotency_keys: expired_keys,
        ..PurgeReport::default()
    };
    let mut count = 0_u64;
    for batch in plan.persons.chunks(options.batch.max(1)) {
        channel.write(|conn| {
            // Checked again in the transaction: a contact since planning keeps the person.
            let still: Vec<String> = expired_persons(cutoff)
                .filter(beneficiaries::id.eq_any(batch.to_vec()))
                .order(beneficiaries::id.asc())
                .load(conn)?;
            let persons = still
                .iter()
                .map(|id| parse("beneficiaries.id", id))
                .collect::<Result<Vec<BeneficiaryId>, _>>()?;
            let mut stale = in_progress_among(conn, &still)?;
            stale.sort();
            before_anonymising(conn, &persons)?;
            let (situations, _) = anonymise_persons(conn, &persons, options.at)?;
            done.situations += situations as u64;
            done.stale_hand_offs.extend(stale);
            done.persons.extend(still);
            Ok(())
        })?;
        count += batch.len() as u64;
        progress(count, total);
    }
    for batch in plan.referrals.chunks(options.batch.max(1)) {
        let anonymised = channel.write(|conn| {
            let still: Vec<String> = expired_referrals(cutoff)
                .filter(referrals::id.eq_any(batch.to_vec()))
                .order(referrals::id.asc())
                .load(conn)?;
            anonymise_referrals(conn, &still, options.at)?;
            Ok(still)
        })?;
        done.referrals.extend(anonymised);
        count += batch.len() as u64;
        progress(count, total);
    }
    done.audit_events = channel
        .write(|conn| Ok(crate::audit::purge(conn, options.audit_retention_days)? as u64))?;
    Ok(done)
}
