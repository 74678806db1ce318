//! The statistics grid: one statement per request, whatever the number of indicators, and one
//! pass over its rows. The statement returns the period's situations (with their people and their
//! problems) and their sent hand-offs one row each, and the period's interventions grouped, and
//! `Tally` counts every indicator from those rows as they stream by: each row adds `n` to every
//! split it falls in. Memory holds the counts, not the rows (and, for a grid that counts persons
//! by problem, which person had which problem).
//!
//! Each part is one range of an index of its own table, the period and the scope applied to each:
//! the database keeps on each situation its problems and its person's previous opening, on each
//! hand-off its situation's opening, and the interventions counted by post, month, mode and kind
//! (migrations 000018 to 000020), so that no part joins to the period's situations to find its
//! rows, and the interventions of whole months are read as their counts (see `MonthSplit`).
//!
//! The statement holds no text from outside: dates, ids and bracket bounds are typed values,
//! bound (see `BoundSql`).

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{Datelike, Days, Months, NaiveDate};
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use relais_domain::disclosure::ends_a_month;
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
    let backend = conn.backend();
    let query = Typed::<PassSql> {
        sql: bound_statement(backend, grid, from, to, scope)?,
        rows: std::marker::PhantomData,
    };
    let count = |conn: &mut DbConnection| -> Result<Vec<CountRow>, StoreError> {
        let mut tally = Tally::new(grid);
        for row in query.load_iter::<PassRow, DefaultLoadingMode>(conn)? {
            tally.add(&row?);
        }
        Ok(tally.rows())
    };
    match conn {
        DbConnection::Sqlite(_) => count(conn),
        // `SET LOCAL` keeps the settings to this transaction.
        DbConnection::Postgres(_) => conn.transaction(|conn| {
            plan_settings(conn)?;
            count(conn)
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
/// - `work_mem = 32MB` (4 MB by default): a national grid's sorts and hashes (the problems by
///   person, some 40,000 rows) spilled to disk at 4 MB; a few MB each in memory.
pub fn plan_settings(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Postgres(_) = conn {
        diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
        diesel::sql_query("SET LOCAL work_mem = '32MB'").execute(conn)?;
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

// ---- One pass over each table, counted here. ----
//
// The statement returns the period's situations and hand-offs one row each, and the
// interventions already grouped (they compress: a few hundred mode × kind × month); every
// indicator is then counted here in the same loop over those rows, each row
// adding one to each split it falls in. The split values are few (a linear search over a short
// list), so the counting costs little beside the reading, where the database would sort every
// split (SQLite has no hash aggregate) and read each cube once per indicator. Memory holds the
// counts only: the rows are streamed.

/// What a row of the statement is: its first column.
const SITUATION: i32 = 0;
const INTERVENTIONS: i32 = 2;
const HAND_OFF: i32 = 3;

/// A row of the grid's statement, by position. What each column holds depends on `part`:
///
/// | part | c0 | c1 | c2 | c3 | c4 | month | penal | number | first | n | person | problems |
/// | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
/// | `SITUATION` (each) | origin | standing | principal problem | sex | known to social services | of opening | `yes`/`no` | age | 1 if its person's first of the period | 1 | the person, if persons are counted by problem | its problems' codes, comma-separated, if anything is counted by problem |
/// | `INTERVENTIONS` (by mode, kind, month; a month may come twice, kept and from the rows) | mode | kind | | | | of occurrence | | | | count | | |
/// | `HAND_OFF` (each sent) | status | result | partner kind | | | of creation, if hand-offs are counted by month | | days to answer, if counted by answer delay | | 1 | | |
#[derive(Debug, Queryable)]
struct PassRow {
    part: i32,
    c0: Option<String>,
    c1: Option<String>,
    c2: Option<String>,
    c3: Option<String>,
    c4: Option<String>,
    month: Option<String>,
    penal: Option<String>,
    number: Option<i32>,
    first: i32,
    n: i64,
    person: Option<String>,
    problems: Option<String>,
}

/// The SQL types of `PassRow`'s columns, in order.
type PassSql = (
    Integer,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Integer>,
    Integer,
    BigInt,
    Nullable<Text>,
    Nullable<Text>,
);

/// A `BoundSql` whose rows are read by position, as `ST`.
struct Typed<ST> {
    sql: BoundSql,
    rows: std::marker::PhantomData<ST>,
}

impl<ST> diesel::query_builder::QueryId for Typed<ST> {
    type QueryId = ();
    // Not static: diesel keys its cache by the text, which is what varies.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> diesel::query_builder::Query for Typed<ST> {
    type SqlType = ST;
}

impl<DB, ST> diesel::query_builder::QueryFragment<DB> for Typed<ST>
where
    DB: diesel::backend::Backend,
    BoundSql: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.sql.walk_ast(out)
    }
}

impl<Conn, ST> RunQueryDsl<Conn> for Typed<ST> {}

/// A NULL of the text columns, in the branches that leave one empty (typed, for PostgreSQL's
/// `UNION`).
const NO_TEXT: &str = "CAST(NULL AS TEXT)";

/// `1` when the situation aliased `s` is its person's first of the period (the earliest opening,
/// then the smallest id), else `0`: when the one before it, if any, opened before the period.
/// `previous_opened_on` is kept by the database from the person's situations (migration 000018),
/// so this is a filter, not a search or a sort of the period's situations. A person's situations
/// are all at their post (`situations::open`), so their first is also their first in any scope
/// made of whole posts.
fn first_of_person(from: &str) -> String {
    format!(
        "CASE WHEN s.previous_opened_on IS NULL OR s.previous_opened_on < {from} THEN 1 ELSE 0 END"
    )
}

/// A period cut at its months: the whole months it holds, read from the counts the database keeps
/// by month, and the days before the first of them and after the last, read from the rows. A part
/// that is empty is a range whose first day comes after its last (the statement's text does not
/// depend on the period, see `BoundSql`); together the three cover the period, each day once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MonthSplit {
    /// The first and last whole months, `YYYY-MM`; the first after the last when there is none.
    first_month: String,
    last_month: String,
    /// The days before the first whole month, and after the last (all of them when there is none).
    before: (NaiveDate, NaiveDate),
    after: (NaiveDate, NaiveDate),
}

impl MonthSplit {
    /// A range no day falls in, by date and as text alike (`9999-12-31` … `0000-01-01`), so
    /// that it stays empty on SQLite, which compares dates as text.
    const NO_DAYS: (NaiveDate, NaiveDate) = match (
        NaiveDate::from_ymd_opt(9999, 12, 31),
        NaiveDate::from_ymd_opt(0, 1, 1),
    ) {
        (Some(last), Some(first)) => (last, first),
        _ => panic!("both days are in chrono's calendar"),
    };

    fn of(from: NaiveDate, to: NaiveDate) -> Self {
        let month = |day: NaiveDate| day.format("%Y-%m").to_string();
        let first_of_month = |day: NaiveDate| day - Days::new(u64::from(day.day0()));
        // The first day of the first whole month, and the last day of the last one; none past the
        // calendar's ends (a period starting in its last month after the 1st holds no whole month).
        let first_whole = if from.day() == 1 {
            Some(from)
        } else {
            first_of_month(from).checked_add_months(Months::new(1))
        };
        let last_whole = if ends_a_month(to) {
            Some(to)
        } else {
            first_of_month(to).pred_opt()
        };
        match (first_whole, last_whole) {
            (Some(first), Some(last)) if first <= last => MonthSplit {
                first_month: month(first),
                last_month: month(last),
                before: first
                    .pred_opt()
                    .filter(|_| first > from)
                    .map_or(Self::NO_DAYS, |day| (from, day)),
                after: last
                    .succ_opt()
                    .filter(|_| last < to)
                    .map_or(Self::NO_DAYS, |day| (day, to)),
            },
            // No whole month: every day from the rows, and a month range that holds none.
            _ => MonthSplit {
                first_month: "1".to_owned(),
                last_month: "0".to_owned(),
                before: (from, to),
                after: Self::NO_DAYS,
            },
        }
    }
}

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
    let (from_day, to_day) = (from, to);
    let (from, to) = (bound.date(from), bound.date(to));
    let (situations_join, situations_in_scope) = bound_scope_filter(scope, "s", &mut bound)?;
    let (hand_offs_join, hand_offs_in_scope) = bound_scope_filter(scope, "h", &mut bound)?;
    // An anonymised person has no birth left: their age at each opening was kept instead.
    let age = format!(
        "CASE WHEN s.age_at_opening IS NOT NULL THEN {} ELSE {} END",
        stored_age(backend, grid.birth_year_age),
        age_years(backend, "s.opened_on", grid.birth_year_age)
    );
    let first = first_of_person(&from);
    let split_by_problem = |counted: Option<Counted>| {
        grid.indicators.iter().any(|i| {
            i.split_by == Some(Dimension::Problem) && counted.is_none_or(|c| i.counts == c)
        })
    };
    let split_by_month = |counted: Counted| {
        grid.indicators
            .iter()
            .any(|i| i.split_by == Some(Dimension::Month) && i.counts == counted)
    };
    // The columns a grid without a split by problem does not need are not read.
    let problems = if split_by_problem(None) {
        "s.problems"
    } else {
        NO_TEXT
    };
    let person = if split_by_problem(Some(Counted::Persons)) {
        "s.beneficiary_id"
    } else {
        NO_TEXT
    };
    let mut sql = format!(
        "SELECT {SITUATION} AS part, s.origin AS c0, s.standing AS c1, s.principal_problem AS c2,
               b.sex AS c3, b.known_to_social_services AS c4, {opened_month} AS month,
               CASE WHEN s.penal THEN 'yes' ELSE 'no' END AS penal, {age} AS number,
               {first} AS first, CAST(1 AS BIGINT) AS n, {person} AS person, {problems} AS problems
        FROM situations s
        JOIN beneficiaries b ON b.id = s.beneficiary_id{situations_join}
        WHERE s.opened_on >= {from} AND s.opened_on <= {to} AND {situations_in_scope}",
        opened_month = month(backend, "s.opened_on"),
    );
    // The interventions of the period's whole months are the counts the database keeps by post,
    // month, mode and kind (`intervention_months`, migration 000020): a few hundred rows already
    // grouped, in the order of their index, rather than every intervention looked up and sorted.
    // The days before the first whole month and after the last are counted from the
    // interventions. A grid's months are months of the calendar, so both give the same keys.
    let months = MonthSplit::of(from_day, to_day);
    let (first_month, last_month) = (
        bound.text(&months.first_month),
        bound.text(&months.last_month),
    );
    let (kept_join, kept_in_scope) = bound_scope_filter(scope, "im", &mut bound)?;
    let _ = write!(
        sql,
        "\n        UNION ALL SELECT {INTERVENTIONS}, mode, kind, {NO_TEXT}, {NO_TEXT}, {NO_TEXT}, \
         month, {NO_TEXT}, NULL, 0, n, {NO_TEXT}, {NO_TEXT} \
         FROM (SELECT CAST(im.mode AS TEXT) AS mode, CAST(im.kind AS TEXT) AS kind, im.month AS month, \
                      CAST(SUM(im.n) AS BIGINT) AS n \
               FROM intervention_months im{kept_join} \
               WHERE im.month >= {first_month} AND im.month <= {last_month} AND {kept_in_scope} \
               GROUP BY im.month, im.mode, im.kind) kept"
    );
    // Grouped by the month's first instant on PostgreSQL and written as text per group, not per
    // intervention (`to_char` costs more than the grouping).
    let (bucket, bucket_month) = match backend {
        Backend::Sqlite => ("substr(e.occurred_on, 1, 7)".to_owned(), "m".to_owned()),
        Backend::Postgres => (
            "date_trunc('month', CAST(e.occurred_on AS TIMESTAMP))".to_owned(),
            month(backend, "m"),
        ),
    };
    let mut edges = Vec::new();
    for (first, last) in [months.before, months.after] {
        let (first, last) = (bound.date(first), bound.date(last));
        let (join, in_scope) = bound_scope_filter(scope, "i", &mut bound)?;
        edges.push(format!(
            "SELECT i.mode, i.kind, i.occurred_on FROM interventions i{join} \
             WHERE i.occurred_on >= {first} AND i.occurred_on <= {last} AND {in_scope}"
        ));
    }
    let _ = write!(
        sql,
        "\n        UNION ALL SELECT {INTERVENTIONS}, mode, kind, {NO_TEXT}, {NO_TEXT}, {NO_TEXT}, \
         {bucket_month}, {NO_TEXT}, NULL, 0, n, {NO_TEXT}, {NO_TEXT} \
         FROM (SELECT e.mode, e.kind, {bucket} AS m, COUNT(*) AS n \
               FROM ({edges}) e \
               GROUP BY e.mode, e.kind, {bucket}) itv",
        edges = edges.join(" UNION ALL "),
    );
    // Sent hand-offs only, counted with their situation: by its opening, which the database keeps
    // on the hand-off beside its post, as it keeps the first sending and the first answer
    // (migrations 000017 and 000019); `hand_offs_sent_by_post` and `hand_offs_sent_by_opening`
    // cover the read.
    let _ = write!(
        sql,
        "\n        UNION ALL SELECT {HAND_OFF}, h.status, h.result, pa.kind, {NO_TEXT}, {NO_TEXT}, \
         {created_month}, {NO_TEXT}, {answer_days}, 0, 1, {NO_TEXT}, {NO_TEXT} \
         FROM hand_offs h JOIN partners pa ON pa.id = h.partner_id{hand_offs_join} \
         WHERE h.sent_at IS NOT NULL AND h.situation_opened_on >= {from} \
           AND h.situation_opened_on <= {to} AND {hand_offs_in_scope}",
        created_month = if split_by_month(Counted::HandOffs) {
            month(backend, "h.created_at")
        } else {
            NO_TEXT.to_owned()
        },
        answer_days = answer_days(backend, grid),
    );
    bound.text = sql;
    Ok(bound)
}

/// The counts of `grid`'s indicators, made from the statement's rows.
struct Tally<'g> {
    grid: &'g Grid,
    /// Persons, situations, interventions, hand-offs (in `COUNTED`'s order).
    totals: [i64; 4],
    /// Each indicator's counts by raw key, by the indicator's position.
    values: Vec<Vec<(Option<String>, i64)>>,
    /// Each counted thing's split indicators: position and split.
    splits: [Vec<(usize, Dimension)>; 4],
    /// Each person and problem already counted, for the persons split by problem: a person is
    /// counted once under each problem of any of their situations of the period.
    persons_with_problem: HashSet<(String, String)>,
    /// A bracket's raw key: its position, as text.
    positions: Vec<String>,
}

