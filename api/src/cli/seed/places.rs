//! The fixed material of the synthetic dataset: departments, names, partner kinds and the
//! texts a social worker or a partner would write.

use relais_domain::reference::{HandOffResult, PartnerKind, ProblemCategory};

/// Departments the posts are spread over, in order (INSEE code, a town of the department).
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("07", "Privas"),
    ("26", "Valence"),
    ("69", "Lyon"),
    ("75", "Paris"),
    ("13", "Marseille"),
    ("59", "Lille"),
    ("33", "Bordeaux"),
    ("31", "Toulouse"),
    ("2A", "Ajaccio"),
    ("974", "Saint-Denis"),
    ("38", "Grenoble"),
    ("44", "Nantes"),
    ("67", "Strasbourg"),
    ("06", "Nice"),
    ("34", "Montpellier"),
    ("35", "Rennes"),
    ("76", "Rouen"),
    ("62", "Arras"),
    ("93", "Bobigny"),
    ("92", "Nanterre"),
    ("94", "Créteil"),
    ("91", "Évry-Courcouronnes"),
    ("78", "Versailles"),
    ("95", "Cergy"),
    ("77", "Melun"),
    ("57", "Metz"),
    ("54", "Nancy"),
    ("21", "Dijon"),
    ("63", "Clermont-Ferrand"),
    ("87", "Limoges"),
    ("86", "Poitiers"),
    ("37", "Tours"),
    ("45", "Orléans"),
    ("29", "Quimper"),
    ("56", "Vannes"),
    ("64", "Pau"),
    ("66", "Perpignan"),
    ("30", "Nîmes"),
    ("84", "Avignon"),
    ("83", "Toulon"),
    ("2B", "Bastia"),
    ("971", "Basse-Terre"),
    ("972", "Fort-de-France"),
    ("973", "Cayenne"),
    ("976", "Mamoudzou"),
    ("17", "La Rochelle"),
    ("49", "Angers"),
    ("72", "Le Mans"),
    ("80", "Amiens"),
    ("51", "Châlons-en-Champagne"),
];

pub const FEMALE_FIRST_NAMES: &[&str] = &[
    "Camille",
    "Marie",
    "Nathalie",
    "Sandrine",
    "Isabelle",
    "Sophie",
    "Julie",
    "Aurélie",
    "Céline",
    "Émilie",
    "Laura",
    "Sarah",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Fatima",
    "Amina",
    "Nadia",
    "Christine",
    "Valérie",
    "Sylvie",
    "Stéphanie",
    "Laetitia",
];

pub const MALE_FIRST_NAMES: &[&str] = &[
    "Thomas",
    "Nicolas",
    "Julien",
    "Kévin",
    "Mehdi",
    "Karim",
    "David",
    "Sébastien",
    "Alexandre",
    "Maxime",
    "Lucas",
    "Hugo",
    "Nathan",
    "Yanis",
    "Patrick",
    "Philippe",
    "Michel",
    "Christophe",
    "Laurent",
    "Jérôme",
];

pub const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Benali",
    "Haddad",
    "Nguyen",
    "Diallo",
    "Traoré",
    "Da Silva",
    "Ferreira",
    "Lopez",
    "Gauthier",
    "Perrin",
    "Payet",
];

