//! The partner directory.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use relais_domain::ids::PartnerId;
use relais_domain::partner::PartnerInput;
use relais_domain::reference::{CodeList, PartnerKind, ProblemCategory};
use relais_domain::validation::department_of_commune;

use crate::codes::{contains_pattern, join, split};
use crate::convert::{meta, now, parse};
use crate::error::stale_or_missing;
use crate::schema::partners;
use crate::{DbConnection, Page, PageRequest, StoreError};

pub use relais_domain::partner::Partner;

#[derive(Queryable, Selectable)]
#[diesel(table_name = partners)]
struct PartnerRow {
    id: String,
    name: String,
    kind: String,
    siret: Option<String>,
    department_codes: String,
    commune_codes: String,
    themes: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = partners, treat_none_as_null = true, treat_none_as_default_value = false)]
struct PartnerForm<'a> {
    name: &'a str,
    kind: &'a str,
    siret: Option<&'a str>,
    department_codes: String,
    commune_codes: String,
    themes: String,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    address: Option<&'a str>,
}

impl<'a> PartnerForm<'a> {
    fn of(input: &'a PartnerInput) -> Self {
        Self {
            name: input.name.trim(),
            kind: input.kind.code(),
            siret: input.siret.as_deref(),
            department_codes: join(&input.department_codes),
            commune_codes: join(&input.commune_codes),
            themes: join(&input.themes),
            email: input.email.as_deref(),
            phone: input.phone.as_deref(),
            address: input.address.as_deref(),
        }
    }
}

impl TryFrom<PartnerRow> for Partner {
    type Error = StoreError;
    fn try_from(row: PartnerRow) -> Result<Self, StoreError> {
        Ok(Partner {
            id: parse("partners.id", &row.id)?,
            details: PartnerInput {
                name: row.name,
                kind: parse("partners.kind", &row.kind)?,
                siret: row.siret,
                department_codes: split("partners.department_codes", &row.department_codes)?,
                commune_codes: split("partners.commune_codes", &row.commune_codes)?,
                themes: split("partners.themes", &row.themes)?,
                email: row.email,
                phone: row.phone,
                address: row.address,
            },
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

pub fn insert(conn: &mut DbConnection, input: &PartnerInput) -> Result<Partner, StoreError> {
    let id = PartnerId::generate();
    let at = now();
    diesel::insert_into(partners::table)
        .values((
            partners::id.eq(id.to_string()),
            PartnerForm::of(input),
            partners::created_at.eq(at),
            partners::updated_at.eq(at),
            partners::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: PartnerId) -> Result<Partner, StoreError> {
    partners::table
        .find(id.to_string())
        .select(PartnerRow::as_select())
        .first(conn)?
        .try_into()
}

/// What a directory search may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    pub theme: Option<ProblemCategory>,
    /// Partners serving this commune: listed among their communes, or covering its department
    /// when they list no commune.
    pub commune_code: Option<String>,
    pub department_code: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &PartnerFilter,
    page: &PageRequest,
) -> Result<Page<Partner>, StoreError> {
    let mut query = partners::table.select(PartnerRow::as_select()).into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(partners::kind.eq(kind.code()));
    }
    if let Some(theme) = filter.theme {
        query = query.filter(partners::themes.like(contains_pattern(theme.code())));
    }
    if let Some(department) = &filter.department_code {
        query = query.filter(partners::department_codes.like(contains_pattern(department)));
    }
    if let Some(commune) = &filter.commune_code {
        let department = department_of_commune(commune);
        query = query.filter(
            partners::commune_codes
                .like(contains_pattern(commune))
                .or(partners::commune_codes
                    .eq("")
                    .and(partners::department_codes.like(contains_pattern(department)))),
        );
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(partners::id.lt(cursor));
    }
    let rows = query
        .order(partners::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(Partner::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |p| {
        p.id.to_string()
    }))
}

pub fn replace(
    conn: &mut DbConnection,
    id: PartnerId,
    expected_version: i64,
    input: &PartnerInput,
) -> Result<Partner, StoreError> {
    let key = id.to_string();
    let changed = diesel::update(
        partners::table
            .find(&key)
            .filter(partners::version.eq(expected_version)),
    )
    .set((
        PartnerForm::of(input),
        partners::updated_at.eq(now()),
        partners::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = partners::table
            .find(&key)
            .select(partners::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    get(conn, id)
}
