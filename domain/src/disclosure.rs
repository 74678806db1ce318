//! Disclosure control: what statistics wider than the caller's own posts may publish.
//!
//! Applied to an assembled grid, after aggregation, never before: any source of a grid (the
//! database, an imported submission) passes through [`suppress_small_counts`].
//!
//! - **Primary suppression.** A count `n` with `0 < n < k` is not published. Zeros are: "nobody"
//!   singles nobody out, and hiding them would hide most of a small post's grid.
//! - **Secondary suppression.** A reader knows how the grid adds up: the values of a split that
//!   does not overlap add up to the indicator's total, every indicator counting the same thing
//!   shares that total (the total of `persons_by_sex` is `persons`), two indicators with the same
//!   split show the same cells, and the hand-offs' results other than `not_completed` add up to
//!   the `completed` outcome. Each of these is an equation over the published cells; a suppressed
//!   cell is *exposed* when some combination of them gives its value exactly. While one is, the
//!   smallest published cell of an equation that exposes it is suppressed too (a value before a
//!   total, a non-zero value before a zero), until none is: a fixpoint. The check is linear
//!   algebra (the cell's unit vector in the row space of the equations over the suppressed
//!   cells), so it also sees recoveries through several equations, not only a group with one
//!   hidden cell.
//! - A split where one item may count under several values (`problem`) adds up to nothing and
//!   makes no equation: its cells are only suppressed when small.
//!
//! What it does not do: bounds. Every value is at least zero and a primary cell is under `k`, so
//! a reader may narrow a suppressed cell to a range; the rule is exact recovery, as in the
//! issue. The period rule (wider scopes read whole calendar months) keeps overlapping periods
//! from being differenced.

use chrono::{Datelike, NaiveDate};

use crate::grid::{Counted, Dimension};
use crate::reference::{CodeList, HandOffStatus};
use crate::statistics::{DisclosureControl, NOT_COMPLETED, Statistics};
use crate::validation::{Invalid, Validation};

/// A cell as a reader sees it: the total of what is counted, or one value of one split of it.
/// Two indicators with the same split publish the same cells.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CellKey {
    counted: Counted,
    split: Option<(Dimension, String)>,
}

/// One equation: the sum of its cells with their signs is zero.
type Equation = Vec<(usize, f64)>;

/// The published form of `stats` under the threshold `k`: every count under `k` and over zero,
/// and whatever would let one be recomputed, is `None` and flagged `suppressed`.
pub fn suppress_small_counts(stats: &Statistics, k: u32) -> Statistics {
    let (keys, values, equations) = cells_and_equations(stats);
    let k = i64::from(k);
    let mut suppressed: Vec<bool> = values.iter().map(|&n| n > 0 && n < k).collect();
    let must_hide: Vec<bool> = suppressed.clone();
    loop {
        let exposed: Vec<usize> = exposed_cells(&equations, &suppressed)
            .into_iter()
            .filter(|&cell| must_hide[cell])
            .collect();
        if exposed.is_empty() {
            break;
        }
        let mut progressed = false;
        for cell in exposed {
            if let Some(next) = next_to_suppress(cell, &keys, &values, &equations, &suppressed) {
                suppressed[next] = true;
                progressed = true;
            }
        }
        if !progressed {
            // Unreachable while every equation holds a published cell besides an exposed one;
            // should it happen, hiding every cell of the equations is the safe answer.
            for equation in &equations {
                for &(cell, _) in equation {
                    suppressed[cell] = true;
                }
            }
            break;
        }
    }

    let mut published = stats.clone();
    let index: std::collections::HashMap<&CellKey, usize> =
        keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
    for indicator in &mut published.indicators {
        let total = CellKey {
            counted: indicator.counts,
            split: None,
        };
        if index.get(&total).is_some_and(|&i| suppressed[i]) {
            indicator.total = None;
            indicator.total_suppressed = true;
        }
        if let Some(dimension) = indicator.split_by {
            for value in &mut indicator.values {
                let key = CellKey {
                    counted: indicator.counts,
                    split: Some((dimension, value.key.clone())),
                };
                if index.get(&key).is_some_and(|&i| suppressed[i]) {
                    value.count = None;
                    value.suppressed = true;
                }
            }
        }
    }
    published.disclosure_control = Some(DisclosureControl::new(k));
    published
}

