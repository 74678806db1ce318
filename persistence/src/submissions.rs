//! Submitted statistics: frozen, versioned copies of a post's grid for a period. Rows are only
//! ever inserted (a trigger refuses updates); the grid and its differences are stored as the
//! JSON the API answers, so that what was submitted is read back byte for byte.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use relais_domain::ids::{PostId, SubmissionId};
use relais_domain::submission::Submission;

use crate::convert::{parse, stored};
use crate::schema::{posts, statistics_submissions as submissions};
use crate::statistics::StatScope;
use crate::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = submissions)]
struct SubmissionRow {
    id: String,
    post_id: String,
    grid: String,
    period_from: NaiveDate,
    period_to: NaiveDate,
    version: i64,
    submitted_at: NaiveDateTime,
    submitted_by: String,
    statistics: String,
    differences: String,
}

impl TryFrom<SubmissionRow> for Submission {
    type Error = StoreError;
    fn try_from(row: SubmissionRow) -> Result<Self, StoreError> {
        let json = |column: &str, text: &str| {
            StoreError::Corrupt(format!("statistics_submissions.{column} of {text}"))
        };
        Ok(Submission {
            id: parse("statistics_submissions.id", &row.id)?,
            post_id: parse("statistics_submissions.post_id", &row.post_id)?,
            version: row.version,
            grid: row.grid,
            from: row.period_from,
            to: row.period_to,
            submitted_at: row.submitted_at.and_utc(),
            submitted_by: row.submitted_by,
            differences: serde_json::from_str(&row.differences)
                .map_err(|_| json("differences", &row.id))?,
            statistics: serde_json::from_str(&row.statistics)
                .map_err(|_| json("statistics", &row.id))?,
        })
    }
}

/// Stores a new version; a version already taken (two submissions at once) is a `Conflict`.
pub fn insert(conn: &mut DbConnection, submission: &Submission) -> Result<(), StoreError> {
    let encode = |e: serde_json::Error| StoreError::Corrupt(format!("submission as JSON: {e}"));
    let row = SubmissionRow {
        id: submission.id.to_string(),
        post_id: submission.post_id.to_string(),
        grid: submission.grid.clone(),
        period_from: submission.from,
        period_to: submission.to,
        version: submission.version,
        submitted_at: stored(submission.submitted_at),
        submitted_by: submission.submitted_by.clone(),
        statistics: serde_json::to_string(&submission.statistics).map_err(encode)?,
        differences: serde_json::to_string(&submission.differences).map_err(encode)?,
    };
    diesel::insert_into(submissions::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// One submission by its id.
pub fn get(conn: &mut DbConnection, id: SubmissionId) -> Result<Submission, StoreError> {
    submissions::table
        .find(id.to_string())
        .select(SubmissionRow::as_select())
        .first(conn)?
        .try_into()
}

/// The latest version a post submitted for a grid version and a period, if any.
pub fn latest(
    conn: &mut DbConnection,
    post: PostId,
    grid: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Submission>, StoreError> {
    submissions::table
        .filter(submissions::post_id.eq(post.to_string()))
        .filter(submissions::grid.eq(grid))
        .filter(submissions::period_from.eq(from))
        .filter(submissions::period_to.eq(to))
        .order(submissions::version.desc())
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()?
        .map(Submission::try_from)
        .transpose()
}

/// Every submission of a post, newest period first, then newest version first. A post submits
/// a handful a year, so the list is not paged.
pub fn of_post(conn: &mut DbConnection, post: PostId) -> Result<Vec<Submission>, StoreError> {
    submissions::table
        .filter(submissions::post_id.eq(post.to_string()))
        .order((
            submissions::period_from.desc(),
            submissions::period_to.desc(),
            submissions::grid.desc(),
            submissions::version.desc(),
        ))
        .select(SubmissionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Submission::try_from)
        .collect()
}

/// A post of a scope, as listed beside the submissions for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedPost {
    pub id: PostId,
    pub name: String,
    pub department_code: String,
}

/// The posts of a scope, by id.
pub fn posts_of(conn: &mut DbConnection, scope: &StatScope) -> Result<Vec<ScopedPost>, StoreError> {
    let mut query = posts::table
        .select((posts::id, posts::name, posts::department_code))
        .order(posts::id)
        .into_boxed();
    query = match scope {
        StatScope::National => query,
        StatScope::Department(code) => query.filter(posts::department_code.eq(code.clone())),
        StatScope::Posts(ids) => {
            query.filter(posts::id.eq_any(ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
        }
    };
    query
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, department_code)| {
            Ok(ScopedPost {
                id: parse("posts.id", &id)?,
                name,
                department_code,
            })
        })
        .collect()
}

/// For each post of `scope`, the latest version it submitted for exactly this grid version and
/// period (`None` for a post that submitted none).
pub fn latest_in_scope(
    conn: &mut DbConnection,
    scope: &StatScope,
    grid: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(ScopedPost, Option<Submission>)>, StoreError> {
    let posts = posts_of(conn, scope)?;
    let ids: Vec<String> = posts.iter().map(|p| p.id.to_string()).collect();
    // Every version of the period, the latest of each post first: a post has a few at most.
    let rows: Vec<SubmissionRow> = submissions::table
        .filter(submissions::grid.eq(grid))
        .filter(submissions::period_from.eq(from))
        .filter(submissions::period_to.eq(to))
        .filter(submissions::post_id.eq_any(&ids))
        .order((submissions::post_id, submissions::version.desc()))
        .select(SubmissionRow::as_select())
        .load(conn)?;
    let mut latest: Vec<Submission> = Vec::new();
    for row in rows {
        if latest
            .last()
            .is_none_or(|s| s.post_id.to_string() != row.post_id)
        {
            latest.push(row.try_into()?);
        }
    }
    Ok(posts
        .into_iter()
        .map(|post| {
            let found = latest.iter().position(|s| s.post_id == post.id);
            let submission = found.map(|i| latest.swap_remove(i));
            (post, submission)
        })
        .collect())
}
