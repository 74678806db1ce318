//! `list_worklist`: what waits on the reader, oldest first — for a post's staff, the referrals
//! to take up, the hand-offs waiting for a partner, those to hand to another partner, the drafts
//! without consent and the situations left idle; for a partner's system, the hand-offs waiting
//! for its answer or its outcome. Ids, kinds and dates only: no personal data.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use relais_domain::access::Principal;
use relais_domain::follow_up::Deadlines;
use relais_domain::hand_off::{Consent, HandOff};
use relais_domain::ids::{PostId, SituationId};
use relais_domain::reference::{
    AuditedRecord, HandOffStatus, ReferralStatus, Role, SituationStatus, WorkKind,
};
use relais_persistence::hand_offs::{self, HandOffFilter};
use relais_persistence::referrals::ReferralScope;
use relais_persistence::situations::SituationFilter;
use relais_persistence::{DbConnection, PageRequest, interventions, referrals, situations};

use super::{Outcome, WorkflowError};

/// Far more than a post holds at once: the worklist is read whole, then paged.
const ALL: PageRequest = PageRequest {
    limit: 100_000,
    cursor: None,
};

/// One thing that waits on the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub kind: WorkKind,
    pub record_type: AuditedRecord,
    pub record_id: String,
    pub post_id: PostId,
    /// Since when it waits: received, sent or acknowledged, declined or expired, drafted, or the
    /// last intervention (or the opening) of an idle situation.
    pub since: DateTime<Utc>,
    /// Past its deadline: a hand-off unanswered for `RELAIS_HAND_OFF_REMIND_DAYS`, an accepted one
    /// without outcome for `RELAIS_HAND_OFF_OUTCOME_DAYS`, a referral waiting as long as a
    /// reminder would.
    pub overdue: bool,
}

/// What the worklist counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorklistSettings {
    pub deadlines: Deadlines,
    /// `RELAIS_IDLE_SITUATION_DAYS` (default 30).
    pub idle_days: u32,
}

impl Default for WorklistSettings {
    fn default() -> Self {
        Self {
            deadlines: Deadlines::default(),
            idle_days: 30,
        }
    }
}

fn past(since: DateTime<Utc>, days: u32, now: DateTime<Utc>) -> bool {
    now >= since + Duration::days(i64::from(days))
}

fn of_hand_off(
    hand_off: &HandOff,
    kind: WorkKind,
    since: DateTime<Utc>,
    overdue: bool,
) -> WorkItem {
    WorkItem {
        kind,
        record_type: AuditedRecord::HandOff,
        record_id: hand_off.id.to_string(),
        post_id: hand_off.post_id,
        since,
        overdue,
    }
}

/// The reader's worklist, oldest first.
pub fn of(
    conn: &mut DbConnection,
    reader: &Principal,
    settings: &WorklistSettings,
    now: DateTime<Utc>,
) -> Outcome<Vec<WorkItem>> {
    let mut items = match (reader.role, reader.partner_id) {
        (Role::SocialWorker | Role::Coordinator, _) => {
            posts_work(conn, reader.readable_case_posts(), settings, now)?
        }
        (Role::Partner, Some(partner)) => {
            let filter = HandOffFilter {
                partner: Some(partner),
                ..HandOffFilter::default()
            };
            let d = settings.deadlines;
            hand_offs::list(conn, &filter, &ALL)?
                .items
                .iter()
                .filter_map(|h| {
                    let since = h.meta.updated_at;
                    match h.status {
                        HandOffStatus::Sent | HandOffStatus::Received => Some(of_hand_off(
                            h,
                            WorkKind::HandOffToAnswer,
                            since,
                            past(since, d.remind_days, now),
                        )),
                        HandOffStatus::Accepted => Some(of_hand_off(
                            h,
                            WorkKind::HandOffOutcomeDue,
                            since,
                            past(since, d.outcome_days, now),
                        )),
                        _ => None,
                    }
                })
                .collect()
        }
        (role, _) => {
            return Err(WorkflowError::Forbidden(format!(
                "the role {role} has no worklist"
            )));
        }
    };
    items.sort_by(|a, b| (a.since, &a.record_id).cmp(&(b.since, &b.record_id)));
    Ok(items)
}

fn posts_work(
    conn: &mut DbConnection,
    posts: &[PostId],
    settings: &WorklistSettings,
    now: DateTime<Utc>,
) -> Outcome<Vec<WorkItem>> {
    let d = settings.deadlines;
    let mut items = Vec::new();
    let scope = ReferralScope::Posts(posts.to_vec());
    for referral in referrals::list(conn, &scope, Some(ReferralStatus::Received), &ALL)?.items {
        let since = referral.meta.created_at;
        items.push(WorkItem {
            kind: WorkKind::ReferralToTakeUp,
            record_type: AuditedRecord::Referral,
            record_id: referral.id.to_string(),
            post_id: referral.post_id,
            since,
            overdue: past(since, d.remind_days, now),
        });
    }
    let filter = HandOffFilter {
        posts: Some(posts.to_vec()),
        ..HandOffFilter::default()
    };
    // Newest first, so that the first hand-off met of a situation is its latest.
    let all = hand_offs::list(conn, &filter, &ALL)?.items;
    let mut latest_of: std::collections::HashMap<SituationId, &HandOff> =
        std::collections::HashMap::new();
    for hand_off in all.iter().filter(|h| h.status != HandOffStatus::Cancelled) {
        latest_of.entry(hand_off.situation_id).or_insert(hand_off);
    }
    for hand_off in &all {
        let since = hand_off.meta.updated_at;
        match hand_off.status {
            HandOffStatus::Sent | HandOffStatus::Received => items.push(of_hand_off(
                hand_off,
                WorkKind::HandOffAwaitingPartner,
                since,
                past(since, d.remind_days, now),
            )),
            HandOffStatus::Declined | HandOffStatus::Expired
                if latest_of
                    .get(&hand_off.situation_id)
                    .is_some_and(|latest| latest.id == hand_off.id) =>
            {
                items.push(of_hand_off(
                    hand_off,
                    WorkKind::HandOffToReorient,
                    since,
                    false,
                ));
            }
            HandOffStatus::Draft if hand_off.legal_exception.is_none() => {
                let consented = hand_offs::consent(conn, hand_off.id)?
                    .as_ref()
                    .and_then(Consent::in_force)
                    .is_some();
                if !consented {
                    let since = hand_off.meta.created_at;
                    items.push(of_hand_off(
                        hand_off,
                        WorkKind::DraftWithoutConsent,
                        since,
                        false,
                    ));
                }
            }
            _ => {}
        }
    }
    let open = SituationFilter {
        posts: posts.to_vec(),
        status: Some(SituationStatus::Open),
        ..SituationFilter::default()
    };
    let situations = situations::list(conn, &open, &ALL)?.items;
    let ids: Vec<SituationId> = situations.iter().map(|s| s.id).collect();
    let latest = interventions::latest_days(conn, &ids)?;
    for situation in situations {
        let last_day: NaiveDate = latest
            .get(&situation.id)
            .copied()
            .unwrap_or(situation.details.opened_on)
            .max(situation.details.opened_on);
        let since = last_day.and_time(chrono::NaiveTime::MIN).and_utc();
        if past(since, settings.idle_days, now) {
            items.push(WorkItem {
                kind: WorkKind::IdleSituation,
                record_type: AuditedRecord::Situation,
                record_id: situation.id.to_string(),
                post_id: situation.post_id,
                since,
                overdue: true,
            });
        }
    }
    Ok(items)
}
