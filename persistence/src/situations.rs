//! Situations and their problem categories.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::ids::{BeneficiaryId, PostId, SituationId};
use relais_domain::reference::{CodeList, Origin, ProblemCategory, SituationStatus, Standing};
use relais_domain::situation::{Situation, SituationDetails, SituationState};

use crate::convert::{Count, meta, parse, parse_opt, stored};
use crate::error::stale_or_missing;
use crate::schema::{situation_problems, situations};
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = situations)]
struct SituationRow {
    id: String,
    post_id: String,
    beneficiary_id: String,
    opened_on: NaiveDate,
    origin: String,
    referring_service: Option<String>,
    standing: String,
    penal: bool,
    principal_problem: String,
    children_in_household: Option<i32>,
    status: String,
    closing_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = situations, treat_none_as_null = true, treat_none_as_default_value = false)]
struct SituationForm<'a> {
    opened_on: NaiveDate,
    origin: &'a str,
    referring_service: Option<&'a str>,
    standing: &'a str,
    penal: bool,
    principal_problem: &'a str,
    children_in_household: Option<i32>,
    status: &'a str,
    closing_reason: Option<&'a str>,
}

impl<'a> SituationForm<'a> {
    fn of(details: &'a SituationDetails, state: SituationState) -> Self {
        Self {
            opened_on: details.opened_on,
            origin: details.origin.code(),
            referring_service: details.referring_service.map(CodeList::code),
            standing: details.standing.code(),
            penal: details.penal,
            principal_problem: details.principal_problem.code(),
            children_in_household: details.children_in_household.map(i32::from),
            status: state.status.code(),
            closing_reason: state.closing_reason.map(CodeList::code),
        }
    }
}

impl SituationRow {
    fn into_situation(self, problems: Vec<ProblemCategory>) -> Result<Situation, StoreError> {
        Ok(Situation {
            id: parse("situations.id", &self.id)?,
            post_id: parse("situations.post_id", &self.post_id)?,
            beneficiary_id: parse("situations.beneficiary_id", &self.beneficiary_id)?,
            details: SituationDetails {
                opened_on: self.opened_on,
                origin: parse("situations.origin", &self.origin)?,
                referring_service: parse_opt(
                    "situations.referring_service",
                    self.referring_service.as_deref(),
                )?,
                standing: parse("situations.standing", &self.standing)?,
                penal: self.penal,
                problems,
                principal_problem: parse("situations.principal_problem", &self.principal_problem)?,
                children_in_household: self
                    .children_in_household
                    .map(|n| {
                        u8::try_from(n).map_err(|_| {
                            StoreError::Corrupt(format!("children_in_household = {n}"))
                        })
                    })
                    .transpose()?,
            },
            state: SituationState {
                status: parse("situations.status", &self.status)?,
                closing_reason: parse_opt(
                    "situations.closing_reason",
                    self.closing_reason.as_deref(),
                )?,
            },
            meta: meta(self.created_at, self.updated_at, self.version),
        })
    }
}