/// Every distinct cell of `stats` with its count, and the equations a reader knows hold.
fn cells_and_equations(stats: &Statistics) -> (Vec<CellKey>, Vec<i64>, Vec<Equation>) {
    let mut keys: Vec<CellKey> = Vec::new();
    let mut values: Vec<i64> = Vec::new();
    let mut cell = |key: CellKey, n: i64| -> usize {
        if let Some(i) = keys.iter().position(|k| *k == key) {
            return i;
        }
        keys.push(key);
        values.push(n);
        keys.len() - 1
    };
    let mut equations: Vec<Equation> = Vec::new();
    let mut seen_splits: Vec<(Counted, Dimension)> = Vec::new();
    let mut completed_outcome: Option<usize> = None;
    let mut coded_results: Option<Vec<usize>> = None;
    for indicator in &stats.indicators {
        let total = cell(
            CellKey {
                counted: indicator.counts,
                split: None,
            },
            indicator.total.unwrap_or(0),
        );
        let Some(dimension) = indicator.split_by else {
            continue;
        };
        let members: Vec<(usize, &str)> = indicator
            .values
            .iter()
            .map(|v| {
                let key = CellKey {
                    counted: indicator.counts,
                    split: Some((dimension, v.key.clone())),
                };
                (cell(key, v.count.unwrap_or(0)), v.key.as_str())
            })
            .collect();
        // A second indicator with the same split shows the same cells: no new equation.
        if seen_splits.contains(&(indicator.counts, dimension)) {
            continue;
        }
        seen_splits.push((indicator.counts, dimension));
        if indicator.counts == Counted::HandOffs && dimension == Dimension::HandOffOutcome {
            completed_outcome = members
                .iter()
                .find(|(_, key)| *key == HandOffStatus::Completed.code())
                .map(|(i, _)| *i);
        }
        if indicator.counts == Counted::HandOffs && dimension == Dimension::HandOffResult {
            coded_results = Some(
                members
                    .iter()
                    .filter(|(_, key)| *key != NOT_COMPLETED)
                    .map(|(i, _)| *i)
                    .collect(),
            );
        }
        if !dimension.overlaps() {
            let mut equation: Equation = members.iter().map(|(i, _)| (*i, 1.0)).collect();
            equation.push((total, -1.0));
            equations.push(equation);
        }
    }
    if let (Some(completed), Some(results)) = (completed_outcome, coded_results) {
        let mut equation: Equation = results.into_iter().map(|i| (i, 1.0)).collect();
        equation.push((completed, -1.0));
        equations.push(equation);
    }
    (keys, values, equations)
}

/// The suppressed cells whose value the equations give exactly: those whose unit vector lies in
/// the row space of the equations restricted to the suppressed cells (the published ones are
/// constants). In reduced row echelon form, that is a row with a single non-zero entry.
fn exposed_cells(equations: &[Equation], suppressed: &[bool]) -> Vec<usize> {
    const EPSILON: f64 = 1e-9;
    let columns: Vec<usize> = (0..suppressed.len()).filter(|&i| suppressed[i]).collect();
    let mut rows: Vec<Vec<f64>> = equations
        .iter()
        .map(|equation| {
            let mut row = vec![0.0; columns.len()];
            for &(cell, coefficient) in equation {
                if let Ok(c) = columns.binary_search(&cell) {
                    row[c] += coefficient;
                }
            }
            row
        })
        .collect();
    let mut rank = 0;
    for column in 0..columns.len() {
        let Some(pivot) = (rank..rows.len())
            .max_by(|&a, &b| rows[a][column].abs().total_cmp(&rows[b][column].abs()))
        else {
            break;
        };
        if rows[pivot][column].abs() < EPSILON {
            continue;
        }
        rows.swap(rank, pivot);
        let lead = rows[rank][column];
        for value in &mut rows[rank] {
            *value /= lead;
        }
        let pivot_row = rows[rank].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            if r != rank && row[column].abs() >= EPSILON {
                let factor = row[column];
                for (value, p) in row.iter_mut().zip(&pivot_row) {
                    *value -= factor * p;
                }
            }
        }
        rank += 1;
    }
    rows.iter()
        .filter_map(|row| {
            let mut non_zero = row.iter().enumerate().filter(|(_, v)| v.abs() >= EPSILON);
            match (non_zero.next(), non_zero.next()) {
                (Some((c, _)), None) => Some(columns[c]),
                _ => None,
            }
        })
        .collect()
}

