//! The national statistics grid, as data: each version is a TOML file naming its indicators —
//! what they count, how they split, and their French labels. A new version needs no code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::validation::{Invalid, Validation};

/// What an indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// People received, each once per scope and period, described by their first situation of the period.
    Persons,
    /// Situations opened in the period.
    Situations,
    /// Interventions made in the period.
    Interventions,
    /// Hand-offs of the situations opened in the period that were ever sent (from their history:
    /// one cancelled while still a draft is not an orientation).
    HandOffs,
}

/// How an indicator splits its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Sex,
    /// Age at the situation's opening, in the grid's brackets.
    AgeBracket,
    Standing,
    Origin,
    /// The principal problem of each situation.
    PrincipalProblem,
    /// Every problem of each situation: the values may add up to more than the total.
    Problem,
    Penal,
    KnownToSocialServices,
    InterventionMode,
    InterventionKind,
    PartnerKind,
    /// The hand-off's current status.
    HandOffOutcome,
    /// What became of the person, as the partner coded it on completing (`hand_off_results`);
    /// `not_completed` for the others.
    HandOffResult,
    /// Days from sent to the partner's answer (accepted or declined), in the grid's
    /// `answer_delay_brackets`; `unanswered` for a hand-off never answered.
    AnswerDelay,
    /// Month of the opening, intervention or hand-off, keyed `YYYY-MM` (`2026-01`): every month
    /// of the period is listed, in order, zeros included.
    Month,
}

impl Dimension {
    /// Whether a count of `counted` can be split this way.
    pub fn applies_to(self, counted: Counted) -> bool {
        use Dimension::*;
        match counted {
            Counted::Persons | Counted::Situations => matches!(
                self,
                Sex | AgeBracket
                    | Standing
                    | Origin
                    | PrincipalProblem
                    | Problem
                    | Penal
                    | KnownToSocialServices
                    | Month
            ),
            Counted::Interventions => matches!(self, InterventionMode | InterventionKind | Month),
            Counted::HandOffs => matches!(
                self,
                PartnerKind | HandOffOutcome | HandOffResult | AnswerDelay | Month
            ),
        }
    }

    /// Whether one counted item may fall under several values.
    pub fn overlaps(self) -> bool {
        self == Dimension::Problem
    }
}

/// An age bracket, bounds included; `max` absent means no upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgeBracket {
    /// Stable key of the bracket, as the statistics report it (`0-12`, `60+`).
    pub key: String,
    pub label: String,
    pub min: u8,
    pub max: Option<u8>,
}

/// How the age of a person whose birth **year** only is known is reckoned (with a birth date, the
/// age is always in completed years on the day: *âge en années révolues*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BirthYearAge {
    /// Completed years on the day, the birth taken to be on 1 July of its year (the middle of the
    /// year, INSEE's assumption when only the year is known): the same convention as a full birth
    /// date, off by half a year at most either way and unbiased on average. Someone born in 2008
    /// is 17 until 30 June 2026 and 18 from 1 July 2026. The default.
    #[default]
    MidYear,
    /// The year of the day minus the year of birth: the age reached during the year (*âge atteint
    /// dans l'année*, INSEE's "âge en différence de millésimes"). Someone born in 2008 counts as
    /// 18 all through 2026, so it runs half a year older on average than a full birth date.
    YearDifference,
}

/// A bracket of whole days, bounds included; `max` absent means no upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DayBracket {
    /// Stable key of the bracket, as the statistics report it (`0-2`, `31+`).
    pub key: String,
    pub label: String,
    pub min: u16,
    pub max: Option<u16>,
}

/// Disclosure control (*secret statistique*) for scopes wider than the caller's own posts; see
/// `disclosure`. A post's own social workers and coordinators always read exact figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// Counts from 1 to `k - 1` are suppressed (default 5; 1 suppresses nothing).
    #[serde(default = "Disclosure::default_k")]
    pub k: u32,
    /// The shortest period a wider scope may read, in whole calendar months (default 1).
    #[serde(default = "Disclosure::default_min_months")]
    pub min_months: u32,
}

impl Disclosure {
    fn default_k() -> u32 {
        5
    }

    fn default_min_months() -> u32 {
        1
    }
}

impl Default for Disclosure {
    fn default() -> Self {
        Self {
            k: Self::default_k(),
            min_months: Self::default_min_months(),
        }
    }
}

/// One line of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Stable identifier (`persons_by_sex`).
    pub id: String,
    /// French label, as published.
    pub label: String,
    pub counts: Counted,
    /// Absent for a plain total.
    #[serde(default)]
    pub split_by: Option<Dimension>,
}

