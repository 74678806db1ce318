//! Incoming referrals.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::ids::{PartnerId, PostId, ReferralId, SituationId, UnitId};
use relais_domain::reference::{CodeList, NoFollowUpReason, ReferralStatus};
use relais_domain::referral::{Referral, ReferralInput, ReferralSender, ReferredPerson};

use crate::convert::{meta, parse, parse_opt, stored};
use crate::error::stale_or_missing;
use crate::schema::referrals;
use crate::sealing::{
    self, REFERRAL_FIRST_NAME, REFERRAL_LAST_NAME, REFERRAL_PHONE, REFERRAL_REASON,
};
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = referrals)]
struct ReferralRow {
    id: String,
    post_id: String,
    sender_role: String,
    sender_subject: String,
    sender_unit_id: Option<String>,
    sender_partner_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    birth_year: Option<i32>,
    sex: String,
    commune_code: Option<String>,
    reason: String,
    agreed_to_be_contacted: bool,
    status: String,
    no_follow_up_reason: Option<String>,
    situation_id: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<ReferralRow> for Referral {
    type Error = StoreError;
    fn try_from(row: ReferralRow) -> Result<Self, StoreError> {
        Ok(Referral {
            id: parse("referrals.id", &row.id)?,
            post_id: parse("referrals.post_id", &row.post_id)?,
            sender: ReferralSender {
                role: parse("referrals.sender_role", &row.sender_role)?,
                subject: row.sender_subject,
                unit_id: parse_opt("referrals.sender_unit_id", row.sender_unit_id.as_deref())?,
                partner_id: parse_opt(
                    "referrals.sender_partner_id",
                    row.sender_partner_id.as_deref(),
                )?,
            },
            person: ReferredPerson {
                first_name: sealing::open_opt(REFERRAL_FIRST_NAME, &row.id, row.first_name)?,
                last_name: sealing::open_opt(REFERRAL_LAST_NAME, &row.id, row.last_name)?,
                phone: sealing::open_opt(REFERRAL_PHONE, &row.id, row.phone)?,
                birth_year: row.birth_year,
                sex: parse("referrals.sex", &row.sex)?,
                commune_code: row.commune_code,
            },
            reason: sealing::open(REFERRAL_REASON, &row.id, &row.reason)?,
            agreed_to_be_contacted: row.agreed_to_be_contacted,
            status: parse("referrals.status", &row.status)?,
            no_follow_up_reason: parse_opt(
                "referrals.no_follow_up_reason",
                row.no_follow_up_reason.as_deref(),
            )?,
            situation_id: parse_opt("referrals.situation_id", row.situation_id.as_deref())?,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// Records a referral as received. The caller has validated it and checked the sender.
pub fn insert(
    conn: &mut DbConnection,
    input: &ReferralInput,
    sender: &ReferralSender,
    at: DateTime<Utc>,
) -> Result<Referral, StoreError> {
    let id = ReferralId::generate();
    let key = id.to_string();
    let at = stored(at);
    let p = &input.person;
    let sealed = |column, value: &Option<String>| {
        sealing::seal_opt(column, &key, value.as_deref().map(str::trim))
    };
    diesel::insert_into(referrals::table)
        .values((
            referrals::id.eq(&key),
            referrals::post_id.eq(input.post_id.to_string()),
            referrals::sender_role.eq(sender.role.code()),
            referrals::sender_subject.eq(&sender.subject),
            referrals::sender_unit_id.eq(sender.unit_id.map(|u| u.to_string())),
            referrals::sender_partner_id.eq(sender.partner_id.map(|p| p.to_string())),
            referrals::first_name.eq(sealed(REFERRAL_FIRST_NAME, &p.first_name)?),
            referrals::last_name.eq(sealed(REFERRAL_LAST_NAME, &p.last_name)?),
            referrals::phone.eq(sealed(REFERRAL_PHONE, &p.phone)?),
            referrals::birth_year.eq(p.birth_year),
            referrals::sex.eq(p.sex.code()),
            referrals::commune_code.eq(p.commune_code.as_deref()),
            referrals::reason.eq(sealing::seal(REFERRAL_REASON, &key, input.reason.trim())?),
            referrals::agreed_to_be_contacted.eq(input.agreed_to_be_contacted),
            referrals::status.eq(ReferralStatus::Received.code()),
            referrals::created_at.eq(at),
            referrals::updated_at.eq(at),
            referrals::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: ReferralId) -> Result<Referral, StoreError> {
    referrals::table
        .find(id.to_string())
        .select(ReferralRow::as_select())
        .first(conn)?
        .try_into()
}

/// Whose referrals a list shows.
#[derive(Debug, Clone)]
pub enum ReferralScope {
    Posts(Vec<PostId>),
    Unit(UnitId),
    Partner(PartnerId),
}

pub fn list(
    conn: &mut DbConnection,
    scope: &ReferralScope,
    status: Option<ReferralStatus>,
    page: &PageRequest,
) -> Result<Page<Referral>, StoreError> {
    let mut query = referrals::table
        .select(ReferralRow::as_select())
        .into_boxed();
    query = match scope {
        ReferralScope::Posts(posts) => query.filter(
            referrals::post_id.eq_any(posts.iter().map(ToString::to_string).collect::<Vec<_>>()),
        ),
        ReferralScope::Unit(unit) => query.filter(referrals::sender_unit_id.eq(unit.to_string())),
        ReferralScope::Partner(partner) => {
            query.filter(referrals::sender_partner_id.eq(partner.to_string()))
        }
    };
    if let Some(status) = status {
        query = query.filter(referrals::status.eq(status.code()));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(referrals::id.lt(cursor));
    }
    let rows = query
        .order(referrals::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(Referral::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |r| {
        r.id.to_string()
    }))
}

/// Stores a new status (with its reason or situation) if the referral is still at `expected_version`.
pub fn set_status(
    conn: &mut DbConnection,
    id: ReferralId,
    expected_version: i64,
    status: ReferralStatus,
    reason: Option<NoFollowUpReason>,
    situation: Option<SituationId>,
    at: DateTime<Utc>,
) -> Result<Referral, StoreError> {
    let key = id.to_string();
    let changed = diesel::update(
        referrals::table
            .find(&key)
            .filter(referrals::version.eq(expected_version)),
    )
    .set((
        referrals::status.eq(status.code()),
        referrals::no_follow_up_reason.eq(reason.map(CodeList::code)),
        referrals::situation_id.eq(situation.map(|s| s.to_string())),
        referrals::updated_at.eq(stored(at)),
        referrals::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let current = referrals::table
            .find(&key)
            .select(referrals::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(current));
    }
    get(conn, id)
}

/// The referrals taken up into any of `situations`, oldest first (for a person's export).
pub fn of_situations(
    conn: &mut DbConnection,
    situations: &[SituationId],
) -> Result<Vec<Referral>, StoreError> {
    let ids: Vec<String> = situations.iter().map(ToString::to_string).collect();
    referrals::table
        .select(ReferralRow::as_select())
        .filter(referrals::situation_id.eq_any(ids))
        .order(referrals::id.asc())
        .load(conn)?
        .into_iter()
        .map(Referral::try_from)
        .collect()
}
