//! The statistics grid, computed in the database: one statement per request, whatever the number
//! of indicators. The period and the scope are applied once, in a CTE of the period's situations;
//! each thing counted (persons, situations, interventions, hand-offs) is then read in one grouped
//! pass into a small cube, its count by every split the grid makes of it at once, and each
//! indicator is one `UNION ALL` branch summing its margin of the cube (a few hundred rows), rather
//! than one more pass over the rows per indicator. Splits by problem multiply the rows (a
//! situation has several problems) and stay branches of their own. Nothing is loaded row by row
//! into memory.
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
    let query = bound_statement(backend, grid, from, to, scope)?;
    match conn {
        DbConnection::Sqlite(_) => Ok(query.load(conn)?),
        // `SET LOCAL` keeps the settings to this transaction.
        DbConnection::Postgres(_) => conn.transaction(|conn| {
            plan_settings(conn)?;
            Ok(query.load(conn)?)
        }),
    }
}

// ---- The statement's values, bound rather than written in. ----
//
// The text of the grid's statement depends on the grid, the backend and the shape of the scope
// (national, a department, n posts), never on the period or on which posts: each connection
// prepares it once and reuses it from diesel's statement cache (`sql_query` is never cached): no
// parse of a statement of twenty branches at every request, and on PostgreSQL a generic plan the
// server may keep for the small scopes (a department ~3 ms faster by hand; on SQLite 3.5x the
// preparation itself is cheap). The cache is keyed by that text, so it stays bounded: a few
// entries per connection.

/// A bound value's place in the text of a `BoundSql`: `\u{1}` and the value's index, then
/// `\u{2}`. Neither character is otherwise in the statement, built from the grid's positions and
/// fixed words only. Indexed, so that a value may be written anywhere and more than once.
const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// A value bound to the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Date(NaiveDate),
    Text(String),
}

/// SQL text and the values bound to its placeholders.
#[derive(Debug, Clone, Default)]
pub struct BoundSql {
    text: String,
    values: Vec<Value>,
}

/// A piece of a `BoundSql`'s text, in order.
enum Piece<'a> {
    Sql(&'a str),
    Value(&'a Value),
}

impl BoundSql {
    fn placeholder(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("{OPEN}{}{CLOSE}", self.values.len() - 1)
    }

    /// The placeholder of `day`, to write into the text.
    fn date(&mut self, day: NaiveDate) -> String {
        self.placeholder(Value::Date(day))
    }

    /// The placeholder of `text`, to write into the text.
    fn text(&mut self, text: impl Into<String>) -> String {
        self.placeholder(Value::Text(text.into()))
    }

    /// The text and its values, in the order they come.
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        let mut parts = self.text.split(OPEN);
        let first = parts.next().map(Piece::Sql);
        first.into_iter().chain(parts.flat_map(|part| {
            let (index, rest) = part.split_once(CLOSE).unwrap_or((part, ""));
            let value = index.parse::<usize>().ok().and_then(|i| self.values.get(i));
            value
                .map(Piece::Value)
                .into_iter()
                .chain([Piece::Sql(rest)])
        }))
    }

    /// The statement with its values written in as literals: what `EXPLAIN` and a reader take.
    pub fn to_literal_sql(&self) -> String {
        let mut sql = String::with_capacity(self.text.len());
        for piece in self.pieces() {
            match piece {
                Piece::Sql(text) => sql.push_str(text),
                Piece::Value(Value::Date(day)) => {
                    let _ = write!(sql, "'{day}'");
                }
                Piece::Value(Value::Text(text)) => {
                    let _ = write!(sql, "'{}'", text.replace('\'', "''"));
                }
            }
        }
        sql
    }
}