fn write_problems(
    conn: &mut DbConnection,
    situation: &str,
    problems: &[ProblemCategory],
) -> Result<(), StoreError> {
    diesel::delete(
        situation_problems::table.filter(situation_problems::situation_id.eq(situation)),
    )
    .execute(conn)?;
    for (position, problem) in (0_i32..).zip(problems) {
        diesel::insert_into(situation_problems::table)
            .values((
                situation_problems::situation_id.eq(situation),
                situation_problems::problem.eq(problem.code()),
                situation_problems::position.eq(position),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The problems of each situation, in the order they were given.
fn problems_of(
    conn: &mut DbConnection,
    keys: &[String],
) -> Result<HashMap<String, Vec<ProblemCategory>>, StoreError> {
    let rows: Vec<(String, String)> = situation_problems::table
        .filter(situation_problems::situation_id.eq_any(keys))
        .order((
            situation_problems::situation_id,
            situation_problems::position,
        ))
        .select((
            situation_problems::situation_id,
            situation_problems::problem,
        ))
        .load(conn)?;
    let mut by_situation: HashMap<String, Vec<ProblemCategory>> = HashMap::new();
    for (situation, problem) in rows {
        by_situation
            .entry(situation)
            .or_default()
            .push(parse("situation_problems.problem", &problem)?);
    }
    Ok(by_situation)
}

/// Records a new, open situation. The caller has validated the details and the access.
pub fn insert(
    conn: &mut DbConnection,
    post: PostId,
    beneficiary: BeneficiaryId,
    details: &SituationDetails,
    at: DateTime<Utc>,
) -> Result<Situation, StoreError> {
    let id = SituationId::generate();
    let key = id.to_string();
    let at = stored(at);
    diesel::insert_into(situations::table)
        .values((
            situations::id.eq(&key),
            situations::post_id.eq(post.to_string()),
            situations::beneficiary_id.eq(beneficiary.to_string()),
            SituationForm::of(details, SituationState::OPEN),
            situations::created_at.eq(at),
            situations::updated_at.eq(at),
            situations::version.eq(1_i64),
        ))
        .execute(conn)?;
    write_problems(conn, &key, &details.problems)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: SituationId) -> Result<Situation, StoreError> {
    let key = id.to_string();
    let row: SituationRow = situations::table
        .find(&key)
        .select(SituationRow::as_select())
        .first(conn)?;
    let mut problems = problems_of(conn, std::slice::from_ref(&key))?;
    row.into_situation(problems.remove(&key).unwrap_or_default())
}

/// What a list of situations may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SituationFilter {
    /// The posts the caller may read; always applied.
    pub posts: Vec<PostId>,
    pub beneficiary: Option<BeneficiaryId>,
    pub status: Option<SituationStatus>,
    /// Situations with this problem among theirs, principal or not.
    pub problem: Option<ProblemCategory>,
    pub origin: Option<Origin>,
    pub standing: Option<Standing>,
    pub opened_from: Option<NaiveDate>,
    pub opened_to: Option<NaiveDate>,
}

/// Situations matching `filter`, newest first. Never touches evaluations.
pub fn list(
    conn: &mut DbConnection,
    filter: &SituationFilter,
    page: &PageRequest,
) -> Result<Page<Situation>, StoreError> {
    let posts: Vec<String> = filter.posts.iter().map(ToString::to_string).collect();
    let mut query = situations::table
        .select(SituationRow::as_select())
        .filter(situations::post_id.eq_any(posts))
        .into_boxed();
    if let Some(beneficiary) = filter.beneficiary {
        query = query.filter(situations::beneficiary_id.eq(beneficiary.to_string()));
    }
    if let Some(status) = filter.status {
        query = query.filter(situations::status.eq(status.code()));
    }
    if let Some(problem) = filter.problem {
        // A correlated EXISTS probes each candidate of the post's newest first and stops at the
        // page; `id IN (…)` read every situation of the whole base with that problem first
        // (18 ms against 0.2 ms on the load benchmark's base, SQLite).
        query = query.filter(diesel::dsl::exists(
            situation_problems::table
                .filter(situation_problems::situation_id.eq(situations::id))
                .filter(situation_problems::problem.eq(problem.code())),
        ));
    }
    if let Some(origin) = filter.origin {
        query = query.filter(situations::origin.eq(origin.code()));
    }
    if let Some(standing) = filter.standing {
        query = query.filter(situations::standing.eq(standing.code()));
    }
    if let Some(from) = filter.opened_from {
        query = query.filter(situations::opened_on.ge(from));
    }
    if let Some(to) = filter.opened_to {
        query = query.filter(situations::opened_on.le(to));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(situations::id.lt(cursor));
    }
    let rows: Vec<SituationRow> = query
        .order(situations::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let keys: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut problems = problems_of(conn, &keys)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let own = problems.remove(&row.id).unwrap_or_default();
            row.into_situation(own)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |s| {
        s.id.to_string()
    }))
}

/// Stores `next` over the situation if it is still at `expected_version`.
pub fn replace(
    conn: &mut DbConnection,
    next: &Situation,
    expected_version: i64,
    at: DateTime<Utc>,
) -> Result<Situation, StoreError> {
    let key = next.id.to_string();
    let changed = diesel::update(
        situations::table
            .find(&key)
            .filter(situations::version.eq(expected_version)),
    )
    .set((
        SituationForm::of(&next.details, next.state),
        situations::updated_at.eq(stored(at)),
        situations::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = situations::table
            .find(&key)
            .select(situations::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    write_problems(conn, &key, &next.details.problems)?;
    get(conn, next.id)
}

/// The earliest opening day among a person's situations, to keep a changed birth before it.
pub fn earliest_opening(
    conn: &mut DbConnection,
    beneficiary: BeneficiaryId,
) -> Result<Option<NaiveDate>, StoreError> {
    Ok(situations::table
        .filter(situations::beneficiary_id.eq(beneficiary.to_string()))
        .select(diesel::dsl::min(situations::opened_on))
        .first::<Option<NaiveDate>>(conn)?)
}

/// How many situations hold problems (`problems`, kept by the database's triggers for the
/// statistics grid) other than their rows of `situation_problems`: always 0, which the tests check
/// after every kind of write. Checked as a set (as many codes as rows, each row's code among them),
/// not by the triggers' own definition, which a recount sharing it could not catch.
pub fn problems_out_of_step(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let position = match conn {
        DbConnection::Sqlite(_) => "instr",
        DbConnection::Postgres(_) => "strpos",
    };
    let Count { n } = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM situations s LEFT JOIN (
            SELECT situation_id, COUNT(*) AS k FROM situation_problems GROUP BY situation_id
         ) c ON c.situation_id = s.id
         WHERE (s.problems IS NULL) <> (c.k IS NULL)
            OR length(s.problems) - length(replace(s.problems, ',', '')) + 1 <> c.k
            OR EXISTS (SELECT 1 FROM situation_problems sp WHERE sp.situation_id = s.id
                       AND {position}(',' || s.problems || ',', ',' || sp.problem || ',') = 0)"
    ))
    .get_result(conn)?;
    Ok(n)
}

/// How many situations hold a previous opening (`previous_opened_on`, kept by the database's
/// triggers for the statistics grid) other than their person's situations give when recounted:
/// always 0, which the tests check after every kind of write.
pub fn previous_out_of_step(conn: &mut DbConnection) -> Result<i64, StoreError> {
    // Ids in bytewise order on both backends, as the triggers order them.
    let id = match conn {
        DbConnection::Sqlite(_) => "id",
        DbConnection::Postgres(_) => "id COLLATE \"C\"",
    };
    let Count { n } = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM situations s JOIN (
            SELECT id, LAG(opened_on) OVER (PARTITION BY beneficiary_id ORDER BY opened_on, {id}) AS previous
            FROM situations
         ) r ON r.id = s.id
         WHERE (s.previous_opened_on IS NULL) <> (r.previous IS NULL) OR s.previous_opened_on <> r.previous"
    ))
    .get_result(conn)?;
    Ok(n)
}
