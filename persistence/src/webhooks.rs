//! Webhooks and their outbox.
//!
//! `events::append` queues one `webhook_deliveries` row per active webhook of the event's partner,
//! in the transaction of the change; the worker claims due rows with a lease, delivers them and
//! records the outcome here. A worker that dies mid-delivery loses nothing: its lease expires
//! and the row is claimed again (at least once, under the same `webhook-id`).

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use relais_domain::ids::{PartnerId, WebhookId};
use relais_domain::webhook::{Delivery, DeliveryStatus, Webhook};

use crate::convert::{meta, now, parse};
use crate::events::EventRow;
use crate::schema::{events, partners, webhook_deliveries, webhooks};
use crate::sealing::{self, WEBHOOK_SECRET};
use crate::{DbConnection, Page, PageRequest, StoreError};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";

/// Recorded on the pending deliveries of a webhook when it is deleted.
pub const DELETED_WEBHOOK_ERROR: &str = "the webhook was deleted before delivery";

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks)]
struct WebhookRow {
    id: String,
    partner_id: String,
    url: String,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            id: parse("webhooks.id", &row.id)?,
            partner_id: parse("webhooks.partner_id", &row.partner_id)?,
            url: row.url,
            active: row.active,
            meta: meta(row.created_at, row.updated_at, row.version),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: String,
    event_seq: i64,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<NaiveDateTime>,
}

impl DeliveryRow {
    fn into_delivery(self, event_id: &str, event_type: String) -> Result<Delivery, StoreError> {
        let status: DeliveryStatus = parse("webhook_deliveries.status", &self.status)?;
        Ok(Delivery {
            id: parse("webhook_deliveries.id", &self.id)?,
            event_id: parse("events.id", event_id)?,
            event_type: parse("events.kind", &event_type)?,
            event_seq: self.event_seq,
            status,
            attempts: self.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| self.next_attempt_at.and_utc()),
            last_attempt_at: self.last_attempt_at.map(|at| at.and_utc()),
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            delivered_at: self.delivered_at.map(|at| at.and_utc()),
        })
    }
}

/// An instant as stored: UTC, to the microsecond.
fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}

/// Registers a webhook of `partner`, active at once.
pub fn create(
    conn: &mut DbConnection,
    partner: PartnerId,
    url: &str,
    secret: &str,
) -> Result<Webhook, StoreError> {
    let id = WebhookId::generate();
    let key = id.to_string();
    let at = now();
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::id.eq(&key),
            webhooks::partner_id.eq(partner.to_string()),
            webhooks::url.eq(url),
            webhooks::secret.eq(sealing::seal(WEBHOOK_SECRET, &key, secret)?),
            webhooks::active.eq(true),
            webhooks::created_at.eq(at),
            webhooks::updated_at.eq(at),
            webhooks::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, partner, id)
}

/// How many active webhooks `partner` has, counted with the partner's directory row locked until
/// the end of the transaction, so that registrations for one partner, counted then inserted in
/// their transactions, go one after the other: the second counts the first's webhook and cannot
/// pass a limit the first reached. On PostgreSQL the row is read `FOR NO KEY UPDATE` (which does
/// not block the foreign-key checks of rows naming the partner); SQLite has a single writer.
/// `NotFound` when the partner is not in the directory.
pub fn count_active_locking_partner(
    conn: &mut DbConnection,
    partner: PartnerId,
) -> Result<i64, StoreError> {
    let key = partner.to_string();
    let row = partners::table.find(&key).select(partners::id);
    let _: String = match conn {
        DbConnection::Postgres(pg) => row.for_no_key_update().first(pg)?,
        DbConnection::Sqlite(sqlite) => row.first(sqlite)?,
    };
    Ok(webhooks::table
        .filter(webhooks::partner_id.eq(&key))
        .filter(webhooks::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// A webhook of `partner`; another partner's is `NotFound`.
pub fn get(
    conn: &mut DbConnection,
    partner: PartnerId,
    id: WebhookId,
) -> Result<Webhook, StoreError> {
    webhooks::table
        .find(id.to_string())
        .filter(webhooks::partner_id.eq(partner.to_string()))
        .select(WebhookRow::as_select())
        .first(conn)?
        .try_into()
}

/// The webhooks of `partner`, deleted ones included, newest first.
pub fn list(
    conn: &mut DbConnection,
    partner: PartnerId,
    page: &PageRequest,
) -> Result<Page<Webhook>, StoreError> {
    let mut query = webhooks::table
        .filter(webhooks::partner_id.eq(partner.to_string()))
        .select(WebhookRow::as_select())
        .into_boxed();
    if let Some(cursor) = &page.cursor {
        query = query.filter(webhooks::id.lt(cursor));
    }
    let rows = query
        .order(webhooks::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let hooks = rows
        .into_iter()
        .map(Webhook::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(hooks, page.limit, |w| {
        w.id.to_string()
    }))
}

/// Deletes a webhook of `partner`: it stays listed, inactive, and its pending deliveries
/// are given up. Deleting it again changes nothing.
pub fn deactivate(
    conn: &mut DbConnection,
    partner: PartnerId,
    id: WebhookId,
) -> Result<Webhook, StoreError> {
    let key = id.to_string();
    let at = now();
    let changed = diesel::update(
        webhooks::table
            .find(&key)
            .filter(webhooks::partner_id.eq(partner.to_string()))
            .filter(webhooks::active.eq(true)),
    )
    .set((
        webhooks::active.eq(false),
        webhooks::updated_at.eq(at),
        webhooks::version.eq(webhooks::version + 1),
    ))
    .execute(conn)?;
    if changed > 0 {
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(&key))
                .filter(webhook_deliveries::status.eq(PENDING)),
        )
        .set((
            webhook_deliveries::status.eq(FAILED),
            webhook_deliveries::last_error.eq(DELETED_WEBHOOK_ERROR),
        ))
        .execute(conn)?;
    }
    get(conn, partner, id)
}

/// The deliveries of a webhook, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook: WebhookId,
    page: &PageRequest,
) -> Result<Page<Delivery>, StoreError> {
    let mut query = webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook.to_string()))
        .select((DeliveryRow::as_select(), events::id, events::kind))
        .into_boxed();
    if let Some(cursor) = &page.cursor {
        query = query.filter(webhook_deliveries::id.lt(cursor));
    }
    let rows: Vec<(DeliveryRow, String, String)> = query
        .order(webhook_deliveries::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let found = rows
        .into_iter()
        .map(|(row, event_id, kind)| row.into_delivery(&event_id, kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(found, page.limit, |d| {
        d.id.to_string()
    }))
}

/// A delivery claimed by the worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: i32,
    /// When the delivery was queued: its first attempt was due then.
    pub created_at: DateTime<Utc>,
    pub event: EventRow,
}

