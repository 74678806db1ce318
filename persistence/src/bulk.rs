//! Bulk loading: whole batches of rows written in one transaction, for the synthetic
//! dataset of `relais seed` and for load tests.
//!
//! Each table is written with one `COPY … FROM STDIN` (binary) on PostgreSQL, and on SQLite
//! with multi-row `INSERT … VALUES (…), (…)` statements cut so that none binds more
//! parameters than SQLite accepts. The rows are stored exactly
//! as the rest of persistence stores them: lowercase hyphenated UUID text, reference codes,
//! UTC timestamps to the microsecond, lists comma-wrapped (`,a,b,`), and the sealed columns
//! sealed (a `Batch` holds them in clear: writing seals them, `load_all` opens them).

use std::fmt::Debug;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::schema::{
    beneficiaries, consents, hand_off_transitions, hand_offs, interventions, partners, post_units,
    posts, situation_problems, situations, units,
};
use crate::sealing::Column;
use crate::{Database, DbConnection, StoreError};

/// SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` since 3.32.
const SQLITE_MAX_PARAMETERS: usize = 32_766;

/// A post, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = posts, treat_none_as_default_value = false)]
pub struct PostRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub department_code: String,
    pub employer: String,
    pub convention: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A police or gendarmerie unit, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = units, treat_none_as_default_value = false)]
pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub department_code: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A unit working with a post.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = post_units, treat_none_as_default_value = false)]
pub struct PostUnitRow {
    pub post_id: String,
    pub unit_id: String,
}

/// A partner of the directory; the list columns are comma-wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = partners, treat_none_as_default_value = false)]
pub struct PartnerRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub siret: Option<String>,
    pub department_codes: String,
    pub commune_codes: String,
    pub themes: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A person; `birth_year` is filled whenever `birth_date` is.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = beneficiaries, treat_none_as_default_value = false)]
pub struct BeneficiaryRow {
    pub id: String,
    pub post_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub birth_year: Option<i32>,
    pub sex: String,
    pub commune_code: Option<String>,
    pub phone: Option<String>,
    pub known_to_social_services: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A situation; its problems are `SituationProblemRow`s.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = situations, treat_none_as_default_value = false)]
pub struct SituationRow {
    pub id: String,
    pub post_id: String,
    pub beneficiary_id: String,
    pub opened_on: NaiveDate,
    pub origin: String,
    pub referring_service: Option<String>,
    pub standing: String,
    pub penal: bool,
    pub principal_problem: String,
    pub children_in_household: Option<i32>,
    pub status: String,
    pub closing_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// One problem of a situation, at its `position` (0 first) in the situation's list.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = situation_problems, treat_none_as_default_value = false)]
pub struct SituationProblemRow {
    pub situation_id: String,
    pub problem: String,
    pub position: i32,
}

/// An intervention.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = interventions, treat_none_as_default_value = false)]
pub struct InterventionRow {
    pub id: String,
    pub situation_id: String,
    /// The situation's post (see the interventions migration).
    pub post_id: Option<String>,
    pub occurred_on: NaiveDate,
    pub mode: String,
    pub kind: String,
    pub duration_minutes: i32,
    pub recorded_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A hand-off; `reasons` is comma-wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = hand_offs, treat_none_as_default_value = false)]
pub struct HandOffRow {
    pub id: String,
    pub situation_id: String,
    pub post_id: String,
    pub partner_id: String,
    pub status: String,
    pub reasons: String,
    pub message: Option<String>,
    pub legal_exception: Option<String>,
    pub decline_reason: Option<String>,
    pub outcome: Option<String>,
    pub result: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// One move of a hand-off, at its `position` (0 for the creation).
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = hand_off_transitions, treat_none_as_default_value = false)]
pub struct TransitionRow {
    pub hand_off_id: String,
    pub position: i32,
    pub from_status: Option<String>,
    pub to_status: String,
    pub at: NaiveDateTime,
    pub by_subject: String,
    pub by_role: String,
    pub reason: Option<String>,
    pub comment: Option<String>,
}

/// The person's consent to a hand-off; `shared_data` is comma-wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = consents, treat_none_as_default_value = false)]
pub struct ConsentRow {
    pub hand_off_id: String,
    pub given: bool,
    pub form: String,
    pub answered_at: NaiveDateTime,
    pub shared_data: String,
    pub recorded_by: String,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdrawn_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// Rows of every bulk-loaded table, written together so that foreign keys always point
/// at rows of the same or an earlier batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub posts: Vec<PostRow>,
    pub units: Vec<UnitRow>,
    pub post_units: Vec<PostUnitRow>,
    pub partners: Vec<PartnerRow>,
    pub beneficiaries: Vec<BeneficiaryRow>,
    pub situations: Vec<SituationRow>,
    pub situation_problems: Vec<SituationProblemRow>,
    pub interventions: Vec<InterventionRow>,
    pub hand_offs: Vec<HandOffRow>,
    pub hand_off_transitions: Vec<TransitionRow>,
    pub consents: Vec<ConsentRow>,
}

