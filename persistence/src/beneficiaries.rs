//! People received by posts.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::beneficiary::{Beneficiary, BeneficiaryInput};
use relais_domain::ids::{BeneficiaryId, PostId, SituationId};
use relais_domain::reference::CodeList;

use crate::convert::{meta, parse, stored};
use crate::error::stale_or_missing;
use crate::schema::{beneficiaries, situations};
use crate::sealing::{self, BENEFICIARY_FIRST_NAME, BENEFICIARY_LAST_NAME, BENEFICIARY_PHONE};
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = beneficiaries)]
struct BeneficiaryRow {
    id: String,
    post_id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    birth_date: Option<NaiveDate>,
    birth_year: Option<i32>,
    sex: String,
    commune_code: Option<String>,
    phone: Option<String>,
    known_to_social_services: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
    anonymised_at: Option<NaiveDateTime>,
}

/// The identity columns. `None` is written as NULL: a replaced identity forgets what it no longer says.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = beneficiaries, treat_none_as_null = true, treat_none_as_default_value = false)]
struct IdentityForm<'a> {
    first_name: Option<String>,
    last_name: Option<String>,
    birth_date: Option<NaiveDate>,
    birth_year: Option<i32>,
    sex: &'a str,
    commune_code: Option<&'a str>,
    phone: Option<String>,
    known_to_social_services: &'a str,
}

impl<'a> IdentityForm<'a> {
    /// The identity of the person `id`, names and phone sealed.
    fn of(id: &str, input: &'a BeneficiaryInput) -> Result<Self, StoreError> {
        let sealed = |column, value: &Option<String>| {
            sealing::seal_opt(column, id, value.as_deref().map(str::trim))
        };
        Ok(Self {
            first_name: sealed(BENEFICIARY_FIRST_NAME, &input.first_name)?,
            last_name: sealed(BENEFICIARY_LAST_NAME, &input.last_name)?,
            birth_date: input.birth_date,
            // Stored even when only the date was given, so that age brackets need one column.
            birth_year: input.birth().year,
            sex: input.sex.code(),
            commune_code: input.commune_code.as_deref(),
            phone: sealed(BENEFICIARY_PHONE, &input.phone)?,
            known_to_social_services: input.known_to_social_services.code(),
        })
    }
}

impl TryFrom<BeneficiaryRow> for Beneficiary {
    type Error = StoreError;
    fn try_from(row: BeneficiaryRow) -> Result<Self, StoreError> {
        Ok(Beneficiary {
            id: parse("beneficiaries.id", &row.id)?,
            post_id: parse("beneficiaries.post_id", &row.post_id)?,
            identity: BeneficiaryInput {
                first_name: sealing::open_opt(BENEFICIARY_FIRST_NAME, &row.id, row.first_name)?,
                last_name: sealing::open_opt(BENEFICIARY_LAST_NAME, &row.id, row.last_name)?,
                birth_date: row.birth_date,
                birth_year: row.birth_year,
                sex: parse("beneficiaries.sex", &row.sex)?,
                commune_code: row.commune_code,
                phone: sealing::open_opt(BENEFICIARY_PHONE, &row.id, row.phone)?,
                known_to_social_services: parse(
                    "beneficiaries.known_to_social_services",
                    &row.known_to_social_services,
                )?,
            },
            anonymised_at: row.anonymised_at.map(|at| at.and_utc()),
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// Records a person at `post`. The caller has validated the input and the access.
pub fn insert(
    conn: &mut DbConnection,
    post: PostId,
    input: &BeneficiaryInput,
    at: DateTime<Utc>,
) -> Result<Beneficiary, StoreError> {
    let id = BeneficiaryId::generate();
    let key = id.to_string();
    let at = stored(at);
    diesel::insert_into(beneficiaries::table)
        .values((
            beneficiaries::id.eq(&key),
            beneficiaries::post_id.eq(post.to_string()),
            IdentityForm::of(&key, input)?,
            beneficiaries::created_at.eq(at),
            beneficiaries::updated_at.eq(at),
            beneficiaries::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: BeneficiaryId) -> Result<Beneficiary, StoreError> {
    beneficiaries::table
        .find(id.to_string())
        .select(BeneficiaryRow::as_select())
        .first(conn)?
        .try_into()
}

/// The people of many situations (those of a page of hand-offs) in one query, by situation.
pub fn of_situations(
    conn: &mut DbConnection,
    ids: &[SituationId],
) -> Result<HashMap<SituationId, Beneficiary>, StoreError> {
    let rows: Vec<(String, BeneficiaryRow)> = situations::table
        .inner_join(beneficiaries::table)
        .filter(situations::id.eq_any(ids.iter().map(ToString::to_string).collect::<Vec<_>>()))
        .select((situations::id, BeneficiaryRow::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|(situation, row)| Ok((parse("situations.id", &situation)?, row.try_into()?)))
        .collect()
}

/// People of the given posts, newest first.
pub fn list(
    conn: &mut DbConnection,
    posts: &[PostId],
    page: &PageRequest,
) -> Result<Page<Beneficiary>, StoreError> {
    let keys: Vec<String> = posts.iter().map(ToString::to_string).collect();
    let mut query = beneficiaries::table
        .select(BeneficiaryRow::as_select())
        .filter(beneficiaries::post_id.eq_any(keys))
        .into_boxed();
    if let Some(cursor) = &page.cursor {
        query = query.filter(beneficiaries::id.lt(cursor));
    }
    let rows = query
        .order(beneficiaries::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let people = rows
        .into_iter()
        .map(Beneficiary::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(people, page.limit, |b| {
        b.id.to_string()
    }))
}

/// Replaces a person's identity if the record is still at `expected_version`.
pub fn replace(
    conn: &mut DbConnection,
    id: BeneficiaryId,
    expected_version: i64,
    input: &BeneficiaryInput,
    at: DateTime<Utc>,
) -> Result<Beneficiary, StoreError> {
    let key = id.to_string();
    let changed = diesel::update(
        beneficiaries::table
            .find(&key)
            .filter(beneficiaries::version.eq(expected_version)),
    )
    .set((
        IdentityForm::of(&key, input)?,
        beneficiaries::updated_at.eq(stored(at)),
        beneficiaries::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = beneficiaries::table
            .find(&key)
            .select(beneficiaries::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    get(conn, id)
}