impl<'g> Tally<'g> {
    fn new(grid: &'g Grid) -> Self {
        let mut splits: [Vec<(usize, Dimension)>; 4] = Default::default();
        for (position, indicator) in grid.indicators.iter().enumerate() {
            if let Some(dimension) = indicator.split_by {
                splits[counted_index(indicator.counts)].push((position, dimension));
            }
        }
        let brackets = grid
            .age_brackets
            .len()
            .max(grid.answer_delay_brackets.len());
        Tally {
            grid,
            totals: [0; 4],
            values: vec![Vec::new(); grid.indicators.len()],
            splits,
            persons_with_problem: HashSet::new(),
            positions: (0..brackets).map(|i| i.to_string()).collect(),
        }
    }

    fn add(&mut self, row: &PassRow) {
        match row.part {
            SITUATION => {
                self.count(Counted::Situations, row);
                if row.first == 1 {
                    self.count(Counted::Persons, row);
                }
                self.count_problems(row);
            }
            INTERVENTIONS => self.count(Counted::Interventions, row),
            _ => self.count(Counted::HandOffs, row),
        }
    }

    /// Adds the situation `row` to the situations, and its person to the persons, under each of
    /// its problems.
    fn count_problems(&mut self, row: &PassRow) {
        let Some(problems) = row.problems.as_deref() else {
            return;
        };
        for problem in problems.split(',') {
            self.add_under_problem(Counted::Situations, problem);
            let persons_first = row.person.as_ref().is_some_and(|person| {
                self.persons_with_problem
                    .insert((person.clone(), problem.to_owned()))
            });
            if persons_first {
                self.add_under_problem(Counted::Persons, problem);
            }
        }
    }

