//! The audit trail's MAC chain: what makes an edit, a removal or an insertion made behind
//! Relais's back (the append-only triggers dropped, or the file edited) visible.
//!
//! Every event carries its **position** in the chain, the id of the audit key that chained it,
//! and its **MAC**:
//!
//! `mac(n) = HMAC-SHA256(audit key, "relais-audit-event-v1" ‖ mac(n-1) ‖ encoding of event n)`
//!
//! where the encoding ([`event_mac`]) covers every stored column of the event, its position and
//! the key's id, each length-prefixed, and `mac(0)` is 32 zero bytes. The key is never in the
//! database: it is [`crate::keys::installed`]'s `audit` key.
//!
//! - **Order.** The head (`audit_chain`, one row: the last position and MAC, signed with the key)
//!   is read `FOR UPDATE` by every transaction that appends events, and stays locked until that
//!   transaction commits: on PostgreSQL positions follow the commits, and no position is ever
//!   given to an event that rolls back, so the chain has no gap that a removal could hide in.
//!   SQLite has a single writer. Appending is the last thing a write does (its audit event), so
//!   the head is the last lock a transaction takes and the lock adds no deadlock. One row update
//!   per transaction: the API's group commit appends a whole batch of reads' events at once.
//! - **Checkpoints** (`audit_checkpoints`, signed): the **genesis**, where the chain begins (the
//!   events recorded before migration 000011 are numbered by it and sealed here, by the first
//!   append after the upgrade); each **purge** of the retention job (the last event it deleted,
//!   from which the rest still verifies); and the **head** when the purge ran, from which
//!   `relais audit verify --from DATE` starts.
//! - **Verification** ([`verify`]) walks the chain from a checkpoint in one snapshot,
//!   recomputes every MAC and names each event that does not match, each missing position, the
//!   events outside the chain or beyond its head, and a head moved back.
//!
//! What it proves: the events between the starting checkpoint and the head are those Relais
//! wrote, unchanged, none missing, none added, in commit order, unless the audit key leaked.
//! What it does not: the head can be set back, with the events after it removed, by someone
//! who kept an older copy of the head row (a copy of the trail outside the database, such as
//! `RELAIS_AUDIT_COPY`, shows that).

use std::collections::{HashMap, VecDeque};
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::convert::now;
use crate::keys::{self, Key};
use crate::schema::{audit_chain, audit_checkpoints, audit_events};
use crate::{DbConnection, StoreError};

type HmacSha256 = Hmac<Sha256>;
type Db = <DbConnection as Connection>::Backend;

/// A MAC of the chain, or a signature of its head or of a checkpoint.
pub type ChainMac = [u8; 32];

/// The MAC "before" the first event.
pub const ORIGIN: ChainMac = [0; 32];

/// Events read per query when walking the chain.
const PAGE: i64 = 2_000;

/// Rows per insert statement (14 parameters each, under both backends' limits).
const INSERT_CHUNK: usize = 1_000;

/// Problems listed before a verification stops looking.
pub const MAX_PROBLEMS: usize = 20;

/// HMAC-SHA256 keyed by `key`. HMAC pads a key shorter than its block with zeros (RFC 2104),
/// so the padded key gives the same MAC, through the infallible constructor.
fn hmac(key: &Key) -> HmacSha256 {
    let mut block = [0_u8; 64];
    block[..32].copy_from_slice(&key.bytes);
    <HmacSha256 as KeyInit>::new(&block.into())
}

fn put_text(mac: &mut HmacSha256, text: &str) {
    mac.update(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    mac.update(text.as_bytes());
}

fn put_option(mac: &mut HmacSha256, text: Option<&str>) {
    match text {
        None => mac.update(&[0]),
        Some(text) => {
            mac.update(&[1]);
            put_text(mac, text);
        }
    }
}

fn finish(mac: HmacSha256) -> ChainMac {
    mac.finalize().into_bytes().into()
}

/// An event as stored: the columns its MAC covers, and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct ChainedEvent {
    pub id: String,
    pub at: NaiveDateTime,
    pub subject: String,
    pub role: String,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub post_id: Option<String>,
    pub beneficiary_id: Option<String>,
    pub outcome: String,
    pub status: i32,
    /// `None` only for an event inserted behind Relais's back.
    pub position: Option<i64>,
    /// Hex; `None` for the events recorded before the chain (sealed in the genesis).
    pub mac: Option<String>,
    pub key_id: Option<String>,
}

/// The MAC of `event` at `position`, chained after `previous` with `key`.
pub fn event_mac(key: &Key, previous: &ChainMac, position: i64, event: &ChainedEvent) -> ChainMac {
    let mut mac = hmac(key);
    mac.update(b"relais-audit-event-v1\0");
    mac.update(previous);
    mac.update(&position.to_be_bytes());
    put_text(&mut mac, &key.id);
    put_text(&mut mac, &event.id);
    mac.update(&event.at.and_utc().timestamp_micros().to_be_bytes());
    put_text(&mut mac, &event.subject);
    put_text(&mut mac, &event.role);
    put_text(&mut mac, &event.action);
    put_option(&mut mac, event.record_type.as_deref());
    put_option(&mut mac, event.record_id.as_deref());
    put_option(&mut mac, event.post_id.as_deref());
    put_option(&mut mac, event.beneficiary_id.as_deref());
    put_text(&mut mac, &event.outcome);
    mac.update(&event.status.to_be_bytes());
    finish(mac)
}