/// Row counts per table, in the order tables are written.
pub type TableCounts = Vec<(&'static str, u64)>;

impl Batch {
    /// How many rows of each table the batch holds.
    pub fn counts(&self) -> TableCounts {
        let len = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        vec![
            ("posts", len(self.posts.len())),
            ("units", len(self.units.len())),
            ("post_units", len(self.post_units.len())),
            ("partners", len(self.partners.len())),
            ("beneficiaries", len(self.beneficiaries.len())),
            ("situations", len(self.situations.len())),
            ("situation_problems", len(self.situation_problems.len())),
            ("interventions", len(self.interventions.len())),
            ("hand_offs", len(self.hand_offs.len())),
            ("hand_off_transitions", len(self.hand_off_transitions.len())),
            ("consents", len(self.consents.len())),
        ]
    }

    /// Every row of the batch, all tables together.
    pub fn rows(&self) -> u64 {
        self.counts().iter().map(|(_, n)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }
}

/// Writes `rows` (`$columns` values each) into `table`, on whichever backend `conn` is.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        let rows = $rows;
        let mut written = 0_usize;
        if !rows.is_empty() {
            match $conn {
                // COPY: no parameter limit, and half again as fast as multi-row INSERTs.
                DbConnection::Postgres(c) => {
                    written += diesel::copy_from($table).from_insertable(rows).execute(c)?;
                }
                DbConnection::Sqlite(c) => {
                    for chunk in rows.chunks(SQLITE_MAX_PARAMETERS / $columns) {
                        written += diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
            }
        }
        written
    }};
}

/// Writes every row of `batch` in one transaction (through the single writer on SQLite),
/// parents before children. Returns the number of rows written.
pub fn insert(db: &Database, batch: &Batch) -> Result<u64, StoreError> {
    db.write(|conn| write_batch(conn, batch))
}

/// Writes `batch` on a connection already inside a transaction.
pub fn write_batch(conn: &mut DbConnection, batch: &Batch) -> Result<u64, StoreError> {
    let sealed = sealed_columns(batch)?;
    let batch = &sealed;
    // The column counts are those of schema.rs; a wrong one only makes statements smaller.
    let written = insert_all!(conn, posts::table, &batch.posts, 9)
        + insert_all!(conn, units::table, &batch.units, 7)
        + insert_all!(conn, post_units::table, &batch.post_units, 2)
        + insert_all!(conn, partners::table, &batch.partners, 13)
        + insert_all!(conn, beneficiaries::table, &batch.beneficiaries, 13)
        + insert_all!(conn, situations::table, &batch.situations, 15)
        + insert_all!(
            conn,
            situation_problems::table,
            &batch.situation_problems,
            3
        )
        + insert_all!(conn, interventions::table, &batch.interventions, 11)
        + insert_all!(conn, hand_offs::table, &batch.hand_offs, 15)
        + insert_all!(
            conn,
            hand_off_transitions::table,
            &batch.hand_off_transitions,
            9
        )
        + insert_all!(conn, consents::table, &batch.consents, 11);
    Ok(u64::try_from(written).unwrap_or(u64::MAX))
}

/// Sets the writing connection up for a long bulk load. On SQLite, a page cache large enough
/// to hold the indexes being filled (256 MiB instead of 2 MiB), and checkpoints every 64 MiB
/// of WAL instead of every 4 MiB (a batch is larger than that: fewer, larger checkpoints
/// write the same pages with fewer syncs). Nothing on PostgreSQL.
pub fn prepare(db: &Database) -> Result<(), StoreError> {
    db.write(|conn| match conn {
        DbConnection::Sqlite(c) => c
            .batch_execute("PRAGMA cache_size = -262144; PRAGMA wal_autocheckpoint = 16384;")
            .map_err(StoreError::from),
        DbConnection::Postgres(_) => Ok(()),
    })
}

/// Refreshes the planner's statistics after a bulk load, so that the first queries on the
/// new data do not plan as if the tables were empty.
pub fn analyze(db: &Database) -> Result<(), StoreError> {
    db.write(|conn| conn.batch_execute("ANALYZE").map_err(StoreError::from))
}

/// The number of rows in each bulk-loaded table.
pub fn table_counts(conn: &mut DbConnection) -> Result<TableCounts, StoreError> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(vec![
        ("posts", count(posts::table.count().get_result(conn)?)),
        ("units", count(units::table.count().get_result(conn)?)),
        (
            "post_units",
            count(post_units::table.count().get_result(conn)?),
        ),
        ("partners", count(partners::table.count().get_result(conn)?)),
        (
            "beneficiaries",
            count(beneficiaries::table.count().get_result(conn)?),
        ),
        (
            "situations",
            count(situations::table.count().get_result(conn)?),
        ),
        (
            "situation_problems",
            count(situation_problems::table.count().get_result(conn)?),
        ),
        (
            "interventions",
            count(interventions::table.count().get_result(conn)?),
        ),
        (
            "hand_offs",
            count(hand_offs::table.count().get_result(conn)?),
        ),
        (
            "hand_off_transitions",
            count(hand_off_transitions::table.count().get_result(conn)?),
        ),
        ("consents", count(consents::table.count().get_result(conn)?)),
    ])
}

