//! The observatory's side of national consolidation: the sending instances it trusts, and the
//! posts' submissions it imported from their verified documents.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::consolidation::{ExportPayload, ExportedPost, Instance};
use relais_domain::ids::{PostId, SubmissionId};
use relais_domain::statistics::Statistics;

use crate::convert::{parse, stored};
use crate::schema::{imported_submissions as imported, statistics_instances as instances};
use crate::statistics::StatScope;
use crate::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = instances)]
struct InstanceRow {
    id: String,
    name: String,
    public_key: String,
    registered_at: NaiveDateTime,
    registered_by: String,
}

impl From<InstanceRow> for Instance {
    fn from(row: InstanceRow) -> Self {
        Instance {
            id: row.id,
            name: row.name,
            public_key: row.public_key,
            registered_at: row.registered_at.and_utc(),
            registered_by: row.registered_by,
        }
    }
}

/// Registers a sending instance; an id already registered is a `Conflict`.
pub fn register(conn: &mut DbConnection, instance: &Instance) -> Result<Instance, StoreError> {
    diesel::insert_into(instances::table)
        .values(InstanceRow {
            id: instance.id.clone(),
            name: instance.name.clone(),
            public_key: instance.public_key.clone(),
            registered_at: stored(instance.registered_at),
            registered_by: instance.registered_by.clone(),
        })
        .execute(conn)?;
    instance_of(conn, &instance.id)
}

/// The registered instance `id`.
pub fn instance_of(conn: &mut DbConnection, id: &str) -> Result<Instance, StoreError> {
    Ok(instances::table
        .find(id)
        .select(InstanceRow::as_select())
        .first(conn)?
        .into())
}

/// Every registered instance, by id.
pub fn instances(conn: &mut DbConnection) -> Result<Vec<Instance>, StoreError> {
    Ok(instances::table
        .order(instances::id)
        .select(InstanceRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Instance::from)
        .collect())
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = imported)]
struct ImportedRow {
    id: String,
    instance_id: String,
    post_id: String,
    post_name: String,
    department_code: String,
    grid: String,
    period_from: NaiveDate,
    period_to: NaiveDate,
    version: i64,
    submitted_at: NaiveDateTime,
    statistics: String,
    imported_at: NaiveDateTime,
}

/// What importing did with one post's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// Stored now.
    New,
    /// The same version with the same figures was imported before: nothing changed.
    Unchanged,
}

/// Imports the posts of a verified payload. A version imported before with other figures is a
/// `Conflict` (the whole import is refused: the caller's transaction rolls back).
pub fn import(
    conn: &mut DbConnection,
    payload: &ExportPayload,
    now: DateTime<Utc>,
) -> Result<Vec<(PostId, Imported)>, StoreError> {
    let mut outcomes = Vec::new();
    for post in &payload.posts {
        let figures = serde_json::to_string(&post.statistics)
            .map_err(|e| StoreError::Corrupt(format!("figures as JSON: {e}")))?;
        let before: Option<String> = imported::table
            .filter(imported::instance_id.eq(&payload.instance))
            .filter(imported::post_id.eq(post.post_id.to_string()))
            .filter(imported::grid.eq(&payload.grid))
            .filter(imported::period_from.eq(payload.from))
            .filter(imported::period_to.eq(payload.to))
            .filter(imported::version.eq(post.version))
            .select(imported::statistics)
            .first(conn)
            .optional()?;
        let outcome = match before {
            Some(same) if same == figures => Imported::Unchanged,
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "version {} of post {} was imported before with other figures",
                    post.version, post.post_id
                )));
            }
            None => {
                diesel::insert_into(imported::table)
                    .values(ImportedRow {
                        id: SubmissionId::generate().to_string(),
                        instance_id: payload.instance.clone(),
                        post_id: post.post_id.to_string(),
                        post_name: post.name.clone(),
                        department_code: post.department_code.clone(),
                        grid: payload.grid.clone(),
                        period_from: payload.from,
                        period_to: payload.to,
                        version: post.version,
                        submitted_at: stored(post.submitted_at),
                        statistics: figures,
                        imported_at: stored(now),
                    })
                    .execute(conn)?;
                Imported::New
            }
        };
        outcomes.push((post.post_id, outcome));
    }
    Ok(outcomes)
}

/// A post of another instance, known from its imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPost {
    pub instance_id: String,
    pub post_id: PostId,
    pub name: String,
    pub department_code: String,
}

/// For each post of `scope` known from any import, its latest imported version for exactly this
/// grid version and period (`None` for a post that sent none), as the document gave it.
pub fn latest_in_scope(
    conn: &mut DbConnection,
    scope: &StatScope,
    grid: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(KnownPost, Option<ExportedPost>)>, StoreError> {
    let scoped = || {
        let query = imported::table.into_boxed();
        match scope {
            StatScope::National => query,
            StatScope::Department(code) => query.filter(imported::department_code.eq(code.clone())),
            StatScope::Posts(ids) => query.filter(
                imported::post_id.eq_any(ids.iter().map(ToString::to_string).collect::<Vec<_>>()),
            ),
        }
    };
    // The posts as their latest import names them.
    let known: Vec<(String, String, String, String)> = scoped()
        .order((
            imported::instance_id,
            imported::post_id,
            imported::imported_at.desc(),
        ))
        .select((
            imported::instance_id,
            imported::post_id,
            imported::post_name,
            imported::department_code,
        ))
        .load(conn)?;
    let mut posts: Vec<KnownPost> = Vec::new();
    for (instance_id, post_id, name, department_code) in known {
        let post_id: PostId = parse("imported_submissions.post_id", &post_id)?;
        if posts
            .last()
            .is_none_or(|p| p.instance_id != instance_id || p.post_id != post_id)
        {
            posts.push(KnownPost {
                instance_id,
                post_id,
                name,
                department_code,
            });
        }
    }
    let rows: Vec<ImportedRow> = scoped()
        .filter(imported::grid.eq(grid))
        .filter(imported::period_from.eq(from))
        .filter(imported::period_to.eq(to))
        .order((
            imported::instance_id,
            imported::post_id,
            imported::version.desc(),
        ))
        .select(ImportedRow::as_select())
        .load(conn)?;
    let mut latest: Vec<(String, ExportedPost)> = Vec::new();
    for row in rows {
        let post_id: PostId = parse("imported_submissions.post_id", &row.post_id)?;
        if latest
            .last()
            .is_some_and(|(i, p)| *i == row.instance_id && p.post_id == post_id)
        {
            continue;
        }
        let statistics: Statistics = serde_json::from_str(&row.statistics).map_err(|_| {
            StoreError::Corrupt(format!("imported_submissions.statistics of {}", row.id))
        })?;
        latest.push((
            row.instance_id,
            ExportedPost {
                post_id,
                name: row.post_name,
                department_code: row.department_code,
                version: row.version,
                submitted_at: row.submitted_at.and_utc(),
                statistics,
            },
        ));
    }
    Ok(posts
        .into_iter()
        .map(|post| {
            let found = latest
                .iter()
                .position(|(i, p)| *i == post.instance_id && p.post_id == post.post_id);
            let figures = found.map(|i| latest.swap_remove(i).1);
            (post, figures)
        })
        .collect())
}
