//! What the follow-up job reads and writes: the hand-offs that may wait on a partner, with the
//! dates of their history, and the reminders sent (`hand_off_reminders`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use relais_domain::follow_up::Waiting;
use relais_domain::ids::HandOffId;
use relais_domain::reference::{CodeList, HandOffStatus, ReminderKind};

use crate::convert::{parse, stored};
use crate::schema::{hand_off_reminders, hand_off_transitions, hand_offs};
use crate::{DbConnection, StoreError};

/// A hand-off the follow-up looks at, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: HandOffId,
    pub waiting: Waiting,
}

/// Every hand-off sent, received or accepted, oldest first, with when it was sent and accepted
/// (the last such move of its history) and the reminders it was sent.
pub fn candidates(conn: &mut DbConnection) -> Result<Vec<Candidate>, StoreError> {
    let waiting = [
        HandOffStatus::Sent,
        HandOffStatus::Received,
        HandOffStatus::Accepted,
    ]
    .map(CodeList::code);
    let rows: Vec<(String, String)> = hand_offs::table
        .filter(hand_offs::status.eq_any(waiting))
        .order(hand_offs::id)
        .select((hand_offs::id, hand_offs::status))
        .load(conn)?;
    let ids: Vec<&String> = rows.iter().map(|(id, _)| id).collect();
    let mut moved: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String, chrono::NaiveDateTime)> = hand_off_transitions::table
            .filter(hand_off_transitions::hand_off_id.eq_any(chunk.iter().copied()))
            .filter(
                hand_off_transitions::to_status
                    .eq_any([HandOffStatus::Sent.code(), HandOffStatus::Accepted.code()]),
            )
            .select((
                hand_off_transitions::hand_off_id,
                hand_off_transitions::to_status,
                hand_off_transitions::at,
            ))
            .load(conn)?;
        for (id, to, at) in found {
            let at = at.and_utc();
            let entry = moved.entry((id, to)).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    let mut reminded: HashMap<String, Vec<ReminderKind>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String)> = hand_off_reminders::table
            .filter(hand_off_reminders::hand_off_id.eq_any(chunk.iter().copied()))
            .select((hand_off_reminders::hand_off_id, hand_off_reminders::kind))
            .load(conn)?;
        for (id, kind) in found {
            let kind = parse("hand_off_reminders.kind", &kind)?;
            reminded.entry(id).or_default().push(kind);
        }
    }
    rows.into_iter()
        .map(|(id, status)| {
            let at = |to: HandOffStatus| moved.get(&(id.clone(), to.code().to_owned())).copied();
            Ok(Candidate {
                waiting: Waiting {
                    status: parse("hand_offs.status", &status)?,
                    sent_at: at(HandOffStatus::Sent),
                    accepted_at: at(HandOffStatus::Accepted),
                    reminded: reminded.remove(&id).unwrap_or_default(),
                },
                id: parse("hand_offs.id", &id)?,
            })
        })
        .collect()
}

/// Records that `kind` was sent for the hand-off; `false` if it already was (by another run or
/// replica), in which case the caller sends nothing.
pub fn record_reminder(
    conn: &mut DbConnection,
    id: HandOffId,
    kind: ReminderKind,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = (
        hand_off_reminders::hand_off_id.eq(id.to_string()),
        hand_off_reminders::kind.eq(kind.code()),
        hand_off_reminders::sent_at.eq(stored(at)),
    );
    // A concurrent run's insert waits for the first to commit, then inserts nothing.
    let inserted = match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(hand_off_reminders::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(sqlite) => diesel::insert_or_ignore_into(hand_off_reminders::table)
            .values(row)
            .execute(sqlite)?,
    };
    Ok(inserted == 1)
}
