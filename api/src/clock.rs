//! The one source of "now". Everything that needs the time takes it as a parameter, read from a
//! [`Clock`] at the edge (a request, a job's run, a command), so that a test or a job run with
//! `--as-of` can move time. `Utc::now()` is banned everywhere else (clippy.toml).

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Where the time comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared by the workers of a server.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the system's time.
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant, for tests and runs `--as-of` a date.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// "Today" for date checks at `now`: the calendar day at UTC+12, the furthest ahead of France's
/// time zones, so that no French territory ever sees its own today refused as "in the future".
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(12)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stays_put_and_stored_instants_keep_microseconds() {
        use relais_persistence::stored;
        let at = DateTime::parse_from_rfc3339("2026-03-14T10:42:07.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = FixedClock(at);
        assert_eq!(clock.now(), clock.now());
        assert_eq!(stored(at).and_utc().timestamp_subsec_nanos(), 123_456_000);
    }
}
