//! The audit trail: appended by the API for every access to personal data, read by coordinators,
//! purged only past its retention (the database itself refuses anything else).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::audit::AuditEvent;
use relais_domain::ids::{AuditEventId, BeneficiaryId, PostId};
use relais_domain::reference::{AuditOutcome, AuditedRecord, CodeList, Role};

use crate::audit_chain::{self, ChainedEvent};
use crate::convert::{now, parse, parse_opt, stored};
use crate::schema::{
    audit_events, beneficiaries, hand_offs, member_posts, referrals, requisitions, situations,
    statistics_submissions,
};
use crate::{DbConnection, Page, PageRequest, StoreError};

/// An access to record, before it is stored.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// When the access happened.
    pub at: DateTime<Utc>,
    pub subject: String,
    pub role: Role,
    pub action: &'static str,
    pub record: Option<(AuditedRecord, String)>,
    /// The post whose cases the caller addressed, when the request says it (lists).
    pub post_hint: Option<PostId>,
    pub status: u16,
    /// An idempotent retry answered from the record's current state.
    pub replayed: bool,
}

impl NewAuditEvent {
    fn outcome(&self) -> AuditOutcome {
        if self.replayed && (200..300).contains(&self.status) {
            AuditOutcome::Replayed
        } else {
            AuditOutcome::of_status(self.status)
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: String,
    at: NaiveDateTime,
    subject: String,
    role: String,
    action: String,
    record_type: Option<String>,
    record_id: Option<String>,
    post_id: Option<String>,
    beneficiary_id: Option<String>,
    outcome: String,
    status: i32,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            id: parse("audit_events.id", &row.id)?,
            at: row.at.and_utc(),
            subject: row.subject,
            role: parse("audit_events.role", &row.role)?,
            action: row.action,
            record_type: parse_opt("audit_events.record_type", row.record_type.as_deref())?,
            record_id: row.record_id,
            post_id: parse_opt("audit_events.post_id", row.post_id.as_deref())?,
            beneficiary_id: parse_opt(
                "audit_events.beneficiary_id",
                row.beneficiary_id.as_deref(),
            )?,
            outcome: parse("audit_events.outcome", &row.outcome)?,
            status: u16::try_from(row.status).unwrap_or(0),
        })
    }
}

/// The post and the person of each record of `ids` that exists, by id.
fn owners_of(
    conn: &mut DbConnection,
    kind: AuditedRecord,
    ids: &[&str],
) -> QueryResult<HashMap<String, (String, Option<String>)>> {
    let rows: Vec<(String, String, Option<String>)> = match kind {
        AuditedRecord::Beneficiary => beneficiaries::table
            .filter(beneficiaries::id.eq_any(ids))
            .select((
                beneficiaries::id,
                beneficiaries::post_id,
                beneficiaries::id.nullable(),
            ))
            .load(conn)?,
        AuditedRecord::Situation => situations::table
            .filter(situations::id.eq_any(ids))
            .select((
                situations::id,
                situations::post_id,
                situations::beneficiary_id.nullable(),
            ))
            .load(conn)?,
        AuditedRecord::HandOff => hand_offs::table
            .inner_join(situations::table)
            .filter(hand_offs::id.eq_any(ids))
            .select((
                hand_offs::id,
                hand_offs::post_id,
                situations::beneficiary_id.nullable(),
            ))
            .load(conn)?,
        AuditedRecord::Referral => referrals::table
            .left_join(situations::table.on(situations::id.nullable().eq(referrals::situation_id)))
            .filter(referrals::id.eq_any(ids))
            .select((
                referrals::id,
                referrals::post_id,
                situations::beneficiary_id.nullable(),
            ))
            .load(conn)?,
        AuditedRecord::Requisition => requisitions::table
            .filter(requisitions::id.eq_any(ids))
            .select((
                requisitions::id,
                requisitions::post_id,
                requisitions::beneficiary_id.nullable(),
            ))
            .load(conn)?,
        // A membership names no person; its post is one of those it grants (none for an
        // administrator's), so that the post's coordinators read its trail.
        AuditedRecord::Member => member_posts::table
            .filter(member_posts::member_id.eq_any(ids))
            .select((member_posts::member_id, member_posts::post_id))
            .order((member_posts::member_id, member_posts::post_id.desc()))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(|(member, post)| (member, post, None))
            .collect(),
        AuditedRecord::StatisticsSubmission => statistics_submissions::table
            .filter(statistics_submissions::id.eq_any(ids))
            .select((statistics_submissions::id, statistics_submissions::post_id))
            .load::<(String, String)>(conn)?
            .into_iter()
            // Submitted figures name no person.
            .map(|(id, post)| (id, post, None))
            .collect(),
        // An instance belongs to no post.
        AuditedRecord::StatisticsInstance => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(|(id, post, person)| (id, (post, person)))
        .collect())
}