    /// Adds one to `problem` in each of `counted`'s splits by problem.
    fn add_under_problem(&mut self, counted: Counted, problem: &str) {
        for (position, dimension) in &self.splits[counted_index(counted)] {
            if *dimension == Dimension::Problem {
                add(&mut self.values[*position], Some(problem), 1);
            }
        }
    }

    /// Adds `row` to the total of `counted` and to each of its splits, except by problem (see
    /// `count_problems`).
    fn count(&mut self, counted: Counted, row: &PassRow) {
        let index = counted_index(counted);
        self.totals[index] += row.n;
        for (position, dimension) in &self.splits[index] {
            if *dimension == Dimension::Problem {
                continue;
            }
            let key = key(self.grid, &self.positions, counted, *dimension, row);
            add(&mut self.values[*position], key, row.n);
        }
    }

    fn rows(self) -> Vec<CountRow> {
        let totals = COUNTED.into_iter().map(|counted| CountRow {
            indicator: total_marker(counted),
            k: None,
            n: self.totals[counted_index(counted)],
        });
        let values = self
            .values
            .into_iter()
            .enumerate()
            .flat_map(|(position, values)| {
                values.into_iter().map(move |(k, n)| CountRow {
                    indicator: i32::try_from(position).unwrap_or(i32::MAX),
                    k,
                    n,
                })
            });
        totals.chain(values).collect()
    }
}