fn head_signature(key: &Key, position: i64, last: &ChainMac) -> ChainMac {
    let mut mac = hmac(key);
    mac.update(b"relais-audit-head-v1\0");
    put_text(&mut mac, &key.id);
    mac.update(&position.to_be_bytes());
    mac.update(last);
    finish(mac)
}

/// Lowercase hex.
pub fn to_hex(bytes: &ChainMac) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The 32 bytes that `text` spells in hex, if it does.
pub fn from_hex(text: &str) -> Option<ChainMac> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = [0_u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// The audit key named `id`, if this process holds it. Only the installed one for now; an
/// audit-key rotation would add the retired ones here (each event names the key that chained
/// it, each checkpoint and the head too).
fn audit_key(id: &str) -> Option<Key> {
    installed_audit_key().ok().filter(|key| key.id == id)
}

/// The audit key new events are chained with: the installed one.
fn installed_audit_key() -> Result<Key, StoreError> {
    Ok(keys::installed()?.audit.clone())
}

/// The chain's last position and MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: i64,
    pub mac: ChainMac,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_chain)]
struct HeadRow {
    position: i64,
    mac: Option<String>,
    key_id: Option<String>,
    signature: Option<String>,
}

/// What the head row says, once its signature is checked.
enum HeadState {
    /// The genesis is not sealed yet: the events up to `position` are from before the chain.
    Unsealed {
        position: i64,
    },
    Sealed(Head),
}

impl HeadRow {
    fn state(&self) -> Result<HeadState, String> {
        let Some(mac) = &self.mac else {
            return Ok(HeadState::Unsealed {
                position: self.position,
            });
        };
        let (Some(key_id), Some(signature)) = (&self.key_id, &self.signature) else {
            return Err("the chain's head carries no signature: it was altered".into());
        };
        let key = audit_key(key_id).ok_or_else(|| {
            format!("the chain's head is signed with the audit key {key_id:?}, which this process does not hold")
        })?;
        let (Some(mac), Some(signature)) = (from_hex(mac), from_hex(signature)) else {
            return Err("the chain's head is not well formed: it was altered".into());
        };
        if head_signature(&key, self.position, &mac) != signature {
            return Err(
                "the chain's head does not carry the audit key's signature: it was altered (moved back over removed events?), or the audit key is not the one that signed it"
                    .into(),
            );
        }
        Ok(HeadState::Sealed(Head {
            position: self.position,
            mac,
        }))
    }
}