/// Delivery id, webhook id, attempts, queued at, URL, secret, event.
type ClaimedRow = (String, String, i32, NaiveDateTime, String, String, EventRow);

/// Claims up to `limit` pending deliveries due at `now`, oldest first, for `lease`: their next
/// attempt is pushed to `now + lease`, so that no other worker takes them meanwhile, and a
/// worker that dies lets them come due again. Run it in one write transaction.
///
/// On PostgreSQL the rows are selected `FOR UPDATE SKIP LOCKED`: replicas claiming at the same
/// moment never take the same row. SQLite has a single writer.
pub fn claim_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<DueDelivery>, StoreError> {
    let at = stored(now);
    let due = || {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::next_attempt_at.le(at))
            .filter(
                webhook_deliveries::webhook_id.eq_any(
                    webhooks::table
                        .filter(webhooks::active.eq(true))
                        .select(webhooks::id),
                ),
            )
            .order((
                webhook_deliveries::next_attempt_at.asc(),
                webhook_deliveries::id.asc(),
            ))
            .select(webhook_deliveries::id)
            .limit(limit)
    };
    let ids: Vec<String> = match conn {
        DbConnection::Postgres(pg) => due().for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => due().load(sqlite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set(webhook_deliveries::next_attempt_at.eq(stored(now + lease)))
        .execute(conn)?;
    let rows: Vec<ClaimedRow> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .inner_join(events::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order(webhook_deliveries::event_seq.asc())
        .select((
            webhook_deliveries::id,
            webhook_deliveries::webhook_id,
            webhook_deliveries::attempts,
            webhook_deliveries::created_at,
            webhooks::url,
            webhooks::secret,
            EventRow::as_select(),
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, webhook_id, attempts, created_at, url, secret, event)| {
                Ok(DueDelivery {
                    secret: sealing::open(WEBHOOK_SECRET, &webhook_id, &secret)?,
                    id,
                    webhook_id,
                    url,
                    attempts,
                    created_at: created_at.and_utc(),
                    event,
                })
            },
        )
        .collect()
}

/// Records an attempt the receiver acknowledged with `status_code` at `at`.
pub fn record_delivered(
    conn: &mut DbConnection,
    id: &str,
    status_code: i32,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = stored(at);
    diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set((
        webhook_deliveries::status.eq(DELIVERED),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::last_attempt_at.eq(Some(at)),
        webhook_deliveries::last_status_code.eq(Some(status_code)),
        webhook_deliveries::last_error.eq(None::<String>),
        webhook_deliveries::delivered_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records a failed attempt at `at`: `status_code` is absent when no answer came. The delivery
/// is tried again at `next_attempt_at`, or, when that is `None`, given up as `failed`.
pub fn record_failed_attempt(
    conn: &mut DbConnection,
    id: &str,
    status_code: Option<i32>,
    error: &str,
    at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let at = stored(at);
    let target = webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::status.eq(PENDING));
    let outcome = (
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::last_attempt_at.eq(Some(at)),
        webhook_deliveries::last_status_code.eq(status_code),
        webhook_deliveries::last_error.eq(Some(error)),
    );
    match next_attempt_at {
        Some(next) => diesel::update(target)
            .set((
                outcome,
                webhook_deliveries::next_attempt_at.eq(stored(next)),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((outcome, webhook_deliveries::status.eq(FAILED)))
            .execute(conn)?,
    };
    Ok(())
}

/// Gives back claims a stopping worker did not start: the deliveries come due at `now` again
/// instead of at the end of their lease, for another replica (or the next start) to send.
pub fn release(
    conn: &mut DbConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq_any(ids))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(stored(now)))
    .execute(conn)?;
    Ok(())
}

/// The outbox's backlog: deliveries still pending, and those of them already due at `now`
/// (a due backlog that grows means the workers do not keep up, or receivers fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub pending: i64,
    pub due: i64,
}

/// Counts the outbox's backlog.
pub fn backlog(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Backlog, StoreError> {
    let pending = || webhook_deliveries::table.filter(webhook_deliveries::status.eq(PENDING));
    Ok(Backlog {
        pending: pending().count().get_result(conn)?,
        due: pending()
            .filter(webhook_deliveries::next_attempt_at.le(stored(now)))
            .count()
            .get_result(conn)?,
    })
}