/// Appends one event, naming the record's post and person as they stand now.
pub fn append(conn: &mut DbConnection, event: &NewAuditEvent) -> Result<AuditEventId, StoreError> {
    let ids = append_all(conn, std::slice::from_ref(event))?;
    ids.into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("an audit event without an id".into()))
}

/// Appends events in one insert, naming each record's post and person as they stand now (read
/// with one query per kind of record, not one per event): a page of a list costs one insert.
pub fn append_all(
    conn: &mut DbConnection,
    events: &[NewAuditEvent],
) -> Result<Vec<AuditEventId>, StoreError> {
    let mut owners = HashMap::new();
    for kind in AuditedRecord::ALL {
        let ids: Vec<&str> = events
            .iter()
            .filter_map(|e| e.record.as_ref())
            .filter(|(k, _)| k == kind)
            .map(|(_, id)| id.as_str())
            .collect();
        if !ids.is_empty() {
            owners.extend(
                owners_of(conn, *kind, &ids)?
                    .into_iter()
                    .map(|(id, owner)| ((*kind, id), owner)),
            );
        }
    }
    let ids: Vec<AuditEventId> = events.iter().map(|_| AuditEventId::generate()).collect();
    let mut rows: Vec<ChainedEvent> = events
        .iter()
        .zip(&ids)
        .map(|(event, id)| {
            let (post, person) = event
                .record
                .as_ref()
                .and_then(|(kind, record)| owners.get(&(*kind, record.clone())).cloned())
                .unzip();
            let post = post.or_else(|| event.post_hint.map(|p| p.to_string()));
            ChainedEvent {
                id: id.to_string(),
                at: stored(event.at),
                subject: event.subject.clone(),
                role: event.role.code().to_owned(),
                action: event.action.to_owned(),
                record_type: event.record.as_ref().map(|(k, _)| k.code().to_owned()),
                record_id: event.record.as_ref().map(|(_, id)| id.clone()),
                post_id: post,
                beneficiary_id: person.flatten(),
                outcome: event.outcome().code().to_owned(),
                status: i32::from(event.status),
                position: None,
                mac: None,
                key_id: None,
            }
        })
        .collect();
    // Chained after the head, which stays locked until the caller's transaction commits.
    audit_chain::append(conn, &mut rows)?;
    Ok(ids)
}

/// What a reader of the trail asks for; `posts` bounds it to the reader's scope.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub posts: Vec<PostId>,
    pub record_id: Option<String>,
    pub beneficiary_id: Option<BeneficiaryId>,
    pub subject: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

/// Newest first.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEvent>, StoreError> {
    let posts: Vec<String> = filter.posts.iter().map(ToString::to_string).collect();
    let mut query = audit_events::table
        .select(AuditRow::as_select())
        .filter(audit_events::post_id.eq_any(posts))
        .into_boxed();
    if let Some(record) = &filter.record_id {
        query = query.filter(audit_events::record_id.eq(record.clone()));
    }
    if let Some(person) = filter.beneficiary_id {
        query = query.filter(audit_events::beneficiary_id.eq(person.to_string()));
    }
    if let Some(subject) = &filter.subject {
        query = query.filter(audit_events::subject.eq(subject.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::at.ge(from.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(to) = filter.to.and_then(|d| d.succ_opt()) {
        query = query.filter(audit_events::at.lt(to.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(audit_events::id.lt(cursor.clone()));
    }
    let rows = query
        .order(audit_events::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(AuditEvent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, |e| {
        e.id.to_string()
    }))
}

/// Every access to a person's records, oldest first (for the person's own export).
pub fn history_of(
    conn: &mut DbConnection,
    person: BeneficiaryId,
) -> Result<Vec<AuditEvent>, StoreError> {
    audit_events::table
        .select(AuditRow::as_select())
        .filter(audit_events::beneficiary_id.eq(person.to_string()))
        .order(audit_events::id.asc())
        .load(conn)?
        .into_iter()
        .map(AuditEvent::try_from)
        .collect()
}

/// The instant before which an event is past a retention of `retention_days`.
fn retention_cutoff(retention_days: u32) -> NaiveDateTime {
    now() - chrono::Duration::days(i64::from(retention_days))
}

/// How many events the purge would delete: the chain's oldest events, up to the first one
/// within `retention_days` (see [`purge`]).
pub fn count_older(conn: &mut DbConnection, retention_days: u32) -> Result<u64, StoreError> {
    let cutoff = retention_cutoff(retention_days);
    Ok(audit_chain::purgeable(conn, cutoff)?.map_or(0, |(_, count)| count))
}

/// Deletes the events past `retention_days`, and returns how many went: the chain's oldest
/// events up to the first one still within its period (the chain is cut at one point; the rest
/// verifies from the signed checkpoint left there). An event outside the chain (inserted behind
/// Relais's back) is not deleted: `relais audit verify` names it.
pub fn purge(conn: &mut DbConnection, retention_days: u32) -> Result<usize, StoreError> {
    let cutoff = retention_cutoff(retention_days);
    audit_chain::purge(conn, cutoff)
}
