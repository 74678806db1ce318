//! Hand-offs, their history of transitions, and the person's consent.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use relais_domain::hand_off::{
    Consent, ConsentInput, HandOff, HandOffInput, ParentalAuthority, Transition,
};
use relais_domain::ids::{HandOffId, PartnerId, PostId, SituationId};
use relais_domain::reference::{CodeList, DeclineReason, HandOffResult, HandOffStatus, Role};

use crate::codes::{join, split};
use crate::convert::{Count, meta, parse, parse_opt, stored};
use crate::error::stale_or_missing;
use crate::schema::{consents, hand_off_transitions, hand_offs, situations};
use crate::sealing::{
    self, HAND_OFF_MESSAGE, HAND_OFF_NOT_INFORMED_BECAUSE, HAND_OFF_OUTCOME, TRANSITION_COMMENT,
};
use crate::{DbConnection, Page, PageRequest, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = hand_offs)]
struct HandOffRow {
    id: String,
    situation_id: String,
    post_id: String,
    partner_id: String,
    status: String,
    reasons: String,
    message: Option<String>,
    legal_exception: Option<String>,
    decline_reason: Option<String>,
    outcome: Option<String>,
    created_by: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
    parental_authority_informed_on: Option<chrono::NaiveDate>,
    parental_authority_not_informed_because: Option<String>,
    result: Option<String>,
}

