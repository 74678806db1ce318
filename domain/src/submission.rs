//! Submitted statistics: a post's grid for a period, frozen when its coordinator submits it.
//! Later changes to the cases do not alter a submission; submitting again makes a new version,
//! which lists its differences from the one before, cell by cell.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PostId, SubmissionId};
use crate::statistics::Statistics;
use crate::validation::Invalid;

/// The key under which a difference in an indicator's total is listed.
pub const TOTAL: &str = "total";

/// One version of a post's submitted grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submission {
    pub id: SubmissionId,
    pub post_id: PostId,
    /// 1 for the first submission of the post for this grid version and period, then 2, 3…
    #[cfg_attr(feature = "openapi", schema(example = 2))]
    pub version: i64,
    /// The grid version the figures were counted with.
    #[cfg_attr(feature = "openapi", schema(example = "2026"))]
    pub grid: String,
    #[cfg_attr(feature = "openapi", schema(example = "2026-01-01"))]
    pub from: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-31"))]
    pub to: NaiveDate,
    pub submitted_at: DateTime<Utc>,
    /// The coordinator who submitted (the token's subject).
    #[cfg_attr(feature = "openapi", schema(example = "coordinatrice-07"))]
    pub submitted_by: String,
    /// What changed since the previous version (empty for version 1).
    pub differences: Vec<Difference>,
    /// The figures as they were counted when submitted.
    pub statistics: Statistics,
}

/// A cell whose count differs between two versions of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Difference {
    #[cfg_attr(feature = "openapi", schema(example = "persons_by_sex"))]
    pub indicator: String,
    /// The value of the split, or `total` for the indicator's total.
    #[cfg_attr(feature = "openapi", schema(example = "female"))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(example = 41))]
    pub before: i64,
    #[cfg_attr(feature = "openapi", schema(example = 42))]
    pub after: i64,
}

/// Checks that a submission's period is whole calendar months: it starts on a first day and
/// ends on a last day (the rule of wider scopes, one month at least).
pub fn check_whole_months(from: NaiveDate, to: NaiveDate) -> Result<(), Invalid> {
    crate::disclosure::check_whole_months(from, to, 1, "submissions")
}