impl diesel::query_builder::QueryId for BoundSql {
    type QueryId = ();
    // Not static: diesel keys its cache by the text, which is what varies.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for BoundSql {
    type SqlType = diesel::sql_types::Untyped;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for BoundSql
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<diesel::sql_types::Date>
        + diesel::sql_types::HasSqlType<Text>,
    NaiveDate: diesel::serialize::ToSql<diesel::sql_types::Date, DB>,
    String: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        // Unlike `sql_query`, nothing here calls `unsafe_to_cache_prepared`: the text holds no
        // value, so the prepared statement can be reused.
        for piece in self.pieces() {
            match piece {
                Piece::Sql(text) => out.push_sql(text),
                Piece::Value(Value::Date(day)) => {
                    out.push_bind_param::<diesel::sql_types::Date, _>(day)?;
                }
                Piece::Value(Value::Text(text)) => out.push_bind_param::<Text, _>(text)?,
            }
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for BoundSql {}

/// The planner settings the grid's statement runs under, for the rest of the transaction
/// (`SET LOCAL`); none on SQLite. Public so that the benchmarks run their baselines alike.
///
/// - `jit = off`: the statement's estimated cost is far above `jit_above_cost`, so PostgreSQL
///   compiled its expressions with LLVM: 1.4 s of a 2 s national grid, for a statement that runs
///   in a few hundred milliseconds. JIT never pays back here.
/// - `random_page_cost = 1.1` (the usual value for SSDs and cached data, against 4 for spinning
///   disks): a post's situations are scattered through the table, so at 4 PostgreSQL read the
///   whole year's situations by date and hashed every beneficiary rather than take the post's
///   758 by `(post_id, opened_on)` and probe their people: 80 ms against 15 for the one pass.
pub fn plan_settings(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Postgres(_) = conn {
        diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
        diesel::sql_query("SET LOCAL random_page_cost = 1.1").execute(conn)?;
    }
    Ok(())
}

// ---- What differs between the backends, side by side. ----
//
// SQLite keeps dates and timestamps as ISO 8601 text (diesel writes `%F` and `%F %T%.f`): their
// year, month and day are read by position with `substr`, which gives what `strftime` gives on
// such text without parsing every value (10–20 % of a national grid's time).

/// The year of the SQLite date or timestamp `column`, as an integer.
fn sqlite_year(column: &str) -> String {
    format!("CAST(substr({column}, 1, 4) AS INTEGER)")
}

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
               {year} - {birth_year} \
               - (CASE WHEN substr({day}, 6, 5) < substr(b.birth_date, 6, 5) THEN 1 ELSE 0 END) \
             WHEN b.birth_year IS NOT NULL THEN {year} - b.birth_year{before_july} END",
            year = sqlite_year(day),
            birth_year = sqlite_year("b.birth_date"),
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
        Backend::Sqlite => format!("CAST(substr({day}, 6, 2) || substr({day}, 9, 2) AS INTEGER)"),
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
        Backend::Sqlite => format!("substr({column}, 1, 7)"),
        Backend::Postgres => format!("to_char({column}, 'YYYY-MM')"),
    }
}

// ---- The statement. ----

/// The join and the condition that keep the rows of the table aliased `alias` (which has a
/// `post_id`) to `scope`. The posts are joined for a department only: a scope of posts is read on
/// the row's own `post_id`, which the `(post_id, …)` indexes serve. Its values are written in, for
/// the benchmarks' hand-written statements; the grid binds them (`bound_scope_filter`).
pub fn scope_filter(scope: &StatScope, alias: &str) -> Result<(String, String), StoreError> {
    let mut binds = BoundSql::default();
    let (join, condition) = bound_scope_filter(scope, alias, &mut binds)?;
    binds.text = condition;
    Ok((join, binds.to_literal_sql()))
}

