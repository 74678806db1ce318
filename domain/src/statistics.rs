//! Statistics as published: every indicator of a grid with its total and each value of its
//! split, in the reference order, zeros included, labelled in French. No identity ever.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::grid::{Counted, Dimension, Grid};
use crate::reference::{
    CodeList, HandOffResult, HandOffStatus, InterventionKind, InterventionMode,
    KnownToSocialServices, Origin, PartnerKind, ProblemCategory, Sex, Standing,
};

/// The key given to counts whose value is not known (an age without a birth, a hand-off
/// completed before results were coded).
pub const UNKNOWN: &str = "unknown";

/// The result key of a hand-off not completed (so it has no result).
pub const NOT_COMPLETED: &str = "not_completed";

/// The answer-delay key of a hand-off the partner never answered.
pub const UNANSWERED: &str = "unanswered";

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// A grid computed over a period and a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statistics {
    /// The grid version used.
    #[cfg_attr(feature = "openapi", schema(example = "2026"))]
    pub grid: String,
    pub title: String,
    #[cfg_attr(feature = "openapi", schema(example = "2026-01-01"))]
    pub from: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-31"))]
    pub to: NaiveDate,
    /// Whose activity: `national`, `department:07` or `posts:<id>,<id>`.
    #[cfg_attr(feature = "openapi", schema(example = "department:07"))]
    pub scope: String,
    /// Present when the scope is wider than the caller's own posts: counts over zero and under
    /// `k`, and the cells that would let one be recomputed, are published as `null` with
    /// `suppressed: true`. Absent: every figure is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub disclosure_control: Option<DisclosureControl>,
    pub indicators: Vec<IndicatorValues>,
}

/// The disclosure control applied to a grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisclosureControl {
    /// The threshold: a count from 1 to `k - 1` is not published.
    #[cfg_attr(feature = "openapi", schema(example = 5))]
    pub k: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Secret statistique : les effectifs de 1 à 4, et ceux qui permettraient de les recalculer, ne sont pas publiés."
        )
    )]
    pub note: String,
}

impl DisclosureControl {
    pub fn new(k: i64) -> Self {
        Self {
            k,
            note: format!(
                "Secret statistique : les effectifs de 1 à {}, et ceux qui permettraient de les recalculer, ne sont pas publiés.",
                k - 1
            ),
        }
    }

    /// How a suppressed count is written in a file: `<5`.
    pub fn mark(k: i64) -> String {
        format!("<{k}")
    }
}

/// One indicator's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndicatorValues {
    #[cfg_attr(feature = "openapi", schema(example = "persons_by_sex"))]
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Personnes reçues selon le sexe")
    )]
    pub label: String,
    pub counts: Counted,
    pub split_by: Option<Dimension>,
    /// How many persons, situations, interventions or hand-offs the indicator is about; `null`
    /// when suppressed by disclosure control.
    #[cfg_attr(feature = "openapi", schema(example = 512, required = true))]
    pub total: Option<i64>,
    /// Whether disclosure control suppressed the total (then `null`); absent when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub total_suppressed: bool,
    /// One entry per value of the split (none for a plain total). With `problem`, one item
    /// may count under several values.
    pub values: Vec<ValueCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    #[cfg_attr(feature = "openapi", schema(example = "female"))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(example = "Femme"))]
    pub label: String,
    /// `null` when suppressed by disclosure control.
    #[cfg_attr(feature = "openapi", schema(example = 384, required = true))]
    pub count: Option<i64>,
    /// Whether disclosure control suppressed the count (then `null`); absent when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub suppressed: bool,
}

impl ValueCount {
    /// The count, zero when suppressed (for charts, never for publication).
    pub fn shown(&self) -> i64 {
        self.count.unwrap_or(0)
    }
}

/// A count as the database returns it: indicator position (or a negative total marker), key, count.
pub type RawCount = (i32, Option<String>, i64);

/// The marker of the total row of what an indicator counts.
pub fn total_marker(counted: Counted) -> i32 {
    match counted {
        Counted::Persons => -1,
        Counted::Situations => -2,
        Counted::Interventions => -3,
        Counted::HandOffs => -4,
    }
}

fn codes<T: CodeList>() -> Vec<(String, String)> {
    T::ALL
        .iter()
        .map(|v| (v.code().to_owned(), v.label_fr().to_owned()))
        .collect()
}

/// The key of a month: `YYYY-MM`.
pub fn month_key(year: i32, month: u32) -> String {
    format!("{year:04}-{month:02}")
}

/// The French label of a month key (`2026-01` → `janvier 2026`); none for another key.
fn month_label(key: &str) -> Option<String> {
    let (year, month) = key.split_once('-')?;
    let year: i32 = year.parse().ok()?;
    let month: usize = month.parse().ok()?;
    let name = MONTHS.get(month.checked_sub(1)?)?;
    Some(format!("{name} {year}"))
}

