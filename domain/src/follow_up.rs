//! The follow-up of hand-offs (DORA's timers): a hand-off sent and not acknowledged is reminded,
//! one left unanswered expires, one accepted and not completed is reminded for its outcome.
//! What is due is decided here, from the hand-off's status and the dates of its history; the
//! job (`relais follow-up`, and inside `relais serve`) acts on it through the workflows.

use chrono::{DateTime, Duration, Utc};

use crate::reference::{HandOffStatus, ReminderKind};

/// The deadlines, in days; see README.md for the settings that give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// `RELAIS_HAND_OFF_REMIND_DAYS`: sent and not acknowledged → reminded (default 10).
    pub remind_days: u32,
    /// `RELAIS_HAND_OFF_EXPIRE_DAYS`: sent and neither accepted nor declined → expired (30).
    pub expire_days: u32,
    /// `RELAIS_HAND_OFF_OUTCOME_DAYS`: accepted and not completed → reminded for its outcome (90).
    pub outcome_days: u32,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            remind_days: 10,
            expire_days: 30,
            outcome_days: 90,
        }
    }
}

/// What the follow-up owes a hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Remind(ReminderKind),
    Expire,
}

/// Where a hand-off stands for its follow-up: its status, when it was sent and accepted (from
/// its history), and the reminders already sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub status: HandOffStatus,
    pub sent_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub reminded: Vec<ReminderKind>,
}

fn past(since: Option<DateTime<Utc>>, days: u32, now: DateTime<Utc>) -> bool {
    since.is_some_and(|since| now >= since + Duration::days(i64::from(days)))
}

impl Deadlines {
    /// What is due at `now`, if anything: expiry first (a hand-off that expires is not also
    /// reminded), each reminder once.
    pub fn due(&self, waiting: &Waiting, now: DateTime<Utc>) -> Option<Due> {
        let reminded = |kind| waiting.reminded.contains(&kind);
        match waiting.status {
            HandOffStatus::Sent | HandOffStatus::Received
                if past(waiting.sent_at, self.expire_days, now) =>
            {
                Some(Due::Expire)
            }
            HandOffStatus::Sent
                if past(waiting.sent_at, self.remind_days, now)
                    && !reminded(ReminderKind::Answer) =>
            {
                Some(Due::Remind(ReminderKind::Answer))
            }
            HandOffStatus::Accepted
                if past(waiting.accepted_at, self.outcome_days, now)
                    && !reminded(ReminderKind::Outcome) =>
            {
                Some(Due::Remind(ReminderKind::Outcome))
            }
            _ => None,
        }
    }

    /// When the earliest deadline of a status falls, for the queries that find candidates.
    pub fn earliest_days(&self) -> u32 {
        self.remind_days
            .min(self.expire_days)
            .min(self.outcome_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_773_484_800, 0).unwrap_or_default() + Duration::days(n)
    }

    fn sent(status: HandOffStatus, reminded: Vec<ReminderKind>) -> Waiting {
        Waiting {
            status,
            sent_at: Some(day(0)),
            accepted_at: None,
            reminded,
        }
    }

    #[test]
    fn a_sent_hand_off_is_reminded_at_day_ten_and_not_before_then_expires_at_thirty() {
        let d = Deadlines::default();
        let waiting = sent(HandOffStatus::Sent, vec![]);
        assert_eq!(d.due(&waiting, day(9)), None);
        assert_eq!(
            d.due(&waiting, day(10)),
            Some(Due::Remind(ReminderKind::Answer))
        );
        let reminded = sent(HandOffStatus::Sent, vec![ReminderKind::Answer]);
        assert_eq!(d.due(&reminded, day(29)), None, "reminded once");
        assert_eq!(d.due(&reminded, day(30)), Some(Due::Expire));
        // Acknowledged but not answered: no reminder, but it expires all the same.
        let received = sent(HandOffStatus::Received, vec![]);
        assert_eq!(d.due(&received, day(12)), None);
        assert_eq!(d.due(&received, day(30)), Some(Due::Expire));
    }

    #[test]
    fn an_accepted_hand_off_is_reminded_for_its_outcome_once() {
        let d = Deadlines::default();
        let mut waiting = Waiting {
            status: HandOffStatus::Accepted,
            sent_at: Some(day(0)),
            accepted_at: Some(day(5)),
            reminded: vec![],
        };
        assert_eq!(d.due(&waiting, day(94)), None);
        assert_eq!(
            d.due(&waiting, day(95)),
            Some(Due::Remind(ReminderKind::Outcome))
        );
        waiting.reminded.push(ReminderKind::Outcome);
        assert_eq!(d.due(&waiting, day(400)), None);
    }

    #[test]
    fn settings_move_the_deadlines_and_final_states_owe_nothing() {
        let d = Deadlines {
            remind_days: 2,
            expire_days: 5,
            outcome_days: 7,
        };
        assert_eq!(
            d.due(&sent(HandOffStatus::Sent, vec![]), day(2)),
            Some(Due::Remind(ReminderKind::Answer))
        );
        assert_eq!(
            d.due(&sent(HandOffStatus::Sent, vec![]), day(5)),
            Some(Due::Expire)
        );
        for status in [
            HandOffStatus::Draft,
            HandOffStatus::Declined,
            HandOffStatus::Completed,
            HandOffStatus::Cancelled,
            HandOffStatus::Expired,
        ] {
            assert_eq!(d.due(&sent(status, vec![]), day(1000)), None, "{status}");
        }
    }
}
