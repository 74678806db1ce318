//! Posts (ISCG posts) and the police and gendarmerie units they serve.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PostId, UnitId};
use crate::reference::{Convention, PostKind, UnitKind};
use crate::validation::{Invalid, Validation, is_department_code};

/// Creation and concurrency data every stored record carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordMeta {
    /// When the record was created (UTC).
    pub created_at: DateTime<Utc>,
    /// When the record last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change; sent as the `ETag` and expected back in `If-Match`.
    #[cfg_attr(feature = "openapi", schema(example = 1, minimum = 1))]
    pub version: i64,
}

/// What describes a post; sent to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    /// Name of the post.
    #[cfg_attr(feature = "openapi", schema(example = "ISCG Privas", max_length = 200))]
    pub name: String,
    pub kind: PostKind,
    /// INSEE department code.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "07", pattern = "^([0-9]{2}|2[AB]|97[1-6])$")
    )]
    pub department_code: String,
    /// The employer of the post's social workers.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Association Le Relais 07", max_length = 200)
    )]
    pub employer: String,
    pub convention: Convention,
}

impl PostInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("name", &self.name, 200);
        v.line("employer", &self.employer, 200);
        v.require(
            is_department_code(&self.department_code),
            "department_code",
            "invalid_department",
            "must be an INSEE department code (01–95, 2A, 2B, 971–976)",
        );
        v.finish()
    }
}

/// A stored post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Post {
    pub id: PostId,
    #[serde(flatten)]
    pub details: PostInput,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

/// What describes a unit; sent to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Commissariat de Privas", max_length = 200)
    )]
    pub name: String,
    pub kind: UnitKind,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "07", pattern = "^([0-9]{2}|2[AB]|97[1-6])$")
    )]
    pub department_code: String,
    /// The posts this unit works with.
    #[serde(default)]
    pub post_ids: Vec<PostId>,
}

impl UnitInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("name", &self.name, 200);
        v.require(
            is_department_code(&self.department_code),
            "department_code",
            "invalid_department",
            "must be an INSEE department code (01–95, 2A, 2B, 971–976)",
        );
        let mut ids = self.post_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        v.require(
            ids.len() == self.post_ids.len(),
            "post_ids",
            "duplicate",
            "must not repeat a post",
        );
        v.finish()
    }
}

/// A stored unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    pub id: UnitId,
    #[serde(flatten)]
    pub details: UnitInput,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post() -> PostInput {
        PostInput {
            name: "ISCG Privas".into(),
            kind: PostKind::Mixed,
            department_code: "07".into(),
            employer: "Association".into(),
            convention: Convention::Tripartite,
        }
    }

    #[test]
    fn a_complete_post_is_valid() {
        assert_eq!(post().validate(), Ok(()));
    }

    #[test]
    fn a_post_reports_every_fault() {
        let bad = PostInput {
            name: " ".into(),
            department_code: "20".into(),
            ..post()
        };
        let Invalid(errors) = bad.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "department_code"]);
    }

    #[test]
    fn a_unit_cannot_list_a_post_twice() {
        let id = PostId::generate();
        let unit = UnitInput {
            name: "Brigade".into(),
            kind: UnitKind::GendarmerieBrigade,
            department_code: "2A".into(),
            post_ids: vec![id, id],
        };
        assert_eq!(unit.validate().unwrap_err().0[0].field, "post_ids");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"name":"x","kind":"police","department_code":"07","employer":"e","convention":"state","extra":1}"#;
        assert!(serde_json::from_str::<PostInput>(json).is_err());
    }
}
