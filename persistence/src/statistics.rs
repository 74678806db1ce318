//! The statistics grid, computed in the database: one statement per request, whatever the number
//! of indicators. Each indicator is one grouped branch of a `UNION ALL` over shared CTEs that
//! apply the period and the scope once; nothing is loaded row by row into memory.
//!
//! The CTEs are `MATERIALIZED` (both backends know the word) so that each is computed once and
//! every branch reads the result, rather than each branch redoing the joins. Joins from the
//! period's situations to their hand-offs and problems are written `CROSS JOIN … WHERE`: the same
//! join to PostgreSQL, and to SQLite (which has no hash join) the order that walks the few
//! situations of the period and probes the big tables by index, not the other way round.
//!
//! The statement holds no text from outside: dates, ids and bracket bounds are typed values,
//! indicators and brackets are referred to by their position in the grid.

use std::fmt::Write as _;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use relais_domain::grid::{BirthYearAge, Counted, Dimension, Grid};
use relais_domain::ids::PostId;
use relais_domain::statistics::total_marker;
use relais_domain::validation::is_department_code;

use crate::{Backend, DbConnection, StoreError};

/// Whose activity is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatScope {
    National,
    /// A department (INSEE code).
    Department(String),
    Posts(Vec<PostId>),
}

impl StatScope {
    /// Whose activity, as a grid names it: `national`, `department:07` or `posts:<id>,<id>`.
    pub fn label(&self) -> String {
        match self {
            StatScope::National => "national".into(),
            StatScope::Department(code) => format!("department:{code}"),
            StatScope::Posts(posts) => format!(
                "posts:{}",
                posts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// One value of one indicator, as counted.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CountRow {
    /// Position of the indicator in the grid; negative for the totals (see `total_marker`).
    #[diesel(sql_type = Integer)]
    pub indicator: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub k: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Counts every indicator of `grid` over `from..=to` in `scope`.
pub fn compute(
    conn: &mut DbConnection,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<Vec<CountRow>, StoreError> {
    let backend = match conn {
        DbConnection::Sqlite(_) => Backend::Sqlite,
        DbConnection::Postgres(_) => Backend::Postgres,
    };
    let sql = statement(backend, grid, from, to, scope)?;
    match conn {
        DbConnection::Sqlite(_) => Ok(diesel::sql_query(sql).load(conn)?),
        // The statement's estimated cost (its correlated sub-queries) is far above
        // `jit_above_cost`, so PostgreSQL compiles its ~200 expressions with LLVM: 1.4 s of a
        // 2 s national grid, for a statement that runs in a few hundred milliseconds. JIT never
        // pays back here; `SET LOCAL` keeps the setting to this transaction.
        DbConnection::Postgres(_) => conn.transaction(|conn| {
            diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
            Ok(diesel::sql_query(sql).load(conn)?)
        }),
    }
}

// ---- What differs between the backends, side by side. ----

/// The age on `day` of the beneficiary aliased `b`: completed years from `birth_date`; or, with a
/// birth year only, as `convention` says (see `BirthYearAge`). Also what anonymisation stores in
/// `situations.age_at_opening` (with `BirthYearAge::MidYear`) before it removes the birth (see
/// `retention` and `stored_age`), so that both give the same number.
pub(crate) fn age_years(backend: Backend, day: &str, convention: BirthYearAge) -> String {
    let before_july = match convention {
        BirthYearAge::MidYear => format!(" - {}", before_july(backend, day)),
        BirthYearAge::YearDifference => String::new(),
    };
    match backend {
        Backend::Sqlite => format!(
            "CASE WHEN b.birth_date IS NOT NULL THEN \
               CAST(strftime('%Y', {day}) AS INTEGER) - CAST(strftime('%Y', b.birth_date) AS INTEGER) \
               - (CASE WHEN strftime('%m-%d', {day}) < strftime('%m-%d', b.birth_date) THEN 1 ELSE 0 END) \
             WHEN b.birth_year IS NOT NULL THEN CAST(strftime('%Y', {day}) AS INTEGER) - b.birth_year{before_july} END"
        ),
        Backend::Postgres => format!(
            "CASE WHEN b.birth_date IS NOT NULL THEN CAST(date_part('year', age({day}, b.birth_date)) AS INTEGER) \
             WHEN b.birth_year IS NOT NULL THEN CAST(date_part('year', {day}) AS INTEGER) - b.birth_year{before_july} END"
        ),
    }
}

/// `1` when `day` falls before 1 July of its year, else `0`: the year not yet completed by someone
/// whose birth is taken to be on 1 July. Compared as a number (`MMDD`), so that no collation
/// comes into it.
fn before_july(backend: Backend, day: &str) -> String {
    let month_day = match backend {
        Backend::Sqlite => format!("CAST(strftime('%m%d', {day}) AS INTEGER)"),
        Backend::Postgres => format!("CAST(to_char({day}, 'MMDD') AS INTEGER)"),
    };
    format!("(CASE WHEN {month_day} < 701 THEN 1 ELSE 0 END)")
}

/// The age at opening kept by anonymisation for the situation aliased `s`, read under
/// `convention`: it was stored in completed years with the birth on 1 July when only the year
/// was known (`age_from_birth_year`), and the age reached during the year is one more before July.
fn stored_age(backend: Backend, convention: BirthYearAge) -> String {
    match convention {
        BirthYearAge::MidYear => "s.age_at_opening".into(),
        BirthYearAge::YearDifference => format!(
            "s.age_at_opening + (CASE WHEN s.age_from_birth_year THEN {} ELSE 0 END)",
            before_july(backend, "s.opened_on")
        ),
    }
}

/// Calendar days (UTC) from the timestamp `from` to the timestamp `to`.
fn days_between(backend: Backend, from: &str, to: &str) -> String {
    match backend {
        Backend::Sqlite => {
            format!("CAST(julianday(date({to})) - julianday(date({from})) AS INTEGER)")
        }
        Backend::Postgres => format!("(CAST({to} AS DATE) - CAST({from} AS DATE))"),
    }
}

/// The month (`YYYY-MM`) of a date or timestamp.
fn month(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("strftime('%Y-%m', {column})"),
        Backend::Postgres => format!("to_char({column}, 'YYYY-MM')"),
    }
}

// ---- The statement. ----

fn scope_condition(scope: &StatScope) -> Result<String, StoreError> {
    Ok(match scope {
        StatScope::National => "1 = 1".to_owned(),
        StatScope::Department(code) if is_department_code(code) => {
            format!("p.department_code = '{code}'")
        }
        StatScope::Department(code) => {
            return Err(StoreError::Corrupt(format!("department code {code:?}")));
        }
        StatScope::Posts(posts) if posts.is_empty() => "1 = 0".to_owned(),
        StatScope::Posts(posts) => {
            let list: Vec<String> = posts.iter().map(|p| format!("'{p}'")).collect();
            format!("p.id IN ({})", list.join(", "))
        }
    })
}

/// The key expression of a split, over the CTE the counted entity lives in.
fn key_expression(backend: Backend, grid: &Grid, dimension: Dimension, counted: Counted) -> String {
    match dimension {
        Dimension::Sex => "sex".into(),
        Dimension::Standing => "standing".into(),
        Dimension::Origin => "origin".into(),
        Dimension::PrincipalProblem => "principal_problem".into(),
        Dimension::Problem => "sp.problem".into(),
        Dimension::Penal => "CASE WHEN penal THEN 'yes' ELSE 'no' END".into(),
        Dimension::KnownToSocialServices => "known_to_social_services".into(),
        Dimension::InterventionMode => "mode".into(),
        Dimension::InterventionKind => "kind".into(),
        Dimension::PartnerKind => "partner_kind".into(),
        Dimension::HandOffOutcome => "status".into(),
        // Completed before results were coded: `unknown`; not completed: no key.
        Dimension::HandOffResult => {
            "CASE WHEN status = 'completed' THEN COALESCE(result, 'unknown') END".into()
        }
        Dimension::AnswerDelay => brackets(
            "answer_days",
            grid.answer_delay_brackets.iter().map(|b| (b.min, b.max)),
        ),
        Dimension::Month => match counted {
            Counted::Interventions => month(backend, "occurred_on"),
            Counted::HandOffs => month(backend, "created_at"),
            Counted::Persons | Counted::Situations => month(backend, "opened_on"),
        },
        Dimension::AgeBracket => brackets("age", grid.age_brackets.iter().map(|b| (b.min, b.max))),
    }
}

/// The position of the bracket `column` falls in, as text; none outside every bracket.
fn brackets<N: std::fmt::Display>(
    column: &str,
    bounds: impl Iterator<Item = (N, Option<N>)>,
) -> String {
    let mut case = String::from("CASE");
    for (index, (min, max)) in bounds.enumerate() {
        let _ = match max {
            Some(max) => write!(
                case,
                " WHEN {column} BETWEEN {min} AND {max} THEN '{index}'"
            ),
            None => write!(case, " WHEN {column} >= {min} THEN '{index}'"),
        };
    }
    case.push_str(" END");
    case
}

/// Days from a hand-off's first sending to its partner's first answer, from its history; read
/// only by grids that split by answer delay.
fn answer_days(backend: Backend, grid: &Grid) -> String {
    let used = grid
        .indicators
        .iter()
        .any(|i| i.split_by == Some(Dimension::AnswerDelay));
    if !used {
        return "CAST(NULL AS INTEGER)".into();
    }
    let first = |statuses: &str| {
        format!(
            "(SELECT MIN(t.at) FROM hand_off_transitions t \
              WHERE t.hand_off_id = h.id AND t.to_status IN ({statuses}))"
        )
    };
    days_between(backend, &first("'sent'"), &first("'accepted', 'declined'"))
}

/// The statement `compute` runs, for `EXPLAIN` and the benchmarks.
pub fn statement(
    backend: Backend,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<String, StoreError> {
    let scope = scope_condition(scope)?;
    // An anonymised person has no birth left: their age at each opening was kept instead.
    let age = format!(
        "CASE WHEN s.age_at_opening IS NOT NULL THEN {} ELSE {} END",
        stored_age(backend, grid.birth_year_age),
        age_years(backend, "s.opened_on", grid.birth_year_age)
    );
    let mut sql = format!(
        "WITH sit AS MATERIALIZED (
            SELECT s.id, s.beneficiary_id, s.opened_on, s.origin, s.standing, s.penal, s.principal_problem,
                   b.sex, b.known_to_social_services, {age} AS age
            FROM situations s
            JOIN beneficiaries b ON b.id = s.beneficiary_id
            JOIN posts p ON p.id = s.post_id
            WHERE s.opened_on >= '{from}' AND s.opened_on <= '{to}' AND {scope}
        ),
        per AS MATERIALIZED (
            SELECT * FROM (
                SELECT sit.*, ROW_NUMBER() OVER (PARTITION BY beneficiary_id ORDER BY opened_on, id) AS rank_in_period
                FROM sit
            ) ranked WHERE rank_in_period = 1
        ),
        itv AS MATERIALIZED (
            SELECT i.mode, i.kind, i.occurred_on
            FROM interventions i
            JOIN posts p ON p.id = i.post_id
            WHERE i.occurred_on >= '{from}' AND i.occurred_on <= '{to}' AND {scope}
        ),
        hof AS MATERIALIZED (
            SELECT h.status, h.result, pa.kind AS partner_kind, h.created_at, {answer_days} AS answer_days
            FROM sit
            CROSS JOIN hand_offs h
            JOIN partners pa ON pa.id = h.partner_id
            WHERE h.situation_id = sit.id
              AND EXISTS (SELECT 1 FROM hand_off_transitions sent
                          WHERE sent.hand_off_id = h.id AND sent.to_status = 'sent')
        )
        SELECT {persons} AS indicator, CAST(NULL AS TEXT) AS k, COUNT(*) AS n FROM per
        UNION ALL SELECT {situations}, NULL, COUNT(*) FROM sit
        UNION ALL SELECT {interventions}, NULL, COUNT(*) FROM itv
        UNION ALL SELECT {hand_offs}, NULL, COUNT(*) FROM hof",
        answer_days = answer_days(backend, grid),
        persons = total_marker(Counted::Persons),
        situations = total_marker(Counted::Situations),
        interventions = total_marker(Counted::Interventions),
        hand_offs = total_marker(Counted::HandOffs),
    );
    for (index, indicator) in grid.indicators.iter().enumerate() {
        let Some(dimension) = indicator.split_by else {
            continue;
        };
        let key = key_expression(backend, grid, dimension, indicator.counts);
        let branch = match (indicator.counts, dimension) {
            (Counted::Persons, Dimension::Problem) => format!(
                "SELECT {index}, {key}, COUNT(DISTINCT sit.beneficiary_id) FROM sit \
                 CROSS JOIN situation_problems sp WHERE sp.situation_id = sit.id GROUP BY {key}"
            ),
            (Counted::Situations, Dimension::Problem) => format!(
                "SELECT {index}, {key}, COUNT(*) FROM sit \
                 CROSS JOIN situation_problems sp WHERE sp.situation_id = sit.id GROUP BY {key}"
            ),
            (counted, _) => {
                let source = match counted {
                    Counted::Persons => "per",
                    Counted::Situations => "sit",
                    Counted::Interventions => "itv",
                    Counted::HandOffs => "hof",
                };
                format!("SELECT {index}, {key}, COUNT(*) FROM {source} GROUP BY {key}")
            }
        };
        sql.push_str("\n        UNION ALL ");
        sql.push_str(&branch);
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid reads no sealed column: its figures never depend on the keys, and stay
    /// byte-identical across backends and rotations.
    #[test]
    fn the_grid_reads_no_sealed_column() {
        let grid = Grid::from_toml(include_str!("../../grids/2026.toml")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let sql = statement(backend, &grid, day, day, &StatScope::National).unwrap();
            let words: Vec<&str> = sql
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for column in crate::sealing::SEALED_COLUMNS {
                let (_, name) = column.0.split_once('.').unwrap();
                assert!(!words.contains(&name), "{} in {sql}", column.0);
            }
        }
    }

    #[test]
    fn scopes_only_take_typed_values() {
        assert_eq!(scope_condition(&StatScope::National).unwrap(), "1 = 1");
        assert_eq!(
            scope_condition(&StatScope::Department("2A".into())).unwrap(),
            "p.department_code = '2A'"
        );
        assert!(scope_condition(&StatScope::Department("07' OR '1'='1".into())).is_err());
        assert_eq!(scope_condition(&StatScope::Posts(vec![])).unwrap(), "1 = 0");
    }
}