/// A version of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// The version's name, as asked for with `grid=` (`2026`).
    pub version: String,
    pub title: String,
    /// The first day this version is in force; a period is computed with the latest version in force at its start.
    pub valid_from: NaiveDate,
    pub age_brackets: Vec<AgeBracket>,
    /// How an age is reckoned with a birth year only (`mid_year`, the default, or
    /// `year_difference`); with a birth date it is always in completed years.
    #[serde(default)]
    pub birth_year_age: BirthYearAge,
    /// The brackets of the time a partner took to answer a hand-off, in calendar days (UTC)
    /// from its sending to its acceptance or decline.
    #[serde(default)]
    pub answer_delay_brackets: Vec<DayBracket>,
    /// Small-count suppression and the shortest period for scopes wider than the caller's own
    /// posts (default: `k = 5`, one whole month).
    #[serde(default)]
    pub disclosure: Disclosure,
    pub indicators: Vec<Indicator>,
}

/// A grid file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("the grid is not valid TOML for a grid: {0}")]
    Syntax(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl Grid {
    /// Reads and checks a grid definition.
    pub fn from_toml(text: &str) -> Result<Self, GridError> {
        let grid: Grid = toml::from_str(text).map_err(|e| GridError::Syntax(e.to_string()))?;
        grid.validate()?;
        Ok(grid)
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("version", &self.version, 32);
        v.require(
            self.version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'),
            "version",
            "invalid",
            "use letters, digits, '-', '_' or '.'",
        );
        v.line("title", &self.title, 300);
        v.require(
            !self.indicators.is_empty(),
            "indicators",
            "empty",
            "a grid has indicators",
        );
        let mut ids: Vec<&str> = self.indicators.iter().map(|i| i.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        v.require(
            ids.len() == self.indicators.len(),
            "indicators",
            "duplicate",
            "indicator ids must be unique",
        );
        for (n, indicator) in self.indicators.iter().enumerate() {
            let field = format!("indicators[{n}]");
            v.require(
                !indicator.id.is_empty()
                    && indicator
                        .id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                &format!("{field}.id"),
                "invalid",
                "use lowercase letters, digits and '_'",
            );
            v.line(&format!("{field}.label"), &indicator.label, 300);
            if let Some(dimension) = indicator.split_by {
                v.require(
                    dimension.applies_to(indicator.counts),
                    &format!("{field}.split_by"),
                    "not_applicable",
                    format!("{dimension:?} does not split {:?}", indicator.counts).to_lowercase(),
                );
                v.require(
                    dimension != Dimension::AgeBracket || !self.age_brackets.is_empty(),
                    &format!("{field}.split_by"),
                    "no_brackets",
                    "splitting by age needs age_brackets",
                );
                v.require(
                    dimension != Dimension::AnswerDelay || !self.answer_delay_brackets.is_empty(),
                    &format!("{field}.split_by"),
                    "no_brackets",
                    "splitting by answer delay needs answer_delay_brackets",
                );
            }
        }
        v.require(
            (1..=100).contains(&self.disclosure.k),
            "disclosure.k",
            "range",
            "from 1 to 100",
        );
        v.require(
            (1..=12).contains(&self.disclosure.min_months),
            "disclosure.min_months",
            "range",
            "from 1 to 12",
        );
        let ages = self
            .age_brackets
            .iter()
            .map(|b| (b.key.as_str(), u32::from(b.min), b.max.map(u32::from)));
        check_brackets(&mut v, "age_brackets", ages);
        let delays = self
            .answer_delay_brackets
            .iter()
            .map(|b| (b.key.as_str(), u32::from(b.min), b.max.map(u32::from)));
        check_brackets(&mut v, "answer_delay_brackets", delays);
        v.finish()
    }

    /// The bracket of an age, if any.
    pub fn bracket_of(&self, age: i32) -> Option<&AgeBracket> {
        self.age_brackets
            .iter()
            .find(|b| age >= i32::from(b.min) && b.max.is_none_or(|max| age <= i32::from(max)))
    }
}

/// Brackets (key, min, max) are in order, do not overlap, are not empty and have short keys.
fn check_brackets<'a>(
    v: &mut Validation,
    list: &str,
    brackets: impl Iterator<Item = (&'a str, u32, Option<u32>)>,
) {
    let mut previous_max: Option<u32> = None;
    for (n, (key, min, max)) in brackets.enumerate() {
        let field = format!("{list}[{n}]");
        let starts_after_previous = match (n, previous_max) {
            (0, _) => true,
            (_, Some(previous)) => min > previous,
            (_, None) => false,
        };
        v.require(
            starts_after_previous,
            &field,
            "overlap",
            "brackets must be in order and not overlap",
        );
        v.require(
            max.is_none_or(|max| max >= min),
            &field,
            "empty",
            "max must be at least min",
        );
        v.require(
            !key.is_empty() && key.len() <= 16,
            &format!("{field}.key"),
            "invalid",
            "1 to 16 characters",
        );
        previous_max = max;
    }
}

/// The version in force on `day`: the latest whose `valid_from` is on or before it.
pub fn in_force(grids: &[Grid], day: NaiveDate) -> Option<&Grid> {
    grids
        .iter()
        .filter(|g| g.valid_from <= day)
        .max_by_key(|g| g.valid_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
version = "t1"
title = "Grille de test"
valid_from = "2026-01-01"
age_brackets = [
  { key = "0-17", label = "Mineurs", min = 0, max = 17 },
  { key = "18+", label = "Majeurs", min = 18 },
]
[[indicators]]
id = "persons"
label = "Personnes reçues"
counts = "persons"
[[indicators]]
id = "persons_by_age"
label = "Personnes par âge"
counts = "persons"
split_by = "age_bracket"
"#;

    #[test]
    fn a_grid_reads_from_toml() {
        let grid = Grid::from_toml(SMALL).unwrap();
        assert_eq!(grid.indicators.len(), 2);
        assert_eq!(grid.bracket_of(17).unwrap().key, "0-17");
        assert_eq!(grid.bracket_of(18).unwrap().key, "18+");
        assert_eq!(grid.bracket_of(97).unwrap().key, "18+");
        assert!(grid.bracket_of(-1).is_none());
    }

    #[test]
    fn impossible_splits_and_overlapping_brackets_are_refused() {
        let bad = SMALL.replace(
            "split_by = \"age_bracket\"",
            "split_by = \"intervention_mode\"",
        );
        let GridError::Invalid(Invalid(errors)) = Grid::from_toml(&bad).unwrap_err() else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "indicators[1].split_by");
        let overlapping = SMALL.replace("min = 18", "min = 17");
        assert!(Grid::from_toml(&overlapping).is_err());
        assert!(matches!(
            Grid::from_toml("version = 1"),
            Err(GridError::Syntax(_))
        ));
    }

    #[test]
    fn the_birth_year_convention_defaults_to_mid_year_and_is_checked() {
        assert_eq!(
            Grid::from_toml(SMALL).unwrap().birth_year_age,
            BirthYearAge::MidYear
        );
        let declared = SMALL.replace(
            "age_brackets = [",
            "birth_year_age = \"year_difference\"\nage_brackets = [",
        );
        assert_eq!(
            Grid::from_toml(&declared).unwrap().birth_year_age,
            BirthYearAge::YearDifference
        );
        let unknown = SMALL.replace(
            "age_brackets = [",
            "birth_year_age = \"january_first\"\nage_brackets = [",
        );
        assert!(matches!(
            Grid::from_toml(&unknown),
            Err(GridError::Syntax(_))
        ));
    }

    #[test]
    fn disclosure_defaults_to_five_and_a_month_and_is_checked() {
        assert_eq!(
            Grid::from_toml(SMALL).unwrap().disclosure,
            Disclosure::default()
        );
        let only = format!("{SMALL}\n[disclosure]\nk = 11\nmin_months = 3\n");
        assert_eq!(
            Grid::from_toml(&only).unwrap().disclosure,
            Disclosure {
                k: 11,
                min_months: 3
            }
        );
        let zero = format!("{SMALL}\n[disclosure]\nk = 0\n");
        let GridError::Invalid(Invalid(errors)) = Grid::from_toml(&zero).unwrap_err() else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "disclosure.k");
        let unknown = format!("{SMALL}\n[disclosure]\nthreshold = 5\n");
        assert!(matches!(
            Grid::from_toml(&unknown),
            Err(GridError::Syntax(_))
        ));
    }

    #[test]
    fn the_grid_in_force_is_the_latest_started() {
        let old = Grid::from_toml(SMALL).unwrap();
        let new = Grid {
            version: "t2".into(),
            valid_from: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            ..old.clone()
        };
        let grids = [old, new];
        let day = |y| NaiveDate::from_ymd_opt(y, 6, 1).unwrap();
        assert_eq!(in_force(&grids, day(2026)).unwrap().version, "t1");
        assert_eq!(in_force(&grids, day(2027)).unwrap().version, "t2");
        assert!(in_force(&grids, day(2025)).is_none());
    }

    #[test]
    fn the_shipped_grid_is_valid() {
        let grid = Grid::from_toml(include_str!("../../grids/2026.toml")).unwrap();
        assert!(grid.indicators.len() >= 15);
        assert_eq!(grid.birth_year_age, BirthYearAge::MidYear);
        assert_eq!(
            grid.disclosure,
            Disclosure {
                k: 5,
                min_months: 1
            }
        );
        for counted in [
            Counted::Persons,
            Counted::Situations,
            Counted::Interventions,
            Counted::HandOffs,
        ] {
            assert!(
                grid.indicators
                    .iter()
                    .any(|i| i.counts == counted && i.split_by.is_none())
            );
        }
    }
}
