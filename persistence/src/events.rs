//! The event feed and the webhook outbox, written in the transaction of the change they report.
//!
//! Events carry ids and statuses only, never personal data: a partner reads the hand-off
//! itself, through the consent-filtered API, to learn more.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use relais_domain::ids::{EventId, PartnerId, PostId, UnitId};
use relais_domain::reference::{CodeList, EventType};

use crate::convert::stored;
use crate::schema::{events, webhook_deliveries, webhooks};
use crate::{DbConnection, StoreError};

/// Serialises event-writing transactions on PostgreSQL, so that `seq` order is commit order
/// and a reader following the cursor never skips an event committed late.
const EVENT_ORDER_LOCK: i64 = 0x7265_6c61_6973_0001;

/// An event to record, with the audiences that may read it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// What happened, from the catalogue (`relais_domain::event`).
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub post: Option<PostId>,
    pub partner: Option<PartnerId>,
    pub unit: Option<UnitId>,
    pub record_type: &'a str,
    pub record_id: String,
    /// JSON object with ids and statuses; never personal data.
    pub data: String,
}

/// A recorded event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub occurred_at: NaiveDateTime,
    pub post_id: Option<String>,
    pub partner_id: Option<String>,
    pub unit_id: Option<String>,
    pub record_type: String,
    pub record_id: String,
    pub data: String,
}

/// Appends an event and queues its delivery to each active webhook of its partner.
pub fn append(conn: &mut DbConnection, event: &NewEvent<'_>) -> Result<i64, StoreError> {
    if let DbConnection::Postgres(_) = conn {
        conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({EVENT_ORDER_LOCK})"))?;
    }
    let at = stored(event.occurred_at);
    let seq: i64 = diesel::insert_into(events::table)
        .values((
            events::id.eq(EventId::generate().to_string()),
            events::kind.eq(event.kind.code()),
            events::occurred_at.eq(at),
            events::post_id.eq(event.post.map(|p| p.to_string())),
            events::partner_id.eq(event.partner.map(|p| p.to_string())),
            events::unit_id.eq(event.unit.map(|u| u.to_string())),
            events::record_type.eq(event.record_type),
            events::record_id.eq(&event.record_id),
            events::data.eq(&event.data),
        ))
        .returning(events::seq)
        .get_result(conn)?;
    if let Some(partner) = event.partner {
        let hooks: Vec<String> = webhooks::table
            .filter(webhooks::partner_id.eq(partner.to_string()))
            .filter(webhooks::active.eq(true))
            .select(webhooks::id)
            .load(conn)?;
        for hook in hooks {
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
                    webhook_deliveries::webhook_id.eq(hook),
                    webhook_deliveries::event_seq.eq(seq),
                    webhook_deliveries::status.eq("pending"),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(at),
                    webhook_deliveries::created_at.eq(at),
                ))
                .execute(conn)?;
        }
    }
    Ok(seq)
}

/// Who reads a feed: the events of one partner, or of a set of posts, or of one unit.
#[derive(Debug, Clone)]
pub enum Audience {
    Partner(PartnerId),
    Posts(Vec<PostId>),
    Unit(UnitId),
}

/// Events after `after` for `audience`, in order, at most `limit`.
pub fn feed(
    conn: &mut DbConnection,
    audience: &Audience,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut query = events::table
        .select(EventRow::as_select())
        .filter(events::seq.gt(after))
        .into_boxed();
    query = match audience {
        Audience::Partner(partner) => query.filter(events::partner_id.eq(partner.to_string())),
        Audience::Posts(posts) => query.filter(
            events::post_id.eq_any(posts.iter().map(ToString::to_string).collect::<Vec<_>>()),
        ),
        Audience::Unit(unit) => query.filter(events::unit_id.eq(unit.to_string())),
    };
    Ok(query.order(events::seq.asc()).limit(limit).load(conn)?)
}

/// One event by its sequence number.
pub fn get(conn: &mut DbConnection, seq: i64) -> Result<EventRow, StoreError> {
    Ok(events::table
        .find(seq)
        .select(EventRow::as_select())
        .first(conn)?)
}
