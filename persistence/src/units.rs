//! Police and gendarmerie units, and the posts they work with.

use std::collections::HashMap;

use diesel::prelude::*;
use relais_domain::ids::{PostId, UnitId};
use relais_domain::post::{Unit, UnitInput};
use relais_domain::reference::CodeList;
use relais_domain::validation::Invalid;

use crate::convert::{meta, now, parse};
use crate::error::stale_or_missing;
use crate::schema::{post_units, units};
use crate::{DbConnection, Page, PageRequest, StoreError, posts};

#[derive(Queryable, Selectable)]
#[diesel(table_name = units)]
struct UnitRow {
    id: String,
    name: String,
    kind: String,
    department_code: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    version: i64,
}

impl UnitRow {
    fn into_unit(self, post_ids: Vec<PostId>) -> Result<Unit, StoreError> {
        Ok(Unit {
            id: parse("units.id", &self.id)?,
            details: UnitInput {
                name: self.name,
                kind: parse("units.kind", &self.kind)?,
                department_code: self.department_code,
                post_ids,
            },
            meta: meta(self.created_at, self.updated_at, self.version),
        })
    }
}

/// Refuses links to posts that do not exist, naming the field.
fn check_posts_exist(conn: &mut DbConnection, input: &UnitInput) -> Result<(), StoreError> {
    let missing = posts::missing(conn, &input.post_ids)?;
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
    Err(Invalid::one(
        "post_ids",
        "unknown_post",
        format!("no such post: {}", list.join(", ")),
    )
    .into())
}

fn link_posts(conn: &mut DbConnection, unit: &str, post_ids: &[PostId]) -> Result<(), StoreError> {
    for post in post_ids {
        diesel::insert_into(post_units::table)
            .values((
                post_units::unit_id.eq(unit),
                post_units::post_id.eq(post.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert(conn: &mut DbConnection, input: &UnitInput) -> Result<Unit, StoreError> {
    check_posts_exist(conn, input)?;
    let id = UnitId::generate();
    let key = id.to_string();
    let at = now();
    diesel::insert_into(units::table)
        .values((
            units::id.eq(&key),
            units::name.eq(input.name.trim()),
            units::kind.eq(input.kind.code()),
            units::department_code.eq(&input.department_code),
            units::created_at.eq(at),
            units::updated_at.eq(at),
            units::version.eq(1_i64),
        ))
        .execute(conn)?;
    link_posts(conn, &key, &input.post_ids)?;
    get(conn, id)
}

fn posts_of(
    conn: &mut DbConnection,
    unit_keys: &[String],
) -> Result<HashMap<String, Vec<PostId>>, StoreError> {
    let links: Vec<(String, String)> = post_units::table
        .filter(post_units::unit_id.eq_any(unit_keys))
        .select((post_units::unit_id, post_units::post_id))
        .order((post_units::unit_id, post_units::post_id))
        .load(conn)?;
    let mut by_unit: HashMap<String, Vec<PostId>> = HashMap::new();
    for (unit, post) in links {
        by_unit
            .entry(unit)
            .or_default()
            .push(parse("post_units.post_id", &post)?);
    }
    Ok(by_unit)
}

pub fn get(conn: &mut DbConnection, id: UnitId) -> Result<Unit, StoreError> {
    let key = id.to_string();
    let row: UnitRow = units::table
        .find(&key)
        .select(UnitRow::as_select())
        .first(conn)?;
    let mut posts = posts_of(conn, std::slice::from_ref(&key))?;
    row.into_unit(posts.remove(&key).unwrap_or_default())
}

/// Whether `unit` works with `post`.
pub fn works_with(conn: &mut DbConnection, unit: UnitId, post: PostId) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        post_units::table
            .filter(post_units::unit_id.eq(unit.to_string()))
            .filter(post_units::post_id.eq(post.to_string())),
    ))
    .get_result(conn)?)
}

/// Units newest first; with `post`, only the units that work with it.
pub fn list(
    conn: &mut DbConnection,
    post: Option<PostId>,
    page: &PageRequest,
) -> Result<Page<Unit>, StoreError> {
    let mut query = units::table.select(UnitRow::as_select()).into_boxed();
    if let Some(post) = post {
        query = query.filter(
            units::id.eq_any(
                post_units::table
                    .filter(post_units::post_id.eq(post.to_string()))
                    .select(post_units::unit_id),
            ),
        );
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(units::id.lt(cursor));
    }
    let rows: Vec<UnitRow> = query
        .order(units::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let keys: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut posts = posts_of(conn, &keys)?;
    let units = rows
        .into_iter()
        .map(|row| {
            let linked = posts.remove(&row.id).unwrap_or_default();
            row.into_unit(linked)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(units, page.limit, |u| {
        u.id.to_string()
    }))
}

/// Replaces a unit and its links to posts if it is still at `expected_version`.
pub fn replace(
    conn: &mut DbConnection,
    id: UnitId,
    expected_version: i64,
    input: &UnitInput,
) -> Result<Unit, StoreError> {
    let key = id.to_string();
    let changed = diesel::update(
        units::table
            .find(&key)
            .filter(units::version.eq(expected_version)),
    )
    .set((
        units::name.eq(input.name.trim()),
        units::kind.eq(input.kind.code()),
        units::department_code.eq(&input.department_code),
        units::updated_at.eq(now()),
        units::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = units::table
            .find(&key)
            .select(units::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    check_posts_exist(conn, input)?;
    diesel::delete(post_units::table.filter(post_units::unit_id.eq(&key))).execute(conn)?;
    link_posts(conn, &key, &input.post_ids)?;
    get(conn, id)
}
