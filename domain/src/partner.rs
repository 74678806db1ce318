//! The partner directory: organisations a situation can be handed to. Shaped to map onto the
//! data·inclusion schema (structure and services, `thematiques`, `code_insee`).

use serde::{Deserialize, Serialize};

use crate::ids::PartnerId;
use crate::post::RecordMeta;
use crate::reference::{PartnerKind, ProblemCategory};
use crate::validation::{Invalid, Validation, is_commune_code, is_department_code};

/// What describes a partner; sent to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "CCAS de Privas", max_length = 200)
    )]
    pub name: String,
    pub kind: PartnerKind,
    /// SIRET of the structure, when it has one (14 digits).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "21070186000015", pattern = "^[0-9]{14}$")
    )]
    pub siret: Option<String>,
    /// Departments served (INSEE codes).
    #[cfg_attr(feature = "openapi", schema(example = json!(["07"])))]
    pub department_codes: Vec<String>,
    /// Communes served (INSEE codes); empty means the whole departments.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!(["07186"])))]
    pub commune_codes: Vec<String>,
    /// The problems the partner helps with.
    #[cfg_attr(feature = "openapi", schema(example = json!(["precarity", "housing", "access_to_rights"])))]
    pub themes: Vec<ProblemCategory>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "accueil@ccas-privas.fr", max_length = 200)
    )]
    pub email: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "04 75 00 00 00", max_length = 30)
    )]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "1 place de l'Hôtel de Ville, 07000 Privas",
            max_length = 300
        )
    )]
    pub address: Option<String>,
}

impl PartnerInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validation::new();
        v.line("name", &self.name, 200);
        if let Some(siret) = &self.siret {
            v.require(
                siret.len() == 14 && siret.bytes().all(|b| b.is_ascii_digit()),
                "siret",
                "invalid_siret",
                "must be 14 digits",
            );
        }
        v.require(
            !self.department_codes.is_empty(),
            "department_codes",
            "empty",
            "name at least one department served",
        );
        for (i, code) in self.department_codes.iter().enumerate() {
            v.require(
                is_department_code(code),
                &format!("department_codes[{i}]"),
                "invalid_department",
                "must be an INSEE department code",
            );
        }
        for (i, code) in self.commune_codes.iter().enumerate() {
            v.require(
                is_commune_code(code),
                &format!("commune_codes[{i}]"),
                "invalid_commune",
                "must be an INSEE commune code",
            );
        }
        v.require(
            !self.themes.is_empty(),
            "themes",
            "empty",
            "name at least one theme",
        );
        if let Some(email) = &self.email {
            v.require(
                email.len() <= 200
                    && !email.chars().any(crate::validation::deceives)
                    && email
                        .split_once('@')
                        .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
                "email",
                "invalid_email",
                "must be an e-mail address",
            );
        }
        if let Some(phone) = &self.phone {
            v.line("phone", phone, 30);
        }
        if let Some(address) = &self.address {
            v.line("address", address, 300);
        }
        v.finish()
    }

    /// Whether the partner serves the commune `code`: listed, or in a department served
    /// when no commune is listed.
    pub fn serves_commune(&self, code: &str) -> bool {
        if self.commune_codes.is_empty() {
            self.department_codes
                .iter()
                .any(|d| code.starts_with(d.as_str()))
        } else {
            self.commune_codes.iter().any(|c| c == code)
        }
    }
}

/// A partner of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Partner {
    pub id: PartnerId,
    #[serde(flatten)]
    pub details: PartnerInput,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ccas() -> PartnerInput {
        PartnerInput {
            name: "CCAS de Privas".into(),
            kind: PartnerKind::Ccas,
            siret: Some("21070186000015".into()),
            department_codes: vec!["07".into()],
            commune_codes: vec!["07186".into()],
            themes: vec![ProblemCategory::Precarity],
            email: Some("accueil@ccas-privas.fr".into()),
            phone: None,
            address: None,
        }
    }

    #[test]
    fn a_complete_partner_is_valid() {
        assert!(ccas().validate().is_ok());
    }

    #[test]
    fn faults_are_named() {
        let bad = PartnerInput {
            siret: Some("123".into()),
            department_codes: vec!["99".into()],
            themes: vec![],
            email: Some("nobody".into()),
            ..ccas()
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["siret", "department_codes[0]", "themes", "email"]);
    }

    #[test]
    fn territory() {
        assert!(ccas().serves_commune("07186"));
        assert!(!ccas().serves_commune("07010"));
        let department_wide = PartnerInput {
            commune_codes: vec![],
            ..ccas()
        };
        assert!(department_wide.serves_commune("07010"));
        assert!(!department_wide.serves_commune("26010"));
    }
}