fn add(values: &mut Vec<(Option<String>, i64)>, key: Option<&str>, n: i64) {
    match values.iter_mut().find(|(k, _)| k.as_deref() == key) {
        Some((_, count)) => *count += n,
        None => values.push((key.map(str::to_owned), n)),
    }
}

fn counted_index(counted: Counted) -> usize {
    match counted {
        Counted::Persons => 0,
        Counted::Situations => 1,
        Counted::Interventions => 2,
        Counted::HandOffs => 3,
    }
}

/// The raw key `row` falls under when `counted` is split by `dimension` (see `PassRow`); none for
/// no value (an unknown age, a hand-off not completed or not answered).
fn key<'a>(
    grid: &Grid,
    positions: &'a [String],
    counted: Counted,
    dimension: Dimension,
    row: &'a PassRow,
) -> Option<&'a str> {
    match (counted, dimension) {
        (_, Dimension::Month) => row.month.as_deref(),
        (Counted::Persons | Counted::Situations, dimension) => match dimension {
            Dimension::Origin => row.c0.as_deref(),
            Dimension::Standing => row.c1.as_deref(),
            Dimension::PrincipalProblem => row.c2.as_deref(),
            Dimension::Sex => row.c3.as_deref(),
            Dimension::KnownToSocialServices => row.c4.as_deref(),
            Dimension::Penal => row.penal.as_deref(),
            Dimension::AgeBracket => bracket(
                positions,
                row.number,
                grid.age_brackets
                    .iter()
                    .map(|b| (i32::from(b.min), b.max.map(i32::from))),
            ),
            _ => None,
        },
        (Counted::Interventions, Dimension::InterventionMode) => row.c0.as_deref(),
        (Counted::Interventions, Dimension::InterventionKind) => row.c1.as_deref(),
        (Counted::HandOffs, Dimension::HandOffOutcome) => row.c0.as_deref(),
        // Completed before results were coded: `unknown`; not completed: no key.
        (Counted::HandOffs, Dimension::HandOffResult) => match row.c0.as_deref() {
            Some("completed") => Some(row.c1.as_deref().unwrap_or("unknown")),
            _ => None,
        },
        (Counted::HandOffs, Dimension::PartnerKind) => row.c2.as_deref(),
        (Counted::HandOffs, Dimension::AnswerDelay) => bracket(
            positions,
            row.number,
            grid.answer_delay_brackets
                .iter()
                .map(|b| (i32::from(b.min), b.max.map(i32::from))),
        ),
        // Splits that do not apply to what is counted (the grid refuses them).
        _ => None,
    }
}

