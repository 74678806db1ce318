//! Statistics as published: every indicator of a grid with its total and each value of its
//! split, in the reference order, zeros included, labelled in French. No identity ever.

use chrono::NaiveDate;
use serde::Serialize;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub indicators: Vec<IndicatorValues>,
}

/// One indicator's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// How many persons, situations, interventions or hand-offs the indicator is about.
    #[cfg_attr(feature = "openapi", schema(example = 512))]
    pub total: i64,
    /// One entry per value of the split (none for a plain total). With `problem`, one item
    /// may count under several values.
    pub values: Vec<ValueCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    #[cfg_attr(feature = "openapi", schema(example = "female"))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(example = "Femme"))]
    pub label: String,
    #[cfg_attr(feature = "openapi", schema(example = 384))]
    pub count: i64,
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

/// Every value of a split, in the order they are published.
fn domain_of(grid: &Grid, dimension: Dimension) -> Vec<(String, String)> {
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
        Dimension::Month => MONTHS
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("{:02}", i + 1), (*name).to_owned()))
            .collect(),
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
                    let mut values: Vec<ValueCount> = domain_of(grid, dimension)
                        .into_iter()
                        .map(|(key, label)| ValueCount {
                            key,
                            label,
                            count: 0,
                        })
                        .collect();
                    let own = rows
                        .iter()
                        .filter(|(i, _, _)| usize::try_from(*i).ok() == Some(position));
                    for (_, raw, n) in own {
                        let key = published_key(grid, dimension, raw.as_deref());
                        match values.iter_mut().find(|v| v.key == key) {
                            Some(value) => value.count += n,
                            // A code the reference lists no longer hold still counts, under its own name.
                            None => values.push(ValueCount {
                                label: key.clone(),
                                key,
                                count: *n,
                            }),
                        }
                    }
                    // An age bracket nobody fell into except "unknown" is still listed; an
                    // "unknown" nobody fell into is not.
                    values.retain(|v| v.key != UNKNOWN || v.count > 0);
                    values
                }
            };
            IndicatorValues {
                id: indicator.id.clone(),
                label: indicator.label.clone(),
                counts: indicator.counts,
                split_by: indicator.split_by,
                total: total(indicator.counts),
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
        assert_eq!(indicator.total, 3);
        let values: Vec<(&str, &str, i64)> = indicator
            .values
            .iter()
            .map(|v| (v.key.as_str(), v.label.as_str(), v.count))
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
            0
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
        let keys: Vec<(&str, i64)> = ages.iter().map(|v| (v.key.as_str(), v.count)).collect();
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