/// The partners every department's directory holds: kind, name pattern (`{town}`,
/// `{dept}`), and the problems they help with.
pub const PARTNER_KINDS: &[(PartnerKind, &str, &[ProblemCategory])] = {
    use ProblemCategory as P;
    &[
        (
            PartnerKind::Ccas,
            "CCAS de {town}",
            &[
                P::Precarity,
                P::Housing,
                P::AccessToRights,
                P::VulnerableElderlyOrDisabled,
            ],
        ),
        (
            PartnerKind::DepartmentalSocialServices,
            "Service social départemental ({dept})",
            &[
                P::Precarity,
                P::FamilyConflictOrSeparation,
                P::ChildInDanger,
                P::AccessToRights,
                P::IntraFamilyViolence,
                P::ConjugalViolence,
                P::Other,
            ],
        ),
        (
            PartnerKind::VictimSupport,
            "France Victimes {dept}",
            &[
                P::ConjugalViolence,
                P::IntraFamilyViolence,
                P::SexualViolence,
                P::OtherViolenceOrHarassment,
            ],
        ),
        (
            PartnerKind::EmergencyHousing,
            "SIAO {dept} (115)",
            &[P::Housing, P::Precarity, P::ConjugalViolence],
        ),
        (
            PartnerKind::MentalHealth,
            "CMP de {town}",
            &[P::MentalHealth, P::SuicideRisk, P::Addiction],
        ),
        (
            PartnerKind::ChildProtection,
            "CRIP {dept}",
            &[P::ChildInDanger, P::RunawayMinor, P::IntraFamilyViolence],
        ),
        (
            PartnerKind::Cidff,
            "CIDFF {dept}",
            &[
                P::ConjugalViolence,
                P::AccessToRights,
                P::FamilyConflictOrSeparation,
            ],
        ),
        (
            PartnerKind::AddictionCare,
            "CSAPA de {town}",
            &[P::Addiction],
        ),
        (
            PartnerKind::Housing,
            "{town} Habitat",
            &[P::Housing, P::Precarity],
        ),
        (
            PartnerKind::Charity,
            "Secours populaire de {town}",
            &[P::Precarity, P::Other],
        ),
        (
            PartnerKind::Justice,
            "Bureau d'aide aux victimes du tribunal de {town}",
            &[
                P::OtherViolenceOrHarassment,
                P::NeighbourhoodConflict,
                P::AccessToRights,
                P::Radicalisation,
            ],
        ),
        (
            PartnerKind::Hospital,
            "Centre hospitalier de {town}",
            &[
                P::MentalHealth,
                P::SexualViolence,
                P::VulnerableElderlyOrDisabled,
            ],
        ),
    ]
};

/// Notes a social worker leaves for the partner.
pub const MESSAGES: &[&str] = &[
    "Madame souhaite être accompagnée dans ses démarches ; à rappeler en journée.",
    "Besoin d'une mise à l'abri rapide, la personne est hébergée provisoirement chez un proche.",
    "Personne déjà reçue deux fois au commissariat, souhaite un suivi dans la durée.",
    "Demande d'information sur les droits et la procédure ; disponible le matin.",
    "Situation familiale tendue, enfants au domicile ; merci de prendre contact rapidement.",
    "Monsieur accepte un accompagnement, préfère être contacté par téléphone.",
];

/// What partners report when they complete a hand-off: the free text and its coded result,
/// supported about two times in three.
pub const OUTCOMES: &[(&str, HandOffResult)] = &[
    (
        "Personne reçue en entretien, accompagnement mis en place.",
        HandOffResult::Supported,
    ),
    (
        "Hébergement trouvé, suivi social engagé.",
        HandOffResult::Supported,
    ),
    (
        "Ouverture de droits effectuée, dossier transmis au service compétent.",
        HandOffResult::Supported,
    ),
    (
        "Orientée vers une consultation spécialisée, premier rendez-vous honoré.",
        HandOffResult::Redirected,
    ),
    (
        "Accompagnement juridique réalisé, plainte déposée avec l'aide de l'association.",
        HandOffResult::Supported,
    ),
    (
        "Suivi terminé à la demande de la personne, situation stabilisée.",
        HandOffResult::Supported,
    ),
    (
        "Trois appels et un courrier restés sans réponse.",
        HandOffResult::PersonNotReached,
    ),
    (
        "La personne n'a pas souhaité donner suite à l'entretien proposé.",
        HandOffResult::PersonDeclined,
    ),
    (
        "Situation réglée avant le premier rendez-vous.",
        HandOffResult::NoLongerNeeded,
    ),
];

/// Why a social worker cancels a hand-off.
pub const CANCEL_COMMENTS: &[&str] = &[
    "La personne ne souhaite plus être orientée.",
    "Partenaire plus adapté identifié entre-temps.",
    "La personne a quitté le département.",
];

#[cfg(test)]
mod tests {
    use relais_domain::validation::is_department_code;

    use super::*;

    #[test]
    fn departments_are_real_and_distinct() {
        let mut codes: Vec<_> = DEPARTMENTS.iter().map(|(code, _)| *code).collect();
        assert!(codes.iter().all(|c| is_department_code(c)));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DEPARTMENTS.len());
    }
}