/// The raw key of the bracket `value` falls in (bounds included; no upper bound when `max` is
/// absent): its position; none outside every bracket.
fn bracket(
    positions: &[String],
    value: Option<i32>,
    mut bounds: impl Iterator<Item = (i32, Option<i32>)>,
) -> Option<&str> {
    let value = value?;
    bounds
        .position(|(min, max)| value >= min && max.is_none_or(|max| value <= max))
        .and_then(|i| positions.get(i))
        .map(String::as_str)
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

const COUNTED: [Counted; 4] = [
    Counted::Persons,
    Counted::Situations,
    Counted::Interventions,
    Counted::HandOffs,
];

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

    /// Each day of a period is read once: from the kept counts when its month is whole in the
    /// period, else from the interventions; near the calendar's ends too, where a month after the
    /// period's start may not exist.
    #[test]
    fn a_period_is_cut_at_its_whole_months_each_day_once() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let window = |start: NaiveDate, n| start.iter_days().take(n).collect::<Vec<_>>();
        let calendar_end = NaiveDate::MAX - Days::new(79);
        for days in [
            window(day(2023, 11, 1), 900),
            window(calendar_end, 80),
            window(NaiveDate::MIN, 80),
        ] {
            for (i, &from) in days.iter().enumerate().step_by(7) {
                for &to in days[i..].iter().step_by(5).take(40) {
                    each_day_once(from, to, &days);
                }
                each_day_once(from, *days.last().unwrap(), &days);
            }
        }
        let split = MonthSplit::of(day(2025, 1, 1), day(2025, 12, 31));
        assert_eq!(
            (split.first_month.as_str(), split.last_month.as_str()),
            ("2025-01", "2025-12")
        );
        assert!(split.before.0 > split.before.1 && split.after.0 > split.after.1);
        let split = MonthSplit::of(day(2025, 1, 15), day(2025, 2, 10));
        assert!(split.first_month > split.last_month);
        assert_eq!(split.before, (day(2025, 1, 15), day(2025, 2, 10)));
    }

    fn each_day_once(from: NaiveDate, to: NaiveDate, days: &[NaiveDate]) {
        let split = MonthSplit::of(from, to);
        let text = |d: NaiveDate| d.to_string();
        for &d in days.iter().filter(|d| **d >= from && **d <= to) {
            let month = d.format("%Y-%m").to_string();
            let whole = month >= split.first_month && month <= split.last_month;
            // Each range is read as dates on PostgreSQL and as text on SQLite: both must agree.
            let within = |(first, last): (NaiveDate, NaiveDate)| {
                let by_date = d >= first && d <= last;
                let by_text = text(d) >= text(first) && text(d) <= text(last);
                assert!(by_date == by_text || first > last, "{d} in {first}..{last}");
                by_date && by_text
            };
            let parts = [whole, within(split.before), within(split.after)];
            let parts = parts.iter().filter(|p| **p).count();
            assert_eq!(parts, 1, "{d} in {from}..{to}: {split:?}");
            if whole {
                let month_start = d.with_day(1).unwrap();
                let month_end = month_start
                    .checked_add_months(Months::new(1))
                    .map_or(NaiveDate::MAX, |next| next - Days::new(1));
                assert!(
                    month_start >= from && month_end <= to,
                    "{d} in {from}..{to}"
                );
            }
        }
        for (first, last) in [split.before, split.after] {
            assert!(first > last || (first >= from && last <= to), "{split:?}");
        }
        let (first, last) = (
            from.format("%Y-%m").to_string(),
            to.format("%Y-%m").to_string(),
        );
        assert!(
            split.first_month > split.last_month
                || (split.first_month >= first && split.last_month <= last)
        );
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