/// Checks a submission's period against `today`: whole calendar months (see
/// [`check_whole_months`]) that have begun. A period not yet begun has no figures to freeze; its
/// zeros would be read as the post's and the post no longer listed as missing.
pub fn check_period(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Result<(), Invalid> {
    check_whole_months(from, to)?;
    if from > today {
        return Err(Invalid::one(
            "from",
            "in_future",
            format!("the period has not begun: it can be submitted from {from}"),
        ));
    }
    Ok(())
}

/// Every cell of a grid, `(indicator, key) → count`, totals under [`TOTAL`]; `None` where the
/// count is suppressed (a published grid).
fn cells(stats: &Statistics) -> Vec<(String, String, Option<i64>)> {
    let mut cells = Vec::new();
    for indicator in &stats.indicators {
        cells.push((indicator.id.clone(), TOTAL.to_owned(), indicator.total));
        for value in &indicator.values {
            cells.push((indicator.id.clone(), value.key.clone(), value.count));
        }
    }
    cells
}

/// The cells whose counts differ from `before` to `after`, in `after`'s order, then the cells
/// only `before` had (a cell missing on one side counts 0 there). A cell suppressed on either
/// side is not listed: a difference never shows a count its grid does not.
pub fn differences(before: &Statistics, after: &Statistics) -> Vec<Difference> {
    let old = cells(before);
    let new = cells(after);
    let find = |cells: &[(String, String, Option<i64>)], indicator: &str, key: &str| {
        cells
            .iter()
            .find(|(i, k, _)| i == indicator && k == key)
            .map(|(_, _, n)| *n)
    };
    let mut listed: Vec<Difference> = new
        .iter()
        .filter_map(|(indicator, key, after)| {
            let before = find(&old, indicator, key).unwrap_or(Some(0))?;
            let after = (*after)?;
            (before != after).then(|| Difference {
                indicator: indicator.clone(),
                key: key.clone(),
                before,
                after,
            })
        })
        .collect();
    listed.extend(old.iter().filter_map(|(indicator, key, before)| {
        let before = (*before)?;
        (find(&new, indicator, key).is_none() && before != 0).then(|| Difference {
            indicator: indicator.clone(),
            key: key.clone(),
            before,
            after: 0,
        })
    }));
    listed
}

/// The versions of a post's submissions as a reader outside the post sees them (the
/// observatory): each grid through disclosure control (`k_of` gives the grid version's
/// threshold), and each version's differences listed again between the published grids of it
/// and of the version before, so that no difference shows a suppressed count. `all` holds every
/// version of the post (the one before each is found there).
pub fn published(
    wanted: Vec<Submission>,
    all: &[Submission],
    k_of: impl Fn(&str) -> u32,
) -> Vec<Submission> {
    let publish =
        |s: &Submission| crate::disclosure::suppress_small_counts(&s.statistics, k_of(&s.grid));
    wanted
        .into_iter()
        .map(|mut submission| {
            let statistics = publish(&submission);
            let before = all.iter().find(|p| {
                p.grid == submission.grid
                    && p.from == submission.from
                    && p.to == submission.to
                    && p.version == submission.version - 1
            });
            submission.differences = before
                .map(|p| differences(&publish(p), &statistics))
                .unwrap_or_default();
            submission.statistics = statistics;
            submission
        })
        .collect()
}

/// Adds `part`'s counts into `sum`, cell by cell: the grid of several posts is the sum of
/// theirs (each person belongs to one post's records, so persons add up too). A value `sum`
/// does not list yet is appended.
pub fn add_into(sum: &mut Statistics, part: &Statistics) {
    for indicator in &part.indicators {
        let Some(target) = sum.indicators.iter_mut().find(|i| i.id == indicator.id) else {
            sum.indicators.push(indicator.clone());
            continue;
        };
        target.total = sum_of(target.total, indicator.total);
        for value in &indicator.values {
            match target.values.iter_mut().find(|v| v.key == value.key) {
                Some(existing) => existing.count = sum_of(existing.count, value.count),
                None => target.values.push(value.clone()),
            }
        }
    }
}

/// Two counts added; unknown if either is (submitted grids are exact: neither ever is).
fn sum_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    Some(a? + b?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;
    use crate::statistics::assemble;

    fn grid() -> Grid {
        Grid::from_toml(include_str!("../../grids/2026.toml")).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn stats(rows: &[(i32, Option<&str>, i64)]) -> Statistics {
        let grid = grid();
        let rows: Vec<_> = rows
            .iter()
            .map(|(i, k, n)| (*i, k.map(str::to_owned), *n))
            .collect();
        assemble(&grid, day(2026, 1, 1), day(2026, 12, 31), "x".into(), &rows)
    }

    fn by_sex() -> i32 {
        i32::try_from(
            grid()
                .indicators
                .iter()
                .position(|i| i.id == "persons_by_sex")
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_submission_covers_whole_calendar_months() {
        assert!(check_whole_months(day(2026, 1, 1), day(2026, 12, 31)).is_ok());
        assert!(check_whole_months(day(2024, 2, 1), day(2024, 2, 29)).is_ok());
        let wrong = check_whole_months(day(2026, 1, 2), day(2026, 12, 30)).unwrap_err();
        let fields: Vec<&str> = wrong.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);
        assert!(check_whole_months(day(2026, 2, 1), day(2026, 2, 28)).is_ok());
        assert!(check_whole_months(day(2024, 2, 1), day(2024, 2, 28)).is_err());
    }

    #[test]
    fn differences_list_each_changed_cell_with_before_and_after() {
        let by_sex = by_sex();
        let first = stats(&[(-1, None, 3), (by_sex, Some("female"), 3)]);
        let second = stats(&[
            (-1, None, 4),
            (by_sex, Some("female"), 3),
            (by_sex, Some("male"), 1),
        ]);
        let listed = differences(&first, &second);
        let cells: Vec<(&str, &str, i64, i64)> = listed
            .iter()
            .map(|d| (d.indicator.as_str(), d.key.as_str(), d.before, d.after))
            .collect();
        assert!(cells.contains(&("persons", TOTAL, 3, 4)));
        assert!(cells.contains(&("persons_by_sex", TOTAL, 3, 4)));
        assert!(cells.contains(&("persons_by_sex", "male", 0, 1)));
        assert!(!cells.iter().any(|c| c.1 == "female"));
        assert!(differences(&second, &second).is_empty());
    }

    #[test]
    fn published_versions_show_no_difference_of_a_suppressed_count() {
        let by_sex = by_sex();
        let version = |n: i64, statistics: Statistics| Submission {
            id: SubmissionId::generate(),
            post_id: PostId::generate(),
            version: n,
            grid: "2026".into(),
            from: day(2026, 1, 1),
            to: day(2026, 12, 31),
            submitted_at: day(2026, 12, 1).and_hms_opt(9, 0, 0).unwrap().and_utc(),
            submitted_by: "coordinatrice".into(),
            differences: Vec::new(),
            statistics,
        };
        let first = stats(&[
            (-1, None, 12),
            (by_sex, Some("female"), 10),
            (by_sex, Some("male"), 2),
        ]);
        let second = stats(&[
            (-1, None, 23),
            (by_sex, Some("female"), 20),
            (by_sex, Some("male"), 3),
        ]);
        let mut v2 = version(2, second.clone());
        v2.differences = differences(&first, &second);
        let all = vec![version(1, first), v2.clone()];
        // Exact, the differences give male 2 → 3.
        assert!(v2.differences.iter().any(|d| d.key == "male"));
        let published = published(vec![v2], &all, |_| 5);
        let shown = &published[0];
        let male = |s: &Statistics| {
            s.indicators
                .iter()
                .find(|i| i.id == "persons_by_sex")
                .unwrap()
                .values
                .iter()
                .find(|v| v.key == "male")
                .unwrap()
                .count
        };
        assert_eq!(male(&shown.statistics), None);
        assert!(shown.differences.iter().all(|d| d.key != "male"));
        // What is published in both versions still reads as a difference.
        assert!(
            shown
                .differences
                .iter()
                .any(|d| d.indicator == "persons" && d.before == 12 && d.after == 23)
        );
    }

    #[test]
    fn the_sum_of_two_grids_adds_every_cell() {
        let by_sex = by_sex();
        let mut sum = stats(&[]);
        add_into(
            &mut sum,
            &stats(&[(-1, None, 2), (by_sex, Some("female"), 2)]),
        );
        add_into(
            &mut sum,
            &stats(&[(-1, None, 1), (by_sex, Some("male"), 1)]),
        );
        let persons = sum.indicators.iter().find(|i| i.id == "persons_by_sex");
        let persons = persons.unwrap();
        assert_eq!(persons.total, Some(3));
        let count = |key: &str| persons.values.iter().find(|v| v.key == key).unwrap().count;
        assert_eq!((count("female"), count("male")), (Some(2), Some(1)));
    }
}
