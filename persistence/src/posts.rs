//! Posts.

use diesel::prelude::*;
use relais_domain::ids::PostId;
use relais_domain::post::{Post, PostInput};
use relais_domain::reference::CodeList;

use crate::convert::{meta, now, parse};
use crate::error::stale_or_missing;
use crate::schema::posts;
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = posts)]
struct PostRow {
    id: String,
    name: String,
    kind: String,
    department_code: String,
    employer: String,
    convention: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    version: i64,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = posts)]
struct PostForm<'a> {
    name: &'a str,
    kind: &'a str,
    department_code: &'a str,
    employer: &'a str,
    convention: &'a str,
}

impl<'a> PostForm<'a> {
    fn of(input: &'a PostInput) -> Self {
        Self {
            name: input.name.trim(),
            kind: input.kind.code(),
            department_code: &input.department_code,
            employer: input.employer.trim(),
            convention: input.convention.code(),
        }
    }
}

impl TryFrom<PostRow> for Post {
    type Error = StoreError;
    fn try_from(row: PostRow) -> Result<Self, StoreError> {
        Ok(Post {
            id: parse("posts.id", &row.id)?,
            details: PostInput {
                name: row.name,
                kind: parse("posts.kind", &row.kind)?,
                department_code: row.department_code,
                employer: row.employer,
                convention: parse("posts.convention", &row.convention)?,
            },
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

pub fn insert(conn: &mut DbConnection, input: &PostInput) -> Result<Post, StoreError> {
    let id = PostId::generate().to_string();
    let at = now();
    diesel::insert_into(posts::table)
        .values((
            posts::id.eq(&id),
            PostForm::of(input),
            posts::created_at.eq(at),
            posts::updated_at.eq(at),
            posts::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id.parse().map_err(|_| StoreError::Corrupt(id))?)
}

pub fn get(conn: &mut DbConnection, id: PostId) -> Result<Post, StoreError> {
    posts::table
        .find(id.to_string())
        .select(PostRow::as_select())
        .first(conn)?
        .try_into()
}

/// Whether each of `ids` names a post; returns the ones that do not.
pub fn missing(conn: &mut DbConnection, ids: &[PostId]) -> Result<Vec<PostId>, StoreError> {
    let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let found: Vec<String> = posts::table
        .filter(posts::id.eq_any(&wanted))
        .select(posts::id)
        .load(conn)?;
    Ok(ids
        .iter()
        .filter(|id| !found.contains(&id.to_string()))
        .copied()
        .collect())
}

/// Posts newest first; `only` restricts the list to those posts.
pub fn list(
    conn: &mut DbConnection,
    only: Option<&[PostId]>,
    page: &PageRequest,
) -> Result<Page<Post>, StoreError> {
    let mut query = posts::table.select(PostRow::as_select()).into_boxed();
    if let Some(ids) = only {
        query =
            query.filter(posts::id.eq_any(ids.iter().map(ToString::to_string).collect::<Vec<_>>()));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(posts::id.lt(cursor));
    }
    let rows = query
        .order(posts::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let posts = rows
        .into_iter()
        .map(Post::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(posts, page.limit, |p| {
        p.id.to_string()
    }))
}

/// Replaces a post's description if it is still at `expected_version`.
pub fn replace(
    conn: &mut DbConnection,
    id: PostId,
    expected_version: i64,
    input: &PostInput,
) -> Result<Post, StoreError> {
    let key = id.to_string();
    let changed = diesel::update(
        posts::table
            .find(&key)
            .filter(posts::version.eq(expected_version)),
    )
    .set((
        PostForm::of(input),
        posts::updated_at.eq(now()),
        posts::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = posts::table
            .find(&key)
            .select(posts::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    get(conn, id)
}
