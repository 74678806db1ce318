//! Statistics grid definitions: `Grid::from_toml` (TOML then `validate`) on arbitrary UTF-8,
//! as the API does for each file of `grids/` at start. A grid it accepts must then serve
//! the statistics without panicking: age brackets looked up, every indicator laid out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_domain::grid::{Dimension, Grid, GridError, in_force};
use relais_domain::statistics::{assemble, total_marker};

fuzz_target!(|text: &str| {
    let grid = match Grid::from_toml(text) {
        Ok(grid) => grid,
        Err(e) => {
            // The message goes to the log at start; it must render.
            let _ = e.to_string();
            if let GridError::Invalid(invalid) = e {
                assert!(!invalid.0.is_empty(), "an invalid grid names its faults");
            }
            return;
        }
    };
    assert!(grid.validate().is_ok());
    assert!(!grid.indicators.is_empty());

    // Brackets in order and disjoint: an age falls in one at most, and that one contains it.
    for age in -1..=300 {
        if let Some(bracket) = grid.bracket_of(age) {
            assert!(age >= i32::from(bracket.min));
            assert!(bracket.max.is_none_or(|max| age <= i32::from(max)));
            let containing = grid
                .age_brackets
                .iter()
                .filter(|b| age >= i32::from(b.min) && b.max.is_none_or(|m| age <= i32::from(m)))
                .count();
            assert_eq!(containing, 1, "age {age} falls in several brackets");
        }
    }

    let from = grid.valid_from;
    let to = from
        .checked_add_days(chrono::Days::new(365))
        .unwrap_or(from);
    let _ = in_force(std::slice::from_ref(&grid), from);

    // Counts as the database returns them: a total per counted kind, one row per indicator
    // (age brackets by position, one past the end, and garbage keys included).
    let mut rows = Vec::new();
    for (position, indicator) in grid.indicators.iter().enumerate() {
        rows.push((total_marker(indicator.counts), None, 3));
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        let key = match indicator.split_by {
            Some(Dimension::AgeBracket) => Some(grid.age_brackets.len().to_string()),
            Some(Dimension::Month) => Some("2026-03".to_owned()),
            Some(_) => Some("not_a_code".to_owned()),
            None => None,
        };
        rows.push((position, key, 2));
        rows.push((position, Some("0".to_owned()), 1));
        rows.push((position, None, 1));
    }
    let stats = assemble(&grid, from, to, "national".to_owned(), &rows);
    assert_eq!(stats.indicators.len(), grid.indicators.len());
});