/// The published cell to hide so that `cell` stops being exposed: from an equation in which it
/// is the only suppressed cell if there is one (the group rule), else from any equation it is in;
/// a value before a total, a non-zero count before a zero, the smallest first.
fn next_to_suppress(
    cell: usize,
    keys: &[CellKey],
    values: &[i64],
    equations: &[Equation],
    suppressed: &[bool],
) -> Option<usize> {
    let containing: Vec<&Equation> = equations
        .iter()
        .filter(|e| e.iter().any(|&(c, _)| c == cell))
        .collect();
    let alone: Vec<&Equation> = containing
        .iter()
        .copied()
        .filter(|e| e.iter().all(|&(c, _)| c == cell || !suppressed[c]))
        .collect();
    let pool = if alone.is_empty() {
        &containing
    } else {
        &alone
    };
    pool.iter()
        .flat_map(|e| e.iter().map(|&(c, _)| c))
        .filter(|&c| !suppressed[c])
        .min_by_key(|&c| (keys[c].split.is_none(), values[c] == 0, values[c], c))
}

/// Whether `day` is the last of its month (the calendar's last day included, which has no next).
pub fn ends_a_month(day: NaiveDate) -> bool {
    day.succ_opt().is_none_or(|next| next.day() == 1)
}

/// Whether `from..=to` is whole calendar months, at least `min_months` of them: as a scope wider
/// than the caller's own posts must be read, and as a submission is made. Every field at fault is
/// named; `what` says in the messages what must be so ("statistics wider than your own posts").
pub fn check_whole_months(
    from: NaiveDate,
    to: NaiveDate,
    min_months: u32,
    what: &str,
) -> Result<(), Invalid> {
    let mut check = Validation::new();
    let whole = format!("{what} cover whole calendar months");
    check.require(
        from.day() == 1,
        "from",
        "not_whole_months",
        format!("{whole}: from is the first day of a month"),
    );
    check.require(
        ends_a_month(to),
        "to",
        "not_whole_months",
        format!("{whole}: to is the last day of a month"),
    );
    check.finish()?;
    let months = (to.year() - from.year()) * 12 + i32::try_from(to.month()).unwrap_or(0)
        - i32::try_from(from.month()).unwrap_or(0)
        + 1;
    if months < i32::try_from(min_months).unwrap_or(i32::MAX) {
        return Err(Invalid::one(
            "to",
            "not_whole_months",
            format!("{what} cover at least {min_months} whole months"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;
    use crate::statistics::{RawCount, assemble};

    fn grid() -> Grid {
        Grid::from_toml(include_str!("../../grids/2026.toml")).unwrap()
    }

    fn position(grid: &Grid, id: &str) -> i32 {
        i32::try_from(grid.indicators.iter().position(|i| i.id == id).unwrap()).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn value(stats: &Statistics, id: &str, key: &str) -> Option<i64> {
        let indicator = stats.indicators.iter().find(|i| i.id == id).unwrap();
        indicator
            .values
            .iter()
            .find(|v| v.key == key)
            .unwrap()
            .count
    }

    fn total(stats: &Statistics, id: &str) -> Option<i64> {
        stats.indicators.iter().find(|i| i.id == id).unwrap().total
    }

    #[test]
    fn a_single_small_cell_takes_its_smallest_sibling_with_it_and_zeros_stay() {
        let grid = grid();
        let by_sex = position(&grid, "persons_by_sex");
        let rows: Vec<RawCount> = vec![
            (-1, None, 40),
            (by_sex, Some("female".into()), 28),
            (by_sex, Some("male".into()), 9),
            (by_sex, Some("unspecified".into()), 3),
        ];
        let stats = assemble(
            &grid,
            day(2026, 1, 1),
            day(2026, 1, 31),
            "national".into(),
            &rows,
        );
        let published = suppress_small_counts(&stats, 5);
        assert_eq!(total(&published, "persons"), Some(40));
        assert_eq!(value(&published, "persons_by_sex", "unspecified"), None);
        // 40 − 28 would give male + unspecified, not either.
        assert_eq!(value(&published, "persons_by_sex", "male"), None);
        assert_eq!(value(&published, "persons_by_sex", "female"), Some(28));
        // Other splits of persons are all zeros here but the total is 40: they add up to
        // nothing and publish nothing either way; zeros are shown.
        assert_eq!(value(&published, "persons_by_age", "0-12"), Some(0));
        let note = published.disclosure_control.unwrap();
        assert_eq!(note.k, 5);
    }

    #[test]
    fn a_small_total_hides_a_group_published_whole() {
        let grid = grid();
        let by_origin = position(&grid, "situations_by_origin");
        let by_month = position(&grid, "situations_by_month");
        let by_principal = position(&grid, "situations_by_principal_problem");
        let penal = position(&grid, "situations_penal");
        // Every split adds up to the total, as the database's counts do.
        let rows: Vec<RawCount> = vec![
            (-2, None, 3),
            (by_origin, Some("police".into()), 3),
            (by_month, Some("2026-01".into()), 3),
            (by_principal, Some("other".into()), 3),
            (penal, Some("yes".into()), 3),
        ];
        let stats = assemble(
            &grid,
            day(2026, 1, 1),
            day(2026, 1, 31),
            "national".into(),
            &rows,
        );
        let published = suppress_small_counts(&stats, 5);
        assert_eq!(total(&published, "situations"), None);
        assert_eq!(value(&published, "situations_by_origin", "police"), None);
        assert_eq!(
            value(&published, "situations_by_origin", "gendarmerie"),
            Some(0)
        );
        let indicator = published
            .indicators
            .iter()
            .find(|i| i.id == "situations")
            .unwrap();
        assert!(indicator.total_suppressed);
    }

    #[test]
    fn nothing_under_k_publishes_everything_and_k_one_suppresses_nothing() {
        let grid = grid();
        let by_sex = position(&grid, "persons_by_sex");
        let rows: Vec<RawCount> = vec![
            (-1, None, 2),
            (by_sex, Some("female".into()), 1),
            (by_sex, Some("male".into()), 1),
        ];
        let stats = assemble(
            &grid,
            day(2026, 1, 1),
            day(2026, 1, 31),
            "national".into(),
            &rows,
        );
        let published = suppress_small_counts(&stats, 1);
        assert_eq!(value(&published, "persons_by_sex", "female"), Some(1));
        assert_eq!(total(&published, "persons"), Some(2));
    }

    const WIDER: &str = "statistics wider than your own posts";

    #[test]
    fn periods_of_wider_scopes_are_whole_months() {
        assert!(check_whole_months(day(2026, 1, 1), day(2026, 1, 31), 1, WIDER).is_ok());
        assert!(check_whole_months(day(2026, 2, 1), day(2026, 2, 28), 1, WIDER).is_ok());
        assert!(check_whole_months(day(2025, 11, 1), day(2026, 2, 28), 4, WIDER).is_ok());
        let field = |r: Result<(), Invalid>| r.unwrap_err().0[0].field.clone();
        assert_eq!(
            field(check_whole_months(
                day(2026, 10, 7),
                day(2026, 10, 31),
                1,
                WIDER
            )),
            "from"
        );
        assert_eq!(
            field(check_whole_months(
                day(2026, 10, 1),
                day(2026, 10, 7),
                1,
                WIDER
            )),
            "to"
        );
        assert_eq!(
            field(check_whole_months(
                day(2026, 1, 1),
                day(2026, 1, 31),
                3,
                WIDER
            )),
            "to"
        );
        // Both ends wrong: both named.
        let both = check_whole_months(day(2026, 1, 2), day(2026, 12, 30), 1, WIDER).unwrap_err();
        let fields: Vec<&str> = both.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);
    }
}