impl TryFrom<HandOffRow> for HandOff {
    type Error = StoreError;
    fn try_from(row: HandOffRow) -> Result<Self, StoreError> {
        Ok(HandOff {
            id: parse("hand_offs.id", &row.id)?,
            situation_id: parse("hand_offs.situation_id", &row.situation_id)?,
            post_id: parse("hand_offs.post_id", &row.post_id)?,
            partner_id: parse("hand_offs.partner_id", &row.partner_id)?,
            status: parse("hand_offs.status", &row.status)?,
            reasons: split("hand_offs.reasons", &row.reasons)?,
            message: sealing::open_opt(HAND_OFF_MESSAGE, &row.id, row.message)?,
            legal_exception: parse_opt(
                "hand_offs.legal_exception",
                row.legal_exception.as_deref(),
            )?,
            parental_authority: match (
                row.parental_authority_informed_on,
                row.parental_authority_not_informed_because,
            ) {
                (None, None) => None,
                (informed_on, not_informed_because) => Some(ParentalAuthority {
                    informed_on,
                    not_informed_because: sealing::open_opt(
                        HAND_OFF_NOT_INFORMED_BECAUSE,
                        &row.id,
                        not_informed_because,
                    )?,
                }),
            },
            decline_reason: parse_opt("hand_offs.decline_reason", row.decline_reason.as_deref())?,
            result: parse_opt("hand_offs.result", row.result.as_deref())?,
            outcome: sealing::open_opt(HAND_OFF_OUTCOME, &row.id, row.outcome)?,
            created_by: row.created_by,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

/// Who makes a move, for the history.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub subject: &'a str,
    pub role: Role,
}

/// The record a transition's sealed comment belongs to.
pub(crate) fn transition_key(hand_off: &str, position: i32) -> String {
    format!("{hand_off}/{position}")
}

fn record_transition(
    conn: &mut DbConnection,
    hand_off: &str,
    from: Option<HandOffStatus>,
    to: HandOffStatus,
    by: Actor<'_>,
    comment: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let position: i32 = hand_off_transitions::table
        .filter(hand_off_transitions::hand_off_id.eq(hand_off))
        .count()
        .get_result::<i64>(conn)?
        .try_into()
        .map_err(|_| StoreError::Corrupt("too many transitions".into()))?;
    diesel::insert_into(hand_off_transitions::table)
        .values((
            hand_off_transitions::hand_off_id.eq(hand_off),
            hand_off_transitions::position.eq(position),
            hand_off_transitions::from_status.eq(from.map(CodeList::code)),
            hand_off_transitions::to_status.eq(to.code()),
            hand_off_transitions::at.eq(at),
            hand_off_transitions::by_subject.eq(by.subject),
            hand_off_transitions::by_role.eq(by.role.code()),
            hand_off_transitions::comment.eq(sealing::seal_opt(
                TRANSITION_COMMENT,
                &transition_key(hand_off, position),
                comment,
            )?),
        ))
        .execute(conn)?;
    Ok(())
}

/// Creates a draft hand-off of a situation. The caller has validated it and checked access.
pub fn insert(
    conn: &mut DbConnection,
    situation: SituationId,
    post: PostId,
    input: &HandOffInput,
    by: Actor<'_>,
    at: DateTime<Utc>,
) -> Result<HandOff, StoreError> {
    let id = HandOffId::generate();
    let key = id.to_string();
    let at = stored(at);
    diesel::insert_into(hand_offs::table)
        .values((
            hand_offs::id.eq(&key),
            hand_offs::situation_id.eq(situation.to_string()),
            hand_offs::post_id.eq(post.to_string()),
            hand_offs::partner_id.eq(input.partner_id.to_string()),
            hand_offs::status.eq(HandOffStatus::Draft.code()),
            hand_offs::reasons.eq(join(&input.reasons)),
            hand_offs::message.eq(sealing::seal_opt(
                HAND_OFF_MESSAGE,
                &key,
                input.message.as_deref(),
            )?),
            hand_offs::legal_exception.eq(input.legal_exception.map(CodeList::code)),
            hand_offs::parental_authority_informed_on.eq(input
                .parental_authority
                .as_ref()
                .and_then(|p| p.informed_on)),
            hand_offs::parental_authority_not_informed_because.eq(sealing::seal_opt(
                HAND_OFF_NOT_INFORMED_BECAUSE,
                &key,
                input
                    .parental_authority
                    .as_ref()
                    .and_then(|p| p.not_informed_because.as_deref()),
            )?),
            hand_offs::created_by.eq(by.subject),
            hand_offs::created_at.eq(at),
            hand_offs::updated_at.eq(at),
            hand_offs::version.eq(1_i64),
        ))
        .execute(conn)?;
    record_transition(conn, &key, None, HandOffStatus::Draft, by, None, at)?;
    get(conn, id)
}

/// Every hand-off of the person's situations, oldest first.
pub fn of_beneficiary(
    conn: &mut DbConnection,
    beneficiary: relais_domain::ids::BeneficiaryId,
) -> Result<Vec<HandOff>, StoreError> {
    let theirs = situations::table
        .filter(situations::beneficiary_id.eq(beneficiary.to_string()))
        .select(situations::id);
    hand_offs::table
        .filter(hand_offs::situation_id.eq_any(theirs))
        .order(hand_offs::id)
        .select(HandOffRow::as_select())
        .load(conn)?
        .into_iter()
        .map(HandOff::try_from)
        .collect()
}

pub fn get(conn: &mut DbConnection, id: HandOffId) -> Result<HandOff, StoreError> {
    hand_offs::table
        .find(id.to_string())
        .select(HandOffRow::as_select())
        .first(conn)?
        .try_into()
}

/// What a list of hand-offs may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct HandOffFilter {
    /// Only these posts' hand-offs.
    pub posts: Option<Vec<PostId>>,
    /// Only this partner's hand-offs, never its drafts.
    pub partner: Option<PartnerId>,
    pub situation: Option<SituationId>,
    pub status: Option<HandOffStatus>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &HandOffFilter,
    page: &PageRequest,
) -> Result<Page<HandOff>, StoreError> {
    let mut query = hand_offs::table
        .select(HandOffRow::as_select())
        .into_boxed();
    if let Some(posts) = &filter.posts {
        query = query.filter(
            hand_offs::post_id.eq_any(posts.iter().map(ToString::to_string).collect::<Vec<_>>()),
        );
    }
    if let Some(partner) = filter.partner {
        query = query
            .filter(hand_offs::partner_id.eq(partner.to_string()))
            .filter(hand_offs::status.ne(HandOffStatus::Draft.code()));
    }
    if let Some(situation) = filter.situation {
        query = query.filter(hand_offs::situation_id.eq(situation.to_string()));
    }
    if let Some(status) = filter.status {
        query = query.filter(hand_offs::status.eq(status.code()));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(hand_offs::id.lt(cursor));
    }
    let rows = query
        .order(hand_offs::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(HandOff::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |h| {
        h.id.to_string()
    }))
}

/// What a move writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct MoveDetails<'a> {
    pub comment: Option<&'a str>,
    pub decline_reason: Option<DeclineReason>,
    pub result: Option<HandOffResult>,
    pub outcome: Option<&'a str>,
}

/// Moves a hand-off to `to` if it is still at `expected_version`, and records the move.
/// The caller has checked that the move is legal from the current status.
pub fn move_to(
    conn: &mut DbConnection,
    current: &HandOff,
    to: HandOffStatus,
    expected_version: i64,
    by: Actor<'_>,
    details: &MoveDetails<'_>,
    at: DateTime<Utc>,
) -> Result<HandOff, StoreError> {
    let key = current.id.to_string();
    let at = stored(at);
    let changed = diesel::update(
        hand_offs::table
            .find(&key)
            .filter(hand_offs::version.eq(expected_version)),
    )
    .set((
        hand_offs::status.eq(to.code()),
        hand_offs::decline_reason.eq(details
            .decline_reason
            .map(CodeList::code)
            .or(current.decline_reason.map(CodeList::code))),
        hand_offs::result.eq(details.result.or(current.result).map(CodeList::code)),
        hand_offs::outcome.eq(sealing::seal_opt(
            HAND_OFF_OUTCOME,
            &key,
            details.outcome.or(current.outcome.as_deref()),
        )?),
        hand_offs::updated_at.eq(at),
        hand_offs::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 0 {
        let version = hand_offs::table
            .find(&key)
            .select(hand_offs::version)
            .first(conn)
            .optional()?;
        return Err(stale_or_missing(version));
    }
    record_transition(
        conn,
        &key,
        Some(current.status),
        to,
        by,
        details.comment,
        at,
    )?;
    get(conn, current.id)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = hand_off_transitions)]
struct TransitionRow {
    hand_off_id: String,
    position: i32,
    from_status: Option<String>,
    to_status: String,
    at: NaiveDateTime,
    by_subject: String,
    by_role: String,
    comment: Option<String>,
}

impl TryFrom<TransitionRow> for Transition {
    type Error = StoreError;
    fn try_from(row: TransitionRow) -> Result<Self, StoreError> {
        Ok(Transition {
            from: parse_opt(
                "hand_off_transitions.from_status",
                row.from_status.as_deref(),
            )?,
            to: parse("hand_off_transitions.to_status", &row.to_status)?,
            at: row.at.and_utc(),
            by: row.by_subject,
            by_role: parse("hand_off_transitions.by_role", &row.by_role)?,
            comment: sealing::open_opt(
                TRANSITION_COMMENT,
                &transition_key(&row.hand_off_id, row.position),
                row.comment,
            )?,
        })
    }
}

/// Every move of a hand-off, oldest first.
pub fn history(conn: &mut DbConnection, id: HandOffId) -> Result<Vec<Transition>, StoreError> {
    Ok(histories_of(conn, &[id])?.remove(&id).unwrap_or_default())
}

/// The histories of many hand-offs (a page of them) in one query, each oldest move first.
pub fn histories_of(
    conn: &mut DbConnection,
    ids: &[HandOffId],
) -> Result<HashMap<HandOffId, Vec<Transition>>, StoreError> {
    let rows: Vec<TransitionRow> = hand_off_transitions::table
        .filter(hand_off_transitions::hand_off_id.eq_any(keys(ids)))
        .order((
            hand_off_transitions::hand_off_id,
            hand_off_transitions::position,
        ))
        .select(TransitionRow::as_select())
        .load(conn)?;
    let mut by_hand_off: HashMap<HandOffId, Vec<Transition>> = HashMap::new();
    for row in rows {
        let id = parse("hand_off_transitions.hand_off_id", &row.hand_off_id)?;
        by_hand_off.entry(id).or_default().push(row.try_into()?);
    }
    Ok(by_hand_off)
}

fn keys(ids: &[HandOffId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = consents)]
struct ConsentRow {
    hand_off_id: String,
    given: bool,
    form: String,
    answered_at: NaiveDateTime,
    shared_data: String,
    recorded_by: String,
    withdrawn_at: Option<NaiveDateTime>,
    withdrawn_by: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(row: ConsentRow) -> Result<Self, StoreError> {
        Ok(Consent {
            given: row.given,
            form: parse("consents.form", &row.form)?,
            answered_at: row.answered_at.and_utc(),
            shared_data: split("consents.shared_data", &row.shared_data)?,
            recorded_by: row.recorded_by,
            withdrawn_at: row.withdrawn_at.map(|at| at.and_utc()),
            withdrawn_by: row.withdrawn_by,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

pub fn consent(conn: &mut DbConnection, id: HandOffId) -> Result<Option<Consent>, StoreError> {
    Ok(consents_of(conn, &[id])?.remove(&id))
}

/// The consents of many hand-offs (a page of them) in one query; a hand-off without an
/// answer recorded has no entry.
pub fn consents_of(
    conn: &mut DbConnection,
    ids: &[HandOffId],
) -> Result<HashMap<HandOffId, Consent>, StoreError> {
    let rows: Vec<ConsentRow> = consents::table
        .filter(consents::hand_off_id.eq_any(keys(ids)))
        .select(ConsentRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok((
                parse("consents.hand_off_id", &row.hand_off_id)?,
                row.try_into()?,
            ))
        })
        .collect()
}

/// Records the person's answer, replacing an earlier one (allowed while the hand-off is a draft).
pub fn record_consent(
    conn: &mut DbConnection,
    id: HandOffId,
    input: &ConsentInput,
    recorded_by: &str,
    answered_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<Consent, StoreError> {
    let key = id.to_string();
    let at = stored(at);
    let values = (
        consents::given.eq(input.given),
        consents::form.eq(input.form.code()),
        // Stored to the microsecond, PostgreSQL's precision, so both backends answer alike.
        consents::answered_at.eq(answered_at.naive_utc().trunc_subsecs(6)),
        consents::shared_data.eq(join(&input.shared_data)),
        consents::recorded_by.eq(recorded_by),
        consents::updated_at.eq(at),
    );
    let current: Option<i64> = consents::table
        .find(&key)
        .select(consents::version)
        .first(conn)
        .optional()?;
    match current {
        Some(version) => {
            diesel::update(consents::table.find(&key))
                .set((values, consents::version.eq(version + 1)))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(consents::table)
                .values((
                    consents::hand_off_id.eq(&key),
                    values,
                    consents::created_at.eq(at),
                    consents::version.eq(1_i64),
                ))
                .execute(conn)?;
        }
    }
    consent(conn, id)?.ok_or(StoreError::NotFound)
}

/// Records the withdrawal of consent.
pub fn withdraw_consent(
    conn: &mut DbConnection,
    id: HandOffId,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Consent, StoreError> {
    let key = id.to_string();
    let at = stored(at);
    diesel::update(
        consents::table
            .find(&key)
            .filter(consents::withdrawn_at.is_null()),
    )
    .set((
        consents::withdrawn_at.eq(at),
        consents::withdrawn_by.eq(by),
        consents::updated_at.eq(at),
        consents::version.eq(consents::version + 1),
    ))
    .execute(conn)?;
    consent(conn, id)?.ok_or(StoreError::NotFound)
}

/// How many hand-offs hold another opening or post than their situation's
/// (`situation_opened_on`, kept by the database's triggers for the statistics grid, and `post_id`):
/// always 0, which the tests check after every kind of write.
pub fn opening_out_of_step(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let Count { n } = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM hand_offs h JOIN situations s ON s.id = h.situation_id
         WHERE h.situation_opened_on IS NULL OR h.situation_opened_on <> s.opened_on
            OR h.post_id <> s.post_id",
    )
    .get_result(conn)?;
    Ok(n)
}

/// How many hand-offs hold a first sending or a first answer (`sent_at`, `answered_at`, kept by
/// the database's triggers for the statistics grid) other than their transitions give when
/// recounted: always 0, which the tests check after every kind of write.
pub fn dates_out_of_step(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let Count { n } = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM hand_offs h LEFT JOIN (
            SELECT hand_off_id,
                   MIN(CASE WHEN to_status = 'sent' THEN at END) AS sent,
                   MIN(CASE WHEN to_status IN ('accepted', 'declined') THEN at END) AS answered
            FROM hand_off_transitions GROUP BY hand_off_id
         ) r ON r.hand_off_id = h.id
         WHERE (h.sent_at IS NULL) <> (r.sent IS NULL) OR h.sent_at <> r.sent
            OR (h.answered_at IS NULL) <> (r.answered IS NULL) OR h.answered_at <> r.answered",
    )
    .get_result(conn)?;
    Ok(n)
}