/// `scope_filter`, its values bound to `sql`.
fn bound_scope_filter(
    scope: &StatScope,
    alias: &str,
    sql: &mut BoundSql,
) -> Result<(String, String), StoreError> {
    Ok(match scope {
        StatScope::National => (String::new(), "1 = 1".to_owned()),
        StatScope::Department(code) if is_department_code(code) => (
            format!(" JOIN posts p ON p.id = {alias}.post_id"),
            format!("p.department_code = {}", sql.text(code.as_str())),
        ),
        StatScope::Department(code) => {
            return Err(StoreError::Corrupt(format!("department code {code:?}")));
        }
        StatScope::Posts(posts) if posts.is_empty() => (String::new(), "1 = 0".to_owned()),
        StatScope::Posts(posts) => {
            let list: Vec<String> = posts.iter().map(|p| sql.text(p.to_string())).collect();
            (
                String::new(),
                format!("{alias}.post_id IN ({})", list.join(", ")),
            )
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
        // Read from the problems' own cube (`prb_cube`), never from another.
        Dimension::Problem => "problem".into(),
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

/// Days from a hand-off's first sending to its partner's first answer (`hand_offs.sent_at` and
/// `answered_at`, kept by the database from its transitions); read only by grids that split by
/// answer delay.
fn answer_days(backend: Backend, grid: &Grid) -> String {
    let used = grid
        .indicators
        .iter()
        .any(|i| i.split_by == Some(Dimension::AnswerDelay));
    if !used {
        return "CAST(NULL AS INTEGER)".into();
    }
    days_between(backend, "h.sent_at", "h.answered_at")
}

/// The splits the grid makes of `counted` that its cube holds, in the order of the grid, each
/// once: the cube's columns `d0`, `d1`, …
fn cube_dimensions(grid: &Grid, counted: Counted) -> Vec<Dimension> {
    let mut dimensions = Vec::new();
    for indicator in grid.indicators.iter().filter(|i| i.counts == counted) {
        match indicator.split_by {
            Some(d) if d != Dimension::Problem && !dimensions.contains(&d) => dimensions.push(d),
            _ => {}
        }
    }
    dimensions
}

/// The CTE of `counted`'s cube: its count by every split of `dimensions` at once, from `source`.
fn cube(
    backend: Backend,
    grid: &Grid,
    counted: Counted,
    dimensions: &[Dimension],
    source: &str,
) -> String {
    let keys: Vec<String> = dimensions
        .iter()
        .map(|d| key_expression(backend, grid, *d, counted))
        .collect();
    let columns: String = keys
        .iter()
        .enumerate()
        .map(|(i, key)| format!("{key} AS d{i}, "))
        .collect();
    let group_by = if keys.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", keys.join(", "))
    };
    format!(
        "{name} AS MATERIALIZED (SELECT {columns}COUNT(*) AS n FROM {source}{group_by})",
        name = cube_name(counted)
    )
}

fn cube_name(counted: Counted) -> &'static str {
    match counted {
        Counted::Persons => "per_cube",
        Counted::Situations => "sit_cube",
        Counted::Interventions => "itv_cube",
        Counted::HandOffs => "hof_cube",
    }
}

/// The rows each thing counted is read from, after the CTE `sit` of the period's situations.
fn source(backend: Backend, grid: &Grid, counted: Counted, interventions: &str) -> String {
    match counted {
        Counted::Situations => "sit".into(),
        // Each person once, by their first situation of the period (the earliest opening, then
        // the smallest id). SQLite takes the row of a `MIN` as the aggregate's bare columns
        // (documented: "bare columns in an aggregate query"), a grouping where the window
        // needs a sort and a copy of every row (about a sixth of the persons' cube, by hand on
        // SQLite 3.51). `opened_on` is fixed-width text there, so `opened_on || id` orders as
        // `(opened_on, id)`.
        Counted::Persons => match backend {
            Backend::Sqlite => "(SELECT sit.*, MIN(opened_on || id) AS first_of_person \
                 FROM sit GROUP BY beneficiary_id) ranked"
                .into(),
            Backend::Postgres => "(SELECT sit.*, ROW_NUMBER() OVER (PARTITION BY beneficiary_id ORDER BY opened_on, id) AS rank_in_period \
                 FROM sit) ranked WHERE rank_in_period = 1"
                .into(),
        },
        Counted::Interventions => interventions.into(),
        // Sent hand-offs only (a transition to `sent`). Their first sending and first answer are
        // kept on the hand-off by a trigger on its transitions (migration 000017), so that the grid
        // reads no transition; `hand_offs_sent` covers the read.
        Counted::HandOffs => format!(
            "(SELECT h.status, h.result, pa.kind AS partner_kind, h.created_at, {answer_days} AS answer_days \
              FROM sit \
              CROSS JOIN hand_offs h \
              JOIN partners pa ON pa.id = h.partner_id \
              WHERE h.situation_id = sit.id AND h.sent_at IS NOT NULL) hof",
            answer_days = answer_days(backend, grid)
        ),
    }
}

const COUNTED: [Counted; 4] = [
    Counted::Persons,
    Counted::Situations,
    Counted::Interventions,
    Counted::HandOffs,
];

/// The statement `compute` runs, its values written in: for `EXPLAIN` and the benchmarks.
pub fn statement(
    backend: Backend,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<String, StoreError> {
    Ok(bound_statement(backend, grid, from, to, scope)?.to_literal_sql())
}

/// The statement `compute` runs, its values bound.
fn bound_statement(
    backend: Backend,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<BoundSql, StoreError> {
    let mut bound = BoundSql::default();
    let (from, to) = (bound.date(from), bound.date(to));
    let (situations_join, situations_in_scope) = bound_scope_filter(scope, "s", &mut bound)?;
    let (interventions_join, interventions_in_scope) = bound_scope_filter(scope, "i", &mut bound)?;
    // An anonymised person has no birth left: their age at each opening was kept instead.
    let age = format!(
        "CASE WHEN s.age_at_opening IS NOT NULL THEN {} ELSE {} END",
        stored_age(backend, grid.birth_year_age),
        age_years(backend, "s.opened_on", grid.birth_year_age)
    );
    let interventions = format!(
        "(SELECT i.mode, i.kind, i.occurred_on FROM interventions i{interventions_join} \
          WHERE i.occurred_on >= {from} AND i.occurred_on <= {to} AND {interventions_in_scope}) itv"
    );
    let mut sql = format!(
        "WITH sit AS MATERIALIZED (
            SELECT s.id, s.beneficiary_id, s.opened_on, s.origin, s.standing, s.penal, s.principal_problem,
                   b.sex, b.known_to_social_services, {age} AS age
            FROM situations s
            JOIN beneficiaries b ON b.id = s.beneficiary_id{situations_join}
            WHERE s.opened_on >= {from} AND s.opened_on <= {to} AND {situations_in_scope}
        )"
    );
    for counted in COUNTED {
        let dimensions = cube_dimensions(grid, counted);
        let source = source(backend, grid, counted, &interventions);
        sql.push_str(",\n        ");
        sql.push_str(&cube(backend, grid, counted, &dimensions, &source));
    }
    let by_problem = grid
        .indicators
        .iter()
        .any(|i| i.split_by == Some(Dimension::Problem));
    if by_problem {
        // The period's problems read once, by problem and person: situations by problem sum it,
        // persons by problem count its rows.
        sql.push_str(
            ",\n        prb_cube AS MATERIALIZED (SELECT sp.problem AS problem, sit.beneficiary_id, COUNT(*) AS n \
             FROM sit CROSS JOIN situation_problems sp WHERE sp.situation_id = sit.id \
             GROUP BY sp.problem, sit.beneficiary_id)",
        );
    }
    // `CAST`: PostgreSQL sums a `bigint` into a `numeric`.
    for (position, counted) in COUNTED.into_iter().enumerate() {
        let _ = write!(
            sql,
            "\n        {union}SELECT {marker}{named_indicator}, CAST(NULL AS TEXT){named_k}, \
             CAST(COALESCE(SUM(n), 0) AS BIGINT){named_n} FROM {cube}",
            union = if position == 0 { "" } else { "UNION ALL " },
            marker = total_marker(counted),
            named_indicator = if position == 0 { " AS indicator" } else { "" },
            named_k = if position == 0 { " AS k" } else { "" },
            named_n = if position == 0 { " AS n" } else { "" },
            cube = cube_name(counted),
        );
    }
    for (index, indicator) in grid.indicators.iter().enumerate() {
        let Some(dimension) = indicator.split_by else {
            continue;
        };
        let branch = split_branch(grid, index, indicator.counts, dimension);
        sql.push_str("\n        UNION ALL ");
        sql.push_str(&branch);
    }
    bound.text = sql;
    Ok(bound)
}

/// The branch of the indicator at `index`: its margin of the cube, or its own pass for problems.
fn split_branch(grid: &Grid, index: usize, counted: Counted, dimension: Dimension) -> String {
    match (counted, dimension) {
        (Counted::Persons, Dimension::Problem) => {
            format!("SELECT {index}, problem, COUNT(*) FROM prb_cube GROUP BY problem")
        }
        (Counted::Situations, Dimension::Problem) => format!(
            "SELECT {index}, problem, CAST(SUM(n) AS BIGINT) FROM prb_cube GROUP BY problem"
        ),
        (counted, _) => {
            let column = cube_dimensions(grid, counted)
                .iter()
                .position(|d| *d == dimension)
                .unwrap_or_default();
            format!(
                "SELECT {index}, d{column}, CAST(SUM(n) AS BIGINT) FROM {cube} GROUP BY d{column}",
                cube = cube_name(counted)
            )
        }
    }
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
        let condition = |scope: &StatScope| scope_filter(scope, "s").map(|(_, c)| c);
        assert_eq!(condition(&StatScope::National).unwrap(), "1 = 1");
        assert_eq!(
            condition(&StatScope::Department("2A".into())).unwrap(),
            "p.department_code = '2A'"
        );
        assert!(condition(&StatScope::Department("07' OR '1'='1".into())).is_err());
        assert_eq!(condition(&StatScope::Posts(vec![])).unwrap(), "1 = 0");
    }
}