/// Every month from the one of `from` to the one of `to`, in order.
fn months_of(from: NaiveDate, to: NaiveDate) -> Vec<(String, String)> {
    let (mut year, mut month) = (from.year(), from.month());
    let mut months = Vec::new();
    while (year, month) <= (to.year(), to.month()) {
        let key = month_key(year, month);
        let label = month_label(&key).unwrap_or_else(|| key.clone());
        months.push((key, label));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    months
}

/// Every value of a split over `from..=to`, in the order they are published.
fn domain_of(
    grid: &Grid,
    dimension: Dimension,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(String, String)> {
    match dimension {
        Dimension::Sex => codes::<Sex>(),
        Dimension::Standing => codes::<Standing>(),
        Dimension::Origin => codes::<Origin>(),
        Dimension::PrincipalProblem | Dimension::Problem => codes::<ProblemCategory>(),
        Dimension::KnownToSocialServices => codes::<KnownToSocialServices>(),
        Dimension::InterventionMode => codes::<InterventionMode>(),
        Dimension::InterventionKind => codes::<InterventionKind>(),
        Dimension::PartnerKind => codes::<PartnerKind>(),
        Dimension::HandOffOutcome => codes::<HandOffStatus>()
            .into_iter()
            .filter(|(code, _)| code != HandOffStatus::Draft.code())
            .collect(),
        Dimension::HandOffResult => {
            let mut results = codes::<HandOffResult>();
            results.push((NOT_COMPLETED.into(), "Non terminée".into()));
            results.push((UNKNOWN.into(), "Terminée sans résultat codé".into()));
            results
        }
        Dimension::AnswerDelay => {
            let mut brackets: Vec<(String, String)> = grid
                .answer_delay_brackets
                .iter()
                .map(|b| (b.key.clone(), b.label.clone()))
                .collect();
            brackets.push((UNANSWERED.into(), "Sans réponse du partenaire".into()));
            brackets
        }
        Dimension::Penal => vec![
            ("yes".into(), "Cadre pénal".into()),
            ("no".into(), "Hors cadre pénal".into()),
        ],
        Dimension::Month => months_of(from, to),
        Dimension::AgeBracket => {
            let mut brackets: Vec<(String, String)> = grid
                .age_brackets
                .iter()
                .map(|b| (b.key.clone(), b.label.clone()))
                .collect();
            brackets.push((UNKNOWN.into(), "Âge inconnu".into()));
            brackets
        }
    }
}

/// The published key of a raw key (age brackets come back by position).
fn published_key(grid: &Grid, dimension: Dimension, raw: Option<&str>) -> String {
    match (dimension, raw) {
        (Dimension::AgeBracket, Some(position)) => position
            .parse::<usize>()
            .ok()
            .and_then(|i| grid.age_brackets.get(i))
            .map_or_else(|| UNKNOWN.to_owned(), |b| b.key.clone()),
        (Dimension::AnswerDelay, Some(position)) => position
            .parse::<usize>()
            .ok()
            .and_then(|i| grid.answer_delay_brackets.get(i))
            .map_or_else(|| UNANSWERED.to_owned(), |b| b.key.clone()),
        (Dimension::AnswerDelay, None) => UNANSWERED.to_owned(),
        (Dimension::HandOffResult, None) => NOT_COMPLETED.to_owned(),
        (_, Some(key)) => key.to_owned(),
        (_, None) => UNKNOWN.to_owned(),
    }
}

/// Lays the raw counts out as the grid publishes them.
pub fn assemble(
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: String,
    rows: &[RawCount],
) -> Statistics {
    let total = |counted: Counted| {
        rows.iter()
            .find(|(indicator, _, _)| *indicator == total_marker(counted))
            .map_or(0, |(_, _, n)| *n)
    };
    let indicators = grid
        .indicators
        .iter()
        .enumerate()
        .map(|(position, indicator)| {
            let values = match indicator.split_by {
                None => Vec::new(),
                Some(dimension) => {
                    let mut values: Vec<ValueCount> = domain_of(grid, dimension, from, to)
                        .into_iter()
                        .map(|(key, label)| ValueCount {
                            key,
                            label,
                            count: Some(0),
                            suppressed: false,
                        })
                        .collect();
                    let own = rows
                        .iter()
                        .filter(|(i, _, _)| usize::try_from(*i).ok() == Some(position));
                    for (_, raw, n) in own {
                        let key = published_key(grid, dimension, raw.as_deref());
                        match values.iter_mut().find(|v| v.key == key) {
                            Some(value) => value.count = Some(value.shown() + n),
                            // A code the reference lists no longer hold still counts, under its own
                            // name; so does a month outside the period (a hand-off of one of its
                            // situations, made after it), in its place in time.
                            None => values.push(ValueCount {
                                label: month_label(&key)
                                    .filter(|_| dimension == Dimension::Month)
                                    .unwrap_or_else(|| key.clone()),
                                key,
                                count: Some(*n),
                                suppressed: false,
                            }),
                        }
                    }
                    if dimension == Dimension::Month {
                        values.sort_by(|a, b| a.key.cmp(&b.key));
                    }
                    // An age bracket nobody fell into except "unknown" is still listed; an
                    // "unknown" nobody fell into is not.
                    values.retain(|v| v.key != UNKNOWN || v.shown() > 0);
                    values
                }
            };
            IndicatorValues {
                id: indicator.id.clone(),
                label: indicator.label.clone(),
                counts: indicator.counts,
                split_by: indicator.split_by,
                total: Some(total(indicator.counts)),
                total_suppressed: false,
                values,
            }
        })
        .collect();
    Statistics {
        grid: grid.version.clone(),
        title: grid.title.clone(),
        from,
        to,
        scope,
        disclosure_control: None,
        indicators,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid::from_toml(include_str!("../../grids/2026.toml")).unwrap()
    }

    fn position(grid: &Grid, id: &str) -> i32 {
        i32::try_from(grid.indicators.iter().position(|i| i.id == id).unwrap()).unwrap()
    }

    #[test]
    fn values_come_in_reference_order_with_zeros_and_labels() {
        let grid = grid();
        let by_sex = position(&grid, "persons_by_sex");
        let rows = vec![
            (-1, None, 3),
            (by_sex, Some("male".into()), 1),
            (by_sex, Some("female".into()), 2),
        ];
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let stats = assemble(&grid, day, day, "national".into(), &rows);
        let indicator = stats
            .indicators
            .iter()
            .find(|i| i.id == "persons_by_sex")
            .unwrap();
        assert_eq!(indicator.total, Some(3));
        let values: Vec<(&str, &str, i64)> = indicator
            .values
            .iter()
            .map(|v| (v.key.as_str(), v.label.as_str(), v.shown()))
            .collect();
        assert_eq!(
            values,
            [
                ("female", "Femme", 2),
                ("male", "Homme", 1),
                ("unspecified", "Non renseigné", 0)
            ]
        );
        assert_eq!(
            stats
                .indicators
                .iter()
                .find(|i| i.id == "situations")
                .unwrap()
                .total,
            Some(0)
        );
    }

    #[test]
    fn months_are_keyed_by_year_and_listed_for_the_whole_period_in_order() {
        let grid = grid();
        let by_month = position(&grid, "situations_by_month");
        // July 2025 to June 2026: December before January, and each month once.
        let from = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let rows = vec![
            (by_month, Some("2026-01".into()), 2),
            (by_month, Some("2025-12".into()), 1),
            (by_month, Some("2025-07".into()), 4),
        ];
        let stats = assemble(&grid, from, to, "national".into(), &rows);
        let months = &stats
            .indicators
            .iter()
            .find(|i| i.id == "situations_by_month")
            .unwrap()
            .values;
        let keys: Vec<&str> = months.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01",
                "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"
            ]
        );
        assert_eq!(
            (months[0].label.as_str(), months[0].shown()),
            ("juillet 2025", 4)
        );
        assert_eq!(
            (months[5].label.as_str(), months[5].shown()),
            ("décembre 2025", 1)
        );
        assert_eq!(
            (months[6].label.as_str(), months[6].shown()),
            ("janvier 2026", 2)
        );
        assert_eq!(months.iter().map(ValueCount::shown).sum::<i64>(), 7);

        // Two calendar years: two Januaries, apart; a month past the period in its place.
        let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let rows = vec![
            (by_month, Some("2025-01".into()), 1),
            (by_month, Some("2026-01".into()), 3),
            (by_month, Some("2027-02".into()), 1),
        ];
        let stats = assemble(&grid, from, to, "national".into(), &rows);
        let months = &stats
            .indicators
            .iter()
            .find(|i| i.id == "situations_by_month")
            .unwrap()
            .values;
        assert_eq!(months.len(), 25);
        assert_eq!((months[0].key.as_str(), months[0].shown()), ("2025-01", 1));
        assert_eq!(
            (months[12].key.as_str(), months[12].shown()),
            ("2026-01", 3)
        );
        assert_eq!(
            (months[24].key.as_str(), months[24].label.as_str()),
            ("2027-02", "février 2027")
        );
    }

    #[test]
    fn age_brackets_come_back_by_position_and_unknown_only_when_counted() {
        let grid = grid();
        let by_age = position(&grid, "persons_by_age");
        let rows = vec![(by_age, Some("1".into()), 4), (by_age, None, 2)];
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let stats = assemble(&grid, day, day, "national".into(), &rows);
        let ages = &stats
            .indicators
            .iter()
            .find(|i| i.id == "persons_by_age")
            .unwrap()
            .values;
        let keys: Vec<(&str, i64)> = ages.iter().map(|v| (v.key.as_str(), v.shown())).collect();
        assert_eq!(
            keys,
            [
                ("0-12", 0),
                ("13-17", 4),
                ("18-25", 0),
                ("26-59", 0),
                ("60+", 0),
                ("unknown", 2)
            ]
        );
        let none_unknown = assemble(
            &grid,
            day,
            day,
            "national".into(),
            &[(by_age, Some("0".into()), 1)],
        );
        let ages = &none_unknown
            .indicators
            .iter()
            .find(|i| i.id == "persons_by_age")
            .unwrap()
            .values;
        assert!(ages.iter().all(|v| v.key != UNKNOWN));
    }
}