/// `batch` with `each` applied to every sealed column's value: the column, the record, the value.
fn map_sealed_columns(
    mut batch: Batch,
    each: impl Fn(Column, &str, Option<String>) -> Result<Option<String>, StoreError>,
) -> Result<Batch, StoreError> {
    use crate::sealing::*;
    for b in &mut batch.beneficiaries {
        b.first_name = each(BENEFICIARY_FIRST_NAME, &b.id, b.first_name.take())?;
        b.last_name = each(BENEFICIARY_LAST_NAME, &b.id, b.last_name.take())?;
        b.phone = each(BENEFICIARY_PHONE, &b.id, b.phone.take())?;
    }
    for h in &mut batch.hand_offs {
        h.message = each(HAND_OFF_MESSAGE, &h.id, h.message.take())?;
        h.outcome = each(HAND_OFF_OUTCOME, &h.id, h.outcome.take())?;
    }
    for t in &mut batch.hand_off_transitions {
        let record = crate::hand_offs::transition_key(&t.hand_off_id, t.position);
        t.comment = each(TRANSITION_COMMENT, &record, t.comment.take())?;
    }
    Ok(batch)
}

/// `batch` with its sealed columns sealed, as they are stored.
fn sealed_columns(batch: &Batch) -> Result<Batch, StoreError> {
    map_sealed_columns(batch.clone(), |column, record, value| {
        crate::sealing::seal_opt(column, record, value.as_deref())
    })
}

/// `batch` as read, with its sealed columns opened.
fn opened_columns(batch: Batch) -> Result<Batch, StoreError> {
    map_sealed_columns(batch, crate::sealing::open_opt)
}

/// Every row of the bulk-loaded tables, each table in primary-key order, sealed columns in
/// clear. Meant for tests and small datasets: it holds the whole database in memory.
pub fn load_all(conn: &mut DbConnection) -> Result<Batch, StoreError> {
    opened_columns(Batch {
        posts: posts::table
            .order(posts::id)
            .select(PostRow::as_select())
            .load(conn)?,
        units: units::table
            .order(units::id)
            .select(UnitRow::as_select())
            .load(conn)?,
        post_units: post_units::table
            .order((post_units::post_id, post_units::unit_id))
            .select(PostUnitRow::as_select())
            .load(conn)?,
        partners: partners::table
            .order(partners::id)
            .select(PartnerRow::as_select())
            .load(conn)?,
        beneficiaries: beneficiaries::table
            .order(beneficiaries::id)
            .select(BeneficiaryRow::as_select())
            .load(conn)?,
        situations: situations::table
            .order(situations::id)
            .select(SituationRow::as_select())
            .load(conn)?,
        situation_problems: situation_problems::table
            .order((
                situation_problems::situation_id,
                situation_problems::position,
            ))
            .select(SituationProblemRow::as_select())
            .load(conn)?,
        interventions: interventions::table
            .order(interventions::id)
            .select(InterventionRow::as_select())
            .load(conn)?,
        hand_offs: hand_offs::table
            .order(hand_offs::id)
            .select(HandOffRow::as_select())
            .load(conn)?,
        hand_off_transitions: hand_off_transitions::table
            .order((
                hand_off_transitions::hand_off_id,
                hand_off_transitions::position,
            ))
            .select(TransitionRow::as_select())
            .load(conn)?,
        consents: consents::table
            .order(consents::hand_off_id)
            .select(ConsentRow::as_select())
            .load(conn)?,
    })
}

/// A short digest of every row of the bulk-loaded tables (FNV-1a over each row's `Debug`
/// form, per table): equal databases give equal fingerprints. Loads everything; see `load_all`.
pub fn fingerprint(conn: &mut DbConnection) -> Result<String, StoreError> {
    let all = load_all(conn)?;
    let parts = [
        digest("posts", &all.posts),
        digest("units", &all.units),
        digest("post_units", &all.post_units),
        digest("partners", &all.partners),
        digest("beneficiaries", &all.beneficiaries),
        digest("situations", &all.situations),
        digest("situation_problems", &all.situation_problems),
        digest("interventions", &all.interventions),
        digest("hand_offs", &all.hand_offs),
        digest("hand_off_transitions", &all.hand_off_transitions),
        digest("consents", &all.consents),
    ];
    Ok(parts.join(" "))
}

fn digest<T: Debug>(table: &str, rows: &[T]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for row in rows {
        for byte in format!("{row:?}\n").bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    format!("{table}:{}:{hash:016x}", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_every_row() {
        let a = digest("t", &["x", "y"]);
        assert_eq!(a, digest("t", &["x", "y"]));
        assert_ne!(a, digest("t", &["y", "x"]));
        assert!(a.starts_with("t:2:"));
    }

    #[test]
    fn counts_follow_the_writing_order() {
        let batch = Batch {
            situations: vec![],
            ..Batch::default()
        };
        assert!(batch.is_empty());
        let names: Vec<_> = batch.counts().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"posts"));
        assert_eq!(names.last(), Some(&"consents"));
    }
}