fn read_head(conn: &mut DbConnection, lock: bool) -> Result<HeadRow, StoreError> {
    // Written per backend: the selection's type names its backend.
    let query = || audit_chain::table.filter(audit_chain::id.eq(1));
    let row = match conn {
        DbConnection::Postgres(pg) if lock => query()
            .select(HeadRow::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConnection::Postgres(pg) => query().select(HeadRow::as_select()).first(pg).optional()?,
        // The single writer: the write transaction this runs in is the only one.
        DbConnection::Sqlite(c) => query().select(HeadRow::as_select()).first(c).optional()?,
    };
    row.ok_or_else(|| StoreError::Corrupt("the audit chain's head row is missing".into()))
}

fn store_head(conn: &mut DbConnection, key: &Key, head: Head) -> Result<(), StoreError> {
    diesel::update(audit_chain::table.filter(audit_chain::id.eq(1)))
        .set((
            audit_chain::position.eq(head.position),
            audit_chain::mac.eq(to_hex(&head.mac)),
            audit_chain::key_id.eq(&key.id),
            audit_chain::signature.eq(to_hex(&head_signature(key, head.position, &head.mac))),
            audit_chain::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Locks the head until the transaction ends (PostgreSQL) and returns it, sealing the genesis
/// first if this is the first append since the migration. Refuses a head whose signature does
/// not hold: chaining after it would bless what was done to it.
fn lock_head(conn: &mut DbConnection) -> Result<Head, StoreError> {
    let row = read_head(conn, true)?;
    match row.state().map_err(StoreError::Corrupt)? {
        HeadState::Sealed(head) => Ok(head),
        HeadState::Unsealed { position } => seal_genesis(conn, position),
    }
}

/// Seals the events recorded before the chain (positions 1 to `through`, numbered by the
/// migration, without MAC): their chain is computed now and its last MAC signed in the genesis
/// checkpoint. Runs once, under the head's lock.
fn seal_genesis(conn: &mut DbConnection, through: i64) -> Result<Head, StoreError> {
    let key = installed_audit_key()?;
    let mut previous = ORIGIN;
    let mut sealed = 0_i64;
    let mut events = Events::new(0, Some(through));
    while let Some(event) = events.next(conn)? {
        let position = event.position.unwrap_or_default();
        previous = event_mac(&key, &previous, position, &event);
        sealed += 1;
    }
    write_checkpoint(
        conn,
        &key,
        CheckpointKind::Genesis,
        through,
        &previous,
        sealed,
    )?;
    let head = Head {
        position: through,
        mac: previous,
    };
    store_head(conn, &key, head)?;
    if sealed > 0 {
        log::info!(
            "audit trail: {sealed} event(s) recorded before the MAC chain sealed in its genesis checkpoint"
        );
    }
    Ok(head)
}

/// Checks the head and seals the genesis if it is not yet (`relais serve` at start-up, so that
/// the first request does not pay for it): fails if the head does not hold its signature.
pub fn open(conn: &mut DbConnection) -> Result<(), StoreError> {
    lock_head(conn).map(drop)
}

/// Gives `events` the next positions of the chain, their key id and MACs, inserts them, and
/// moves the head, all in the caller's transaction (whose commit releases the head).
pub(crate) fn append(
    conn: &mut DbConnection,
    events: &mut [ChainedEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = lock_head(conn)?;
    let key = installed_audit_key()?;
    let mut previous = head.mac;
    let mut position = head.position;
    for event in events.iter_mut() {
        position += 1;
        event.position = Some(position);
        event.key_id = Some(key.id.clone());
        let mac = event_mac(&key, &previous, position, event);
        event.mac = Some(to_hex(&mac));
        previous = mac;
    }
    // A multi-row insert, written for each backend (the multi-backend connection has none).
    for chunk in events.chunks(INSERT_CHUNK) {
        match conn {
            DbConnection::Postgres(c) => diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    store_head(
        conn,
        &key,
        Head {
            position,
            mac: previous,
        },
    )?;
    crate::audit_copy::record(events);
    Ok(())
}

/// What a checkpoint marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointKind {
    /// Where the chain begins; the events from before it are sealed in it.
    Genesis,
    /// The last event a retention purge deleted.
    Purge,
    /// The head when a retention purge ran.
    Head,
}

impl CheckpointKind {
    pub fn code(self) -> &'static str {
        match self {
            CheckpointKind::Genesis => "genesis",
            CheckpointKind::Purge => "purge",
            CheckpointKind::Head => "head",
        }
    }

    fn of_code(code: &str) -> Option<Self> {
        [Self::Genesis, Self::Purge, Self::Head]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// A signed statement: the chain's MAC at `position` is `mac`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    pub id: String,
    pub kind: String,
    pub position: i64,
    /// Hex.
    pub mac: String,
    /// Genesis: the events sealed; purge: the events deleted; head: 0.
    pub events: i64,
    pub at: NaiveDateTime,
    pub key_id: String,
    /// Hex.
    pub signature: String,
}

fn checkpoint_signature(key: &Key, c: &Checkpoint) -> ChainMac {
    let mut mac = hmac(key);
    mac.update(b"relais-audit-checkpoint-v1\0");
    put_text(&mut mac, &key.id);
    put_text(&mut mac, &c.id);
    put_text(&mut mac, &c.kind);
    mac.update(&c.position.to_be_bytes());
    put_text(&mut mac, &c.mac);
    mac.update(&c.events.to_be_bytes());
    mac.update(&c.at.and_utc().timestamp_micros().to_be_bytes());
    finish(mac)
}

impl Checkpoint {
    /// The kind and MAC, if the checkpoint carries the signature of an audit key held here.
    fn checked(&self) -> Result<(CheckpointKind, ChainMac), String> {
        let key = audit_key(&self.key_id).ok_or_else(|| {
            format!(
                "checkpoint {} ({}, position {}) is signed with the audit key {:?}, which this process does not hold",
                self.id, self.kind, self.position, self.key_id
            )
        })?;
        let forged = || {
            format!(
                "checkpoint {} ({}, position {}) does not carry the audit key's signature: it was altered or forged",
                self.id, self.kind, self.position
            )
        };
        let kind = CheckpointKind::of_code(&self.kind).ok_or_else(forged)?;
        let mac = from_hex(&self.mac).ok_or_else(forged)?;
        if from_hex(&self.signature) != Some(checkpoint_signature(&key, self)) {
            return Err(forged());
        }
        Ok((kind, mac))
    }
}

fn write_checkpoint(
    conn: &mut DbConnection,
    key: &Key,
    kind: CheckpointKind,
    position: i64,
    mac: &ChainMac,
    events: i64,
) -> Result<(), StoreError> {
    let mut checkpoint = Checkpoint {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.code().to_owned(),
        position,
        mac: to_hex(mac),
        events,
        at: now(),
        key_id: key.id.clone(),
        signature: String::new(),
    };
    checkpoint.signature = to_hex(&checkpoint_signature(key, &checkpoint));
    diesel::insert_into(audit_checkpoints::table)
        .values(&checkpoint)
        .execute(conn)?;
    Ok(())
}

/// Every checkpoint, by position then time.
fn checkpoints(conn: &mut DbConnection) -> Result<Vec<Checkpoint>, StoreError> {
    Ok(audit_checkpoints::table
        .select(Checkpoint::as_select())
        .order((
            audit_checkpoints::position.asc(),
            audit_checkpoints::at.asc(),
        ))
        .load(conn)?)
}

/// The events of the chain after a position, in order, read a page at a time.
struct Events {
    after: i64,
    through: Option<i64>,
    page: VecDeque<ChainedEvent>,
    exhausted: bool,
}

impl Events {
    fn new(after: i64, through: Option<i64>) -> Self {
        Self {
            after,
            through,
            page: VecDeque::new(),
            exhausted: false,
        }
    }

    fn fill(&mut self, conn: &mut DbConnection) -> Result<(), StoreError> {
        if !self.page.is_empty() || self.exhausted {
            return Ok(());
        }
        let mut query = audit_events::table
            .select(ChainedEvent::as_select())
            .filter(audit_events::position.gt(self.after))
            .order(audit_events::position.asc())
            .limit(PAGE)
            .into_boxed();
        if let Some(through) = self.through {
            query = query.filter(audit_events::position.le(through));
        }
        let page: Vec<ChainedEvent> = query.load(conn)?;
        self.exhausted = page.len() < PAGE as usize;
        if let Some(last) = page.last().and_then(|e| e.position) {
            self.after = last;
        }
        self.page.extend(page);
        Ok(())
    }

    fn next(&mut self, conn: &mut DbConnection) -> Result<Option<ChainedEvent>, StoreError> {
        self.fill(conn)?;
        Ok(self.page.pop_front())
    }

    fn peek(&mut self, conn: &mut DbConnection) -> Result<Option<&ChainedEvent>, StoreError> {
        self.fill(conn)?;
        Ok(self.page.front())
    }
}

/// The chain's MAC at `position`: the event's own for a chained event, computed from the
/// latest purge checkpoint (or the origin) for one recorded before the chain.
fn mac_at(conn: &mut DbConnection, position: i64) -> Result<ChainMac, StoreError> {
    let valid: Vec<(CheckpointKind, i64, ChainMac)> = checkpoints(conn)?
        .iter()
        .filter_map(|c| c.checked().ok().map(|(kind, mac)| (kind, c.position, mac)))
        .collect();
    let genesis = valid
        .iter()
        .find(|(kind, ..)| *kind == CheckpointKind::Genesis)
        .map_or(0, |(_, position, _)| *position);
    if position > genesis {
        let stored: Option<String> = audit_events::table
            .filter(audit_events::position.eq(position))
            .select(audit_events::mac)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten();
        return stored.as_deref().and_then(from_hex).ok_or_else(|| {
            StoreError::Corrupt(format!("the audit event at position {position} has no MAC"))
        });
    }
    let (after, mut previous) = valid
        .iter()
        .filter(|(kind, at, _)| *kind == CheckpointKind::Purge && *at <= position)
        .map(|(_, at, mac)| (*at, *mac))
        .next_back()
        .unwrap_or((0, ORIGIN));
    // The key that sealed the genesis (the installed one, until audit keys rotate).
    let key = installed_audit_key()?;
    let mut events = Events::new(after, Some(position));
    while let Some(event) = events.next(conn)? {
        previous = event_mac(&key, &previous, event.position.unwrap_or_default(), &event);
    }
    Ok(previous)
}

/// The last position the retention purge may delete, and how many events that is: the
/// chain's oldest events, up to the first one at or after `cutoff` (the chain is cut at one
/// point, so that the rest verifies from the checkpoint the purge leaves).
pub(crate) fn purgeable(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
) -> Result<Option<(i64, u64)>, StoreError> {
    // In position order, the first event still within its period: positions follow commits,
    // and `at` is the request's time, so they agree to within a request's duration.
    let first_kept: Option<i64> = audit_events::table
        .filter(audit_events::position.is_not_null())
        .filter(audit_events::at.ge(cutoff))
        .order(audit_events::position.asc())
        .select(audit_events::position)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let through = match first_kept {
        Some(kept) => kept - 1,
        None => audit_events::table
            .select(diesel::dsl::max(audit_events::position))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0),
    };
    let count: i64 = audit_events::table
        .filter(audit_events::position.le(through))
        .count()
        .get_result(conn)?;
    Ok((count > 0).then(|| (through, u64::try_from(count).unwrap_or(0))))
}

/// Deletes the chain's events older than `cutoff` (see [`purgeable`]) and leaves a purge
/// checkpoint at the last one, then a head checkpoint (if the head moved since the last one):
/// the retention purge's part of the audit trail. Returns how many events went.
pub(crate) fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize, StoreError> {
    // The genesis is sealed before anything is cut (once, under the head's lock); otherwise
    // the head is not locked, and the purge does not hold up the appends.
    if matches!(
        read_head(conn, false)?.state(),
        Ok(HeadState::Unsealed { .. })
    ) {
        lock_head(conn)?;
    }
    let key = installed_audit_key()?;
    let mut deleted = 0;
    if let Some((through, _)) = purgeable(conn, cutoff)? {
        let mac = mac_at(conn, through)?;
        deleted = diesel::delete(audit_events::table.filter(audit_events::position.le(through)))
            .execute(conn)?;
        write_checkpoint(
            conn,
            &key,
            CheckpointKind::Purge,
            through,
            &mac,
            i64::try_from(deleted).unwrap_or(i64::MAX),
        )?;
    }
    // The head as committed now; one that fails its signature is not signed over (verify
    // reports it).
    if let Ok(HeadState::Sealed(head)) = read_head(conn, false)?.state() {
        let last_marked: Option<i64> = audit_checkpoints::table
            .filter(audit_checkpoints::kind.eq(CheckpointKind::Head.code()))
            .select(diesel::dsl::max(audit_checkpoints::position))
            .first(conn)?;
        if last_marked.is_none_or(|p| p < head.position) {
            write_checkpoint(
                conn,
                &key,
                CheckpointKind::Head,
                head.position,
                &head.mac,
                0,
            )?;
        }
    }
    Ok(deleted)
}

/// What is wrong with the trail, naming the event where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The chain's head row failed its check.
    Head(String),
    /// A checkpoint failed its check (and is not used).
    Checkpoint(String),
    /// The event's columns no longer give its MAC, and the next event chains from its MAC.
    Edited { position: i64, id: String },
    /// The event's MAC is not the chain's, and the next event chains as if it were not there.
    Inserted { position: i64, id: String },
    /// The event's MAC does not follow from the event before it.
    Mismatch { position: i64, id: String },
    /// The event was chained with an audit key this process does not hold.
    UnknownKey {
        position: i64,
        id: String,
        key_id: String,
    },
    /// Positions `from..=to` are missing.
    Removed {
        from: i64,
        to: i64,
        before: Option<String>,
        after: Option<String>,
    },
    /// The events before the chain (`from..=to`) do not give the genesis checkpoint's MAC.
    BeforeGenesis { from: i64, to: i64 },
    /// A checkpoint names a MAC at its position that the chain does not have.
    CheckpointMismatch {
        kind: String,
        id: String,
        position: i64,
    },
    /// The last event's MAC is not the head's.
    HeadMismatch { position: i64 },
    /// An event where the chain has none: below the last purge, beyond the head, or without
    /// a position at all. `count` such events in all.
    Outside {
        id: String,
        position: Option<i64>,
        count: u64,
        why: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Head(why) | Problem::Checkpoint(why) => f.write_str(why),
            Problem::Edited { position, id } => write!(
                f,
                "event {id} at position {position} was edited: its columns no longer give its MAC (the next event still chains from it)"
            ),
            Problem::Inserted { position, id } => write!(
                f,
                "event {id} at position {position} was inserted: its MAC is not the chain's, and the next event chains as if it were not there (renumbered)"
            ),
            Problem::Mismatch { position, id } => write!(
                f,
                "event {id} at position {position} does not match its MAC: it was edited, inserted, or events before it were removed or renumbered"
            ),
            Problem::UnknownKey {
                position,
                id,
                key_id,
            } => write!(
                f,
                "event {id} at position {position} is chained with the audit key {key_id:?}, which this process does not hold"
            ),
            Problem::Removed {
                from,
                to,
                before,
                after,
            } => {
                let range = if from == to {
                    format!("the event at position {from} was removed")
                } else {
                    format!("the events at positions {from} to {to} were removed")
                };
                let before = before.as_deref().map_or_else(
                    || "the start of the walk".to_owned(),
                    |id| format!("event {id}"),
                );
                let after = after
                    .as_deref()
                    .map_or_else(|| "the head".to_owned(), |id| format!("event {id}"));
                write!(f, "{range} (between {before} and {after})")
            }
            Problem::BeforeGenesis { from, to } => write!(
                f,
                "the events recorded before the chain (positions {from} to {to}) do not match the genesis checkpoint: one of them was edited, removed or inserted"
            ),
            Problem::CheckpointMismatch { kind, id, position } => write!(
                f,
                "the {kind} checkpoint {id} at position {position} does not match the chain there"
            ),
            Problem::HeadMismatch { position } => write!(
                f,
                "the chain's head does not match the event at position {position}: the last event was edited or replaced"
            ),
            Problem::Outside {
                id,
                position,
                count,
                why,
            } => {
                let at = position.map_or_else(String::new, |p| format!(" at position {p}"));
                let more = if *count > 1 {
                    format!(" ({count} such events in all)")
                } else {
                    String::new()
                };
                write!(f, "event {id}{at} was inserted: {why}{more}")
            }
        }
    }
}

/// Where a verification started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The checkpoint (kind, id, time), or `None` for the chain's origin.
    pub checkpoint: Option<(CheckpointKind, String, NaiveDateTime)>,
    /// The last position before the walk.
    pub position: i64,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub start: Start,
    /// The head's position: the walk's last.
    pub head: i64,
    /// Events whose MAC was recomputed and matched, those before the chain included.
    pub verified: u64,
    /// Of them, events recorded before the chain, checked together against the genesis.
    pub before_genesis: u64,
    /// The genesis is not sealed yet (no write since the migration): the events before the
    /// chain are only counted.
    pub unsealed: bool,
    /// In the order met; at most [`MAX_PROBLEMS`].
    pub problems: Vec<Problem>,
    /// More problems than listed.
    pub more: bool,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.more = true;
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = match &self.start.checkpoint {
            None => "from the chain's origin".to_owned(),
            Some((kind, id, at)) => format!(
                "from the {} checkpoint {id} of {} (position {})",
                kind.code(),
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                self.start.position
            ),
        };
        if self.is_intact() && self.head <= self.start.position {
            write!(
                f,
                "audit trail OK: no event after position {}, {from}",
                self.head
            )?;
        } else if self.is_intact() {
            write!(
                f,
                "audit trail OK: {} event(s) verified, positions {} to {}, {from}",
                self.verified,
                self.start.position + 1,
                self.head
            )?;
            if self.before_genesis > 0 {
                write!(
                    f,
                    "; {} of them recorded before the chain, checked against its genesis checkpoint",
                    self.before_genesis
                )?;
            }
        } else {
            write!(
                f,
                "audit trail NOT intact ({from}, head at position {}): {}{} problem(s)",
                self.head,
                self.problems.len(),
                if self.more { "+" } else { "" }
            )?;
            for (i, problem) in self.problems.iter().enumerate() {
                write!(f, "\n  {}. {problem}", i + 1)?;
            }
            if self.more {
                write!(f, "\n  … and more, not listed")?;
            }
        }
        if self.unsealed && self.head > 0 {
            write!(
                f,
                "\nnote: the {} event(s) recorded before the chain are not sealed yet (the next audited access seals them)",
                self.head
            )?;
        }
        Ok(())
    }
}

/// Walks the chain in one snapshot and says whether it is intact, naming each problem.
/// It starts at the latest purge checkpoint (the events before it are gone), or with `from`,
/// at the latest checkpoint written at or before `from` (00:00 UTC) if that is later, so that
/// every event of that day and after is verified.
pub fn verify(
    conn: &mut DbConnection,
    from: Option<NaiveDate>,
) -> Result<Verification, StoreError> {
    conn.transaction(|conn| {
        if let DbConnection::Postgres(_) = conn {
            // One snapshot: appends and purges committing meanwhile are not seen half-way.
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        walk(conn, from)
    })
}

fn walk(conn: &mut DbConnection, from: Option<NaiveDate>) -> Result<Verification, StoreError> {
    let head_row = read_head(conn, false)?;
    let mut report = Verification {
        start: Start {
            checkpoint: None,
            position: 0,
        },
        head: head_row.position,
        verified: 0,
        before_genesis: 0,
        unsealed: false,
        problems: Vec::new(),
        more: false,
    };
    let head = match head_row.state() {
        Ok(HeadState::Sealed(head)) => Some(head),
        Ok(HeadState::Unsealed { .. }) => {
            report.unsealed = true;
            None
        }
        Err(why) => {
            report.problem(Problem::Head(why));
            // Walked as far as it claims all the same.
            head_row.mac.as_deref().and_then(from_hex).map(|mac| Head {
                position: head_row.position,
                mac,
            })
        }
    };
    let mut valid = Vec::new();
    for checkpoint in checkpoints(conn)? {
        match checkpoint.checked() {
            Ok((kind, mac)) => valid.push((kind, checkpoint, mac)),
            Err(why) => report.problem(Problem::Checkpoint(why)),
        }
    }
    let genesis = valid
        .iter()
        .find(|(kind, ..)| *kind == CheckpointKind::Genesis)
        .map(|(_, c, mac)| (c.position, *mac, c.key_id.clone()));
    if genesis.is_none() && !report.unsealed {
        report.problem(Problem::Checkpoint(
            "the genesis checkpoint is missing: it was deleted or forged".into(),
        ));
    }
    let last_purge = valid
        .iter()
        .filter(|(kind, ..)| *kind == CheckpointKind::Purge)
        .max_by_key(|(_, c, _)| c.position);
    let mut start = last_purge;
    if let Some(day) = from.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        let chosen = valid
            .iter()
            .filter(|(_, c, _)| c.at <= day)
            .max_by_key(|(_, c, _)| (c.position, c.at));
        if chosen.map(|(_, c, _)| c.position) > start.map(|(_, c, _)| c.position) {
            start = chosen;
        }
    }
    let (mut previous, after) = start.map_or((ORIGIN, 0), |(_, c, mac)| (*mac, c.position));
    report.start = Start {
        checkpoint: start.map(|(kind, c, _)| (*kind, c.id.clone(), c.at)),
        position: after,
    };

    // Events left below the last purge's cut were put there since.
    if let Some((_, purge, _)) = last_purge {
        outside(conn, &mut report, Outside::Below(purge.position))?;
    }

    // The events before the chain are checked with the key that sealed them, together.
    let genesis_key = genesis.as_ref().and_then(|(_, _, id)| audit_key(id));
    let sealed_through = match (&genesis, report.unsealed) {
        (_, true) => head_row.position,
        (Some((position, ..)), false) => *position,
        (None, false) => 0,
    };
    let mut at_position: HashMap<i64, Vec<&(CheckpointKind, Checkpoint, ChainMac)>> =
        HashMap::new();
    for checkpoint in &valid {
        at_position
            .entry(checkpoint.1.position)
            .or_default()
            .push(checkpoint);
    }
    let mut before_genesis_broken = false;
    let mut last: Option<(i64, String)> = None;
    let mut expected = after + 1;
    let through = head.map_or(head_row.position, |h| h.position);
    let mut events = Events::new(after, Some(through));
    while let Some(event) = events.next(conn)? {
        if report.more {
            break;
        }
        let position = event.position.unwrap_or_default();
        if position > expected {
            report.problem(Problem::Removed {
                from: expected,
                to: position - 1,
                before: last.as_ref().map(|(_, id)| id.clone()),
                after: Some(event.id.clone()),
            });
            if position <= sealed_through {
                before_genesis_broken = true;
            } else if let Some(mac) = event.mac.as_deref().and_then(from_hex) {
                // The event after a gap cannot be checked: the walk goes on from its MAC.
                previous = mac;
                expected = position + 1;
                last = Some((position, event.id.clone()));
                continue;
            }
        }
        if expected <= sealed_through && position > sealed_through {
            // Passing the genesis without meeting its last event: reported as a removal above.
            if let Some((_, mac, _)) = &genesis {
                previous = *mac;
            }
        }
        if position <= sealed_through {
            // Before the chain: no MAC stored; computed, and compared with the genesis.
            if let Some(key) = &genesis_key {
                previous = event_mac(key, &previous, position, &event);
            }
            report.before_genesis += 1;
            if !report.unsealed {
                report.verified += 1;
            }
            if position == sealed_through
                && let Some((_, mac, _)) = &genesis
            {
                if previous != *mac && !before_genesis_broken {
                    report.problem(Problem::BeforeGenesis {
                        from: after + 1,
                        to: sealed_through,
                    });
                }
                previous = *mac;
            }
        } else {
            let stored = event.mac.as_deref().and_then(from_hex);
            // An event without a key id is checked with the installed key (and fails).
            let key = match event.key_id.as_deref() {
                Some(id) => audit_key(id),
                None => Some(installed_audit_key()?),
            };
            match key {
                None => report.problem(Problem::UnknownKey {
                    position,
                    id: event.id.clone(),
                    key_id: event.key_id.clone().unwrap_or_default(),
                }),
                Some(key) => {
                    let computed = event_mac(&key, &previous, position, &event);
                    if stored == Some(computed) {
                        report.verified += 1;
                    } else {
                        let problem = diagnose(conn, &mut events, &event, &previous, stored)?;
                        report.problem(problem);
                    }
                    previous = stored.unwrap_or(computed);
                }
            }
        }
        for (kind, checkpoint, mac) in at_position.get(&position).into_iter().flatten() {
            if position > after && *mac != previous {
                report.problem(Problem::CheckpointMismatch {
                    kind: kind.code().to_owned(),
                    id: checkpoint.id.clone(),
                    position,
                });
            }
        }
        expected = position + 1;
        last = Some((position, event.id.clone()));
    }
    if !report.more {
        if expected <= through {
            report.problem(Problem::Removed {
                from: expected,
                to: through,
                before: last.as_ref().map(|(_, id)| id.clone()),
                after: None,
            });
        } else if let Some(head) = head
            && head.position > after
            && previous != head.mac
        {
            report.problem(Problem::HeadMismatch {
                position: head.position,
            });
        }
        outside(conn, &mut report, Outside::Beyond(through))?;
        outside(conn, &mut report, Outside::Unplaced)?;
    }
    Ok(report)
}

/// Where the chain has no event.
#[derive(Clone, Copy)]
enum Outside {
    /// At or below the last purge's cut.
    Below(i64),
    /// Beyond the head.
    Beyond(i64),
    /// Without a position.
    Unplaced,
}

impl Outside {
    fn query(self) -> audit_events::BoxedQuery<'static, Db> {
        let query = audit_events::table.into_boxed();
        match self {
            Outside::Below(p) => query.filter(audit_events::position.le(p)),
            Outside::Beyond(p) => query.filter(audit_events::position.gt(p)),
            Outside::Unplaced => query.filter(audit_events::position.is_null()),
        }
    }

    fn why(self) -> &'static str {
        match self {
            Outside::Below(_) => {
                "it lies below the last purge checkpoint, where the chain has no event left"
            }
            Outside::Beyond(_) => "it lies beyond the chain's head",
            Outside::Unplaced => "it has no position in the chain",
        }
    }
}

