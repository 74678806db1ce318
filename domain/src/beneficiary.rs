//! The person received by a post. Identity is optional: a person may stay anonymous.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BeneficiaryId, PostId};
use crate::post::RecordMeta;
use crate::reference::{KnownToSocialServices, Sex};
use crate::validation::{Invalid, Validation, is_commune_code};

/// The earliest birth year accepted: older is a typing error.
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// What is known of a person; sent to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeneficiaryInput {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Camille", max_length = 100))]
    pub first_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Martin", max_length = 100))]
    pub last_name: Option<String>,
    /// Full birth date, when known.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "1987-05-02"))]
    pub birth_date: Option<NaiveDate>,
    /// Birth year alone, when the date is not known; must agree with `birth_date` if both are given.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 1987, minimum = 1900))]
    pub birth_year: Option<i32>,
    #[serde(default)]
    pub sex: Sex,
    /// INSEE code of the commune of residence.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "07010", pattern = "^[0-9AB]{5}$")
    )]
    pub commune_code: Option<String>,
    /// A phone number at which the person agreed to be called back.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "06 12 34 56 78", max_length = 30)
    )]
    pub phone: Option<String>,
    #[serde(default)]
    pub known_to_social_services: KnownToSocialServices,
}

// `code_list!` enums derive no Default; these two have a meaningful one for anonymous records.
#[allow(clippy::derivable_impls)]
impl Default for Sex {
    fn default() -> Self {
        Sex::Unspecified
    }
}

#[allow(clippy::derivable_impls)]
impl Default for KnownToSocialServices {
    fn default() -> Self {
        KnownToSocialServices::Unknown
    }
}

impl BeneficiaryInput {
    pub fn validate(&self, today: NaiveDate) -> Result<(), Invalid> {
        let mut v = Validation::new();
        for (field, value, max) in [
            ("first_name", &self.first_name, 100),
            ("last_name", &self.last_name, 100),
            ("phone", &self.phone, 30),
        ] {
            if let Some(value) = value {
                v.line(field, value, max);
            }
        }
        if let Some(date) = self.birth_date {
            v.require(
                date <= today,
                "birth_date",
                "in_future",
                "must not be in the future",
            );
            v.require(
                date.year() >= EARLIEST_BIRTH_YEAR,
                "birth_date",
                "too_early",
                format!("must not be before {EARLIEST_BIRTH_YEAR}"),
            );
        }
        if let Some(year) = self.birth_year {
            v.require(
                (EARLIEST_BIRTH_YEAR..=today.year()).contains(&year),
                "birth_year",
                "out_of_range",
                format!("must be between {EARLIEST_BIRTH_YEAR} and {}", today.year()),
            );
            if let Some(date) = self.birth_date {
                v.require(
                    date.year() == year,
                    "birth_year",
                    "disagrees_with_birth_date",
                    "must be the year of birth_date",
                );
            }
        }
        if let Some(code) = &self.commune_code {
            v.require(
                is_commune_code(code),
                "commune_code",
                "invalid_commune",
                "must be an INSEE commune code of five characters (e.g. 07010, 2A004)",
            );
        }
        v.finish()
    }

    /// What the record knows of the birth, for the rules that depend on it.
    pub fn birth(&self) -> Birth {
        Birth {
            date: self.birth_date,
            year: self.birth_date.map(|d| d.year()).or(self.birth_year),
        }
    }
}

/// A person's birth as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Birth {
    pub date: Option<NaiveDate>,
    pub year: Option<i32>,
}

impl Birth {
    /// Whether `day` could be on or after the birth, given what is known.
    pub fn is_not_after(&self, day: NaiveDate) -> bool {
        match (self.date, self.year) {
            (Some(date), _) => date <= day,
            (None, Some(year)) => year <= day.year(),
            (None, None) => true,
        }
    }

    /// Age in whole years on `day`; with only a birth year, the age reached during that year.
    pub fn age_on(&self, day: NaiveDate) -> Option<i32> {
        match (self.date, self.year) {
            (Some(date), _) => day.years_since(date).and_then(|y| i32::try_from(y).ok()),
            (None, Some(year)) => Some(day.year() - year),
            (None, None) => None,
        }
    }
}

/// A stored person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Beneficiary {
    pub id: BeneficiaryId,
    /// The post that recorded the person; its social workers are the ones who may read it.
    pub post_id: PostId,
    #[serde(flatten)]
    pub identity: BeneficiaryInput,
    /// When the identity was removed, at the end of the retention period or on request
    /// (right to erasure); absent while the record is kept whole. An anonymised person keeps
    /// only what the statistics count (sex, whether known to social services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymised_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn fields(input: &BeneficiaryInput) -> Vec<String> {
        match input.validate(day(2026, 3, 14)) {
            Ok(()) => vec![],
            Err(Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn an_anonymous_person_is_valid() {
        assert!(fields(&BeneficiaryInput::default()).is_empty());
    }

    #[test]
    fn birth_must_be_plausible_and_consistent() {
        let future = BeneficiaryInput {
            birth_date: Some(day(2026, 3, 15)),
            ..Default::default()
        };
        assert_eq!(fields(&future), ["birth_date"]);
        let disagreeing = BeneficiaryInput {
            birth_date: Some(day(1987, 5, 2)),
            birth_year: Some(1988),
            ..Default::default()
        };
        assert_eq!(fields(&disagreeing), ["birth_year"]);
        let ancient = BeneficiaryInput {
            birth_year: Some(1850),
            ..Default::default()
        };
        assert_eq!(fields(&ancient), ["birth_year"]);
    }

    #[test]
    fn names_and_commune_are_checked() {
        let bad = BeneficiaryInput {
            first_name: Some("".into()),
            last_name: Some("x".repeat(101)),
            commune_code: Some("7010".into()),
            ..Default::default()
        };
        assert_eq!(fields(&bad), ["first_name", "last_name", "commune_code"]);
    }

    #[test]
    fn age_uses_the_date_when_known_and_the_year_otherwise() {
        let exact = Birth {
            date: Some(day(2008, 6, 1)),
            year: Some(2008),
        };
        assert_eq!(exact.age_on(day(2026, 5, 31)), Some(17));
        assert_eq!(exact.age_on(day(2026, 6, 1)), Some(18));
        let year_only = Birth {
            date: None,
            year: Some(2008),
        };
        assert_eq!(year_only.age_on(day(2026, 1, 1)), Some(18));
        assert!(year_only.is_not_after(day(2008, 1, 1)));
        assert!(!year_only.is_not_after(day(2007, 12, 31)));
    }

    #[test]
    fn defaults_apply_to_missing_fields() {
        let input: BeneficiaryInput = serde_json::from_str("{}").unwrap();
        assert_eq!(input.sex, Sex::Unspecified);
        assert_eq!(
            input.known_to_social_services,
            KnownToSocialServices::Unknown
        );
    }
}