/// Reports the first event (and the count) where the chain has none.
fn outside(
    conn: &mut DbConnection,
    report: &mut Verification,
    place: Outside,
) -> Result<(), StoreError> {
    let first: Option<(String, Option<i64>)> = place
        .query()
        .order((audit_events::position.asc(), audit_events::id.asc()))
        .select((audit_events::id, audit_events::position))
        .first(conn)
        .optional()?;
    if let Some((id, position)) = first {
        let count: i64 = place.query().count().get_result(conn)?;
        report.problem(Problem::Outside {
            id,
            position,
            count: u64::try_from(count).unwrap_or(0),
            why: place.why(),
        });
    }
    Ok(())
}

/// Why `event`'s MAC does not follow from `previous`, judged from the next event: it chains
/// from `event`'s stored MAC (the event was edited), or from `previous` one position earlier
/// (the event was inserted and those after it renumbered).
fn diagnose(
    conn: &mut DbConnection,
    events: &mut Events,
    event: &ChainedEvent,
    previous: &ChainMac,
    stored: Option<ChainMac>,
) -> Result<Problem, StoreError> {
    let position = event.position.unwrap_or_default();
    let id = event.id.clone();
    let Some(next) = events.peek(conn)? else {
        return Ok(Problem::Mismatch { position, id });
    };
    let next_position = next.position.unwrap_or_default();
    let next_mac = next.mac.as_deref().and_then(from_hex);
    let Some(key) = next.key_id.as_deref().and_then(audit_key) else {
        return Ok(Problem::Mismatch { position, id });
    };
    if next_position == position + 1
        && let Some(stored) = stored
        && next_mac == Some(event_mac(&key, &stored, next_position, next))
    {
        return Ok(Problem::Edited { position, id });
    }
    if next_mac == Some(event_mac(&key, previous, next_position - 1, next)) {
        return Ok(Problem::Inserted { position, id });
    }
    Ok(Problem::Mismatch { position, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key {
            id: "k".into(),
            bytes: [byte; 32],
        }
    }

    fn event() -> ChainedEvent {
        ChainedEvent {
            id: "0190b2a4-0000-7000-8000-000000000001".into(),
            at: chrono::DateTime::from_timestamp(1_773_484_927, 123_456_000)
                .unwrap_or_default()
                .naive_utc(),
            subject: "sw".into(),
            role: "social_worker".into(),
            action: "get_situation".into(),
            record_type: Some("situation".into()),
            record_id: Some("r".into()),
            post_id: None,
            beneficiary_id: None,
            outcome: "success".into(),
            status: 200,
            position: None,
            mac: None,
            key_id: None,
        }
    }

    /// The padded-key constructor is HMAC with the key as given (RFC 2104).
    #[test]
    fn the_padded_key_gives_the_standard_hmac() {
        let k = key(0x0b);
        let mut standard =
            <HmacSha256 as Mac>::new_from_slice(&k.bytes).unwrap_or_else(|_| hmac(&key(0)));
        standard.update(b"Hi There");
        let mut ours = hmac(&k);
        ours.update(b"Hi There");
        assert_eq!(finish(standard), finish(ours));
    }

    /// Each column, the position, the previous MAC and the key change the MAC; `None` and
    /// `Some("")` differ, and so do fields moved from one column to the next.
    #[test]
    fn the_mac_covers_every_column_and_the_chain() {
        let base = event_mac(&key(1), &ORIGIN, 1, &event());
        let changed = |f: &dyn Fn(&mut ChainedEvent)| {
            let mut e = event();
            f(&mut e);
            event_mac(&key(1), &ORIGIN, 1, &e)
        };
        let variants = [
            changed(&|e| e.id.push('x')),
            changed(&|e| e.at += chrono::Duration::microseconds(1)),
            changed(&|e| e.subject = "other".into()),
            changed(&|e| e.role = "coordinator".into()),
            changed(&|e| e.action = "list_situations".into()),
            changed(&|e| e.record_type = None),
            changed(&|e| e.record_id = Some(String::new())),
            changed(&|e| e.post_id = Some("r".into())),
            changed(&|e| e.beneficiary_id = Some(String::new())),
            changed(&|e| e.outcome = "denied".into()),
            changed(&|e| e.status = 403),
            changed(&|e| {
                e.subject = "s".into();
                e.role = "wsocial_worker".into();
            }),
            event_mac(&key(1), &ORIGIN, 2, &event()),
            event_mac(&key(1), &[1; 32], 1, &event()),
            event_mac(&key(2), &ORIGIN, 1, &event()),
        ];
        for (i, variant) in variants.iter().enumerate() {
            assert_ne!(*variant, base, "variant {i}");
        }
        // The stored chain columns are not covered (the MAC is their value).
        assert_eq!(
            changed(&|e| {
                e.mac = Some("x".into());
                e.position = Some(9);
            }),
            base
        );
    }

    #[test]
    fn hex_round_trips() {
        let mac = event_mac(&key(3), &ORIGIN, 1, &event());
        assert_eq!(from_hex(&to_hex(&mac)), Some(mac));
        assert_eq!(from_hex("00"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
