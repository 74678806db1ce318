//! The national reference lists: stable English codes with their French labels.
//!
//! Codes are what the API and the database carry; labels are for people. A code is
//! never renamed nor removed once published, so that old records stay valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A code that is not in its list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {list} code `{code}`")]
pub struct UnknownCode {
    pub list: &'static str,
    pub code: String,
}

/// What every reference list offers.
pub trait CodeList: Sized + Copy + 'static {
    /// The list's name, as served by `GET /api/v1/reference`.
    const LIST: &'static str;
    /// Every entry, in display order.
    const ALL: &'static [Self];
    /// The name of its type, which is also the name of its schema in the OpenAPI document.
    const TYPE: &'static str;
    fn code(self) -> &'static str;
    fn label_fr(self) -> &'static str;
}

macro_rules! code_list {
    (
        $(#[$meta:meta])*
        $name:ident, $list:literal {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal : $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] #[cfg_attr(feature = "openapi", schema(rename = $code))] $variant,)+
        }

        impl CodeList for $name {
            const LIST: &'static str = $list;
            const TYPE: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[$(Self::$variant,)+];

            fn code(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }

            fn label_fr(self) -> &'static str {
                match self { $(Self::$variant => $label,)+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok(Self::$variant),)+
                    _ => Err(UnknownCode { list: $list, code: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_list! {
    /// Problem categories of the national statistics grid.
    ProblemCategory, "problem_categories" {
        ConjugalViolence = "conjugal_violence": "Violences conjugales",
        IntraFamilyViolence = "intra_family_violence": "Autres violences intrafamiliales",
        SexualViolence = "sexual_violence": "Violences sexuelles",
        OtherViolenceOrHarassment = "other_violence_or_harassment": "Autres violences ou harcèlement",
        ChildInDanger = "child_in_danger": "Enfant en danger ou en risque de l'être",
        RunawayMinor = "runaway_minor": "Fugue de mineur",
        FamilyConflictOrSeparation = "family_conflict_or_separation": "Conflit familial ou séparation",
        NeighbourhoodConflict = "neighbourhood_conflict": "Conflit de voisinage",
        Precarity = "precarity": "Précarité, difficultés financières",
        Housing = "housing": "Logement, perte d'hébergement",
        MentalHealth = "mental_health": "Troubles de santé mentale",
        SuicideRisk = "suicide_risk": "Risque suicidaire",
        Addiction = "addiction": "Addictions",
        VulnerableElderlyOrDisabled = "vulnerable_elderly_or_disabled": "Personne âgée ou handicapée vulnérable",
        Radicalisation = "radicalisation": "Radicalisation",
        AccessToRights = "access_to_rights": "Accès aux droits",
        Other = "other": "Autre problématique",
    }
}

code_list! {
    /// How the person came to the post.
    Origin, "origins" {
        Police = "police": "Orientation par la police",
        Gendarmerie = "gendarmerie": "Orientation par la gendarmerie",
        Spontaneous = "spontaneous": "Venue spontanée",
        Appointment = "appointment": "Sur rendez-vous",
        OutsideService = "outside_service": "Adressée par un service extérieur",
        Other = "other": "Autre origine",
    }
}

code_list! {
    /// Which outside service sent the person (with origin `outside_service`).
    ReferringService, "referring_services" {
        Ccas = "ccas": "CCAS / CIAS",
        DepartmentalSocialServices = "departmental_social_services": "Service social départemental",
        Association = "association": "Association",
        Hospital = "hospital": "Hôpital, service de santé",
        Justice = "justice": "Justice",
        School = "school": "Éducation nationale",
        Other = "other": "Autre service",
    }
}

code_list! {
    /// The person's standing in the police matter.
    Standing, "standings" {
        Victim = "victim": "Victime",
        Author = "author": "Mis en cause",
        Both = "both": "Victime et mis en cause",
        Neither = "neither": "Ni victime ni mis en cause",
        Relative = "relative": "Proche d'une personne concernée",
    }
}

code_list! {
    /// Sex, as counted by the national grid.
    Sex, "sexes" {
        Female = "female": "Femme",
        Male = "male": "Homme",
        Unspecified = "unspecified": "Non renseigné",
    }
}

code_list! {
    /// Whether the person was already known to social services before.
    KnownToSocialServices, "known_to_social_services" {
        Yes = "yes": "Connue des services sociaux",
        No = "no": "Inconnue des services sociaux",
        Unknown = "unknown": "Ne sait pas",
    }
}

code_list! {
    /// Where a situation stands.
    SituationStatus, "situation_statuses" {
        Open = "open": "Ouverte",
        Oriented = "oriented": "Orientée",
        Closed = "closed": "Clôturée",
    }
}

code_list! {
    /// Why a situation was closed.
    ClosingReason, "closing_reasons" {
        HandedOff = "handed_off": "Relais pris par un partenaire",
        NeedsMet = "needs_met": "Besoins satisfaits",
        PersonDeclined = "person_declined": "Refus de la personne",
        ContactLost = "contact_lost": "Perte de contact",
        MovedAway = "moved_away": "Déménagement hors du territoire",
        Other = "other": "Autre motif",
    }
}

code_list! {
    /// How an intervention took place.
    InterventionMode, "intervention_modes" {
        InterviewAtUnit = "interview_at_unit": "Entretien au commissariat ou à la brigade",
        Phone = "phone": "Entretien téléphonique",
        HomeVisit = "home_visit": "Visite à domicile",
        Elsewhere = "elsewhere": "Entretien en un autre lieu",
        Accompaniment = "accompaniment": "Accompagnement physique de la personne",
    }
}

code_list! {
    /// What was done in an intervention.
    InterventionKind, "intervention_kinds" {
        ListeningAndEvaluation = "listening_and_evaluation": "Écoute active et évaluation",
        RightsInformation = "rights_information": "Information sur les droits",
        EmotionalSupport = "emotional_support": "Soutien psychologique",
        Mediation = "mediation": "Médiation",
        ProceduralHelp = "procedural_help": "Aide technique à une démarche",
        UrgentShelterSearch = "urgent_shelter_search": "Recherche d'hébergement d'urgence",
        InformationPreoccupante = "information_preoccupante": "Information préoccupante à la CRIP",
        Orientation = "orientation": "Orientation vers un partenaire",
        Other = "other": "Autre intervention",
    }
}

code_list! {
    /// Which forces a post serves.
    PostKind, "post_kinds" {
        Police = "police": "Police nationale",
        Gendarmerie = "gendarmerie": "Gendarmerie nationale",
        Mixed = "mixed": "Police et gendarmerie",
    }
}

code_list! {
    /// Who signed the convention that founded a post (within the CLSPD).
    Convention, "conventions" {
        State = "state": "État",
        Department = "department": "Département",
        Commune = "commune": "Commune",
        Intercommunality = "intercommunality": "Intercommunalité",
        Tripartite = "tripartite": "Convention tripartite État, département, commune",
        Other = "other": "Autre convention",
    }
}

code_list! {
    /// Kinds of police and gendarmerie units.
    UnitKind, "unit_kinds" {
        Commissariat = "commissariat": "Commissariat de police",
        GendarmerieBrigade = "gendarmerie_brigade": "Brigade de gendarmerie",
        GendarmerieCompany = "gendarmerie_company": "Compagnie de gendarmerie",
        Other = "other": "Autre unité",
    }
}

code_list! {
    /// What a token's holder is, which decides what it may read and write.
    Role, "roles" {
        SocialWorker = "social_worker": "Intervenant social (ISCG)",
        Coordinator = "coordinator": "Coordinateur",
        Officer = "officer": "Policier ou gendarme",
        Partner = "partner": "Système partenaire",
        Statistics = "statistics": "Observatoire (statistiques)",
        Admin = "admin": "Administrateur",
        /// Relais itself, when one of its background jobs acts (`system:<job>`); no token
        /// carries this role.
        System = "system": "Relais (tâche automatique)",
    }
}

code_list! {
    /// Kinds of partner organisations (data·inclusion `typologie`-like).
    PartnerKind, "partner_kinds" {
        DepartmentalSocialServices = "departmental_social_services": "Service social départemental",
        Ccas = "ccas": "CCAS / CIAS",
        Charity = "charity": "Association caritative",
        EmergencyHousing = "emergency_housing": "Hébergement d'urgence / SIAO (115)",
        Hospital = "hospital": "Hôpital",
        MentalHealth = "mental_health": "Santé mentale / CMP",
        VictimSupport = "victim_support": "Association d'aide aux victimes",
        Justice = "justice": "Justice",
        ChildProtection = "child_protection": "Protection de l'enfance (ASE / CRIP)",
        Housing = "housing": "Logement",
        AddictionCare = "addiction_care": "Addictologie (CSAPA, CAARUD)",
        Cidff = "cidff": "CIDFF",
        Other = "other": "Autre partenaire",
    }
}

code_list! {
    /// Where an incoming referral stands, as its sender sees it.
    ReferralStatus, "referral_statuses" {
        Received = "received": "Reçu",
        PersonContacted = "person_contacted": "Personne contactée",
        TakenUp = "taken_up": "Pris en charge",
        NoFollowUp = "no_follow_up": "Sans suite",
    }
}

code_list! {
    /// Why a referral had no follow-up; shown to its sender, so never confidential.
    NoFollowUpReason, "no_follow_up_reasons" {
        PersonUnreachable = "person_unreachable": "Personne injoignable",
        PersonDeclined = "person_declined": "Refus de la personne",
        OutOfScope = "out_of_scope": "Hors du champ de l'intervention sociale",
        Duplicate = "duplicate": "Doublon",
        Other = "other": "Autre motif",
    }
}

code_list! {
    /// Where a hand-off stands.
    HandOffStatus, "hand_off_statuses" {
        Draft = "draft": "Brouillon",
        Sent = "sent": "Envoyée",
        Received = "received": "Reçue par le partenaire",
        Accepted = "accepted": "Acceptée",
        Declined = "declined": "Refusée",
        Completed = "completed": "Terminée",
        Cancelled = "cancelled": "Annulée",
        /// Not answered (accepted or declined) within the follow-up's deadline: the post may
        /// hand the situation to another partner.
        Expired = "expired": "Expirée, sans réponse du partenaire",
    }
}

code_list! {
    /// Why a partner declined a hand-off.
    DeclineReason, "decline_reasons" {
        OutOfScope = "out_of_scope": "Hors du champ du partenaire",
        NoCapacity = "no_capacity": "Pas de place ou de disponibilité",
        OutOfTerritory = "out_of_territory": "Hors du territoire",
        AlreadyFollowed = "already_followed": "Déjà suivie par ailleurs",
        PersonUnreachable = "person_unreachable": "Personne injoignable",
        Other = "other": "Autre motif",
    }
}

code_list! {
    /// What became of the person a partner accepted, as the partner reports it on completing
    /// (beside its free-text outcome): what the grid counts.
    HandOffResult, "hand_off_results" {
        Supported = "supported": "Personne accompagnée par le partenaire",
        PersonNotReached = "person_not_reached": "Personne non jointe",
        PersonDeclined = "person_declined": "Personne ayant refusé l'accompagnement",
        Redirected = "redirected": "Personne réorientée vers un autre service",
        NoLongerNeeded = "no_longer_needed": "Besoin disparu",
    }
}

code_list! {
    /// How consent was given or refused.
    ConsentForm, "consent_forms" {
        Oral = "oral": "Oral",
        Written = "written": "Écrit",
    }
}

code_list! {
    /// What a partner may read of a handed-off person, each item consented to.
    SharedData, "shared_data" {
        Identity = "identity": "Nom et prénom",
        Contact = "contact": "Téléphone",
        Birth = "birth": "Date ou année de naissance",
        Commune = "commune": "Commune de résidence",
        Problems = "problems": "Problématiques à l'origine de l'orientation",
        Message = "message": "Message de l'intervenant social au partenaire",
    }
}

code_list! {
    /// The legal grounds on which a hand-off may go without consent.
    LegalException, "legal_exceptions" {
        InformationPreoccupante = "information_preoccupante": "Information préoccupante à la CRIP (art. L226-2-1 CASF)",
    }
}

/// One entry of a list, as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferenceEntry {
    #[cfg_attr(feature = "openapi", schema(example = "conjugal_violence"))]
    pub code: &'static str,
    #[cfg_attr(feature = "openapi", schema(example = "Violences conjugales"))]
    pub label: &'static str,
}

/// Every entry of the list `T`.
pub fn entries<T: CodeList>() -> Vec<ReferenceEntry> {
    T::ALL
        .iter()
        .map(|v| ReferenceEntry {
            code: v.code(),
            label: v.label_fr(),
        })
        .collect()
}

code_list! {
    /// The kinds of records whose reads and writes are audited.
    AuditedRecord, "audited_records" {
        Beneficiary = "beneficiary": "Personne",
        Situation = "situation": "Situation",
        HandOff = "hand_off": "Passage de relais",
        Referral = "referral": "Signalement",
        Requisition = "requisition": "Réquisition judiciaire",
        Member = "member": "Membre (accès d'une personne à Relais)",
        /// A post's statistics as submitted (no personal data: audited as an act of record).
        StatisticsSubmission = "statistics_submission": "Statistiques transmises",
        /// An instance whose statistics the observatory imports.
        StatisticsInstance = "statistics_instance": "Instance émettrice de statistiques",
    }
}

code_list! {
    /// Where a membership stands.
    MemberStatus, "member_statuses" {
        /// Invited by e-mail; no login bound an identity yet.
        Invited = "invited": "Invité, en attente de la première connexion",
        /// Bound to an identity: its tokens are mapped to this membership.
        Active = "active": "Actif",
        /// Revoked: refused from the next request on.
        Revoked = "revoked": "Révoqué",
    }
}

code_list! {
    /// How an audited request ended.
    AuditOutcome, "audit_outcomes" {
        Success = "success": "Accès réalisé",
        Denied = "denied": "Accès refusé (rôle)",
        NotFound = "not_found": "Enregistrement introuvable ou hors périmètre",
        Rejected = "rejected": "Demande invalide",
        Failed = "failed": "Erreur du service",
        /// An idempotent retry answered with the record's current view; nothing changed.
        Replayed = "replayed": "Nouvelle tentative (rien de modifié)",
    }
}

code_list! {
    /// The legal ground of a judicial requisition.
    LegalBasis, "legal_bases" {
        /// Flagrance inquiry, article 60-1 of the code de procédure pénale.
        Cpp60_1 = "cpp_60_1": "Article 60-1 CPP (enquête de flagrance)",
        /// Preliminary inquiry, article 77-1-1 of the code de procédure pénale.
        Cpp77_1_1 = "cpp_77_1_1": "Article 77-1-1 CPP (enquête préliminaire)",
    }
}

code_list! {
    /// Where a judicial requisition stands.
    RequisitionStatus, "requisition_statuses" {
        Recorded = "recorded": "Enregistrée, en attente de validation",
        Approved = "approved": "Validée par le coordinateur",
        Rejected = "rejected": "Refusée par le coordinateur",
        Produced = "produced": "Extraction produite",
    }
}

code_list! {
    /// Where the delivery of an event to a webhook stands.
    DeliveryStatus, "delivery_statuses" {
        /// Not yet acknowledged; attempted again at `next_attempt_at`.
        Pending = "pending": "En attente",
        /// The receiver answered 2xx.
        Delivered = "delivered": "Remise",
        /// Every attempt failed for more than a day: no more attempts.
        Failed = "failed": "Échec définitif",
    }
}

code_list! {
    /// What an event of the feed and of the webhooks reports (see `crate::event`).
    EventType, "event_types" {
        HandOffCreated = "hand_off.created": "Passage de relais créé (brouillon)",
        HandOffSent = "hand_off.sent": "Passage de relais envoyé",
        HandOffReceived = "hand_off.received": "Passage de relais reçu par le partenaire",
        HandOffAccepted = "hand_off.accepted": "Passage de relais accepté",
        HandOffDeclined = "hand_off.declined": "Passage de relais refusé",
        HandOffCompleted = "hand_off.completed": "Passage de relais terminé",
        HandOffCancelled = "hand_off.cancelled": "Passage de relais annulé",
        HandOffConsentWithdrawn = "hand_off.consent_withdrawn": "Consentement retiré",
        HandOffLegalExceptionUsed = "hand_off.legal_exception_used": "Passage de relais sans consentement (exception légale)",
        HandOffReminded = "hand_off.reminded": "Relance : réponse ou résultat attendu du partenaire",
        HandOffExpired = "hand_off.expired": "Passage de relais expiré, sans réponse du partenaire",
        HandOffPersonalDataWithdrawn = "hand_off.personal_data_withdrawn": "Données de la personne retirées au partenaire",
        ReferralReceived = "referral.received": "Signalement reçu",
        ReferralTakenUp = "referral.taken_up": "Signalement pris en charge",
        ReferralPersonContacted = "referral.person_contacted": "Personne signalée contactée",
        ReferralNoFollowUp = "referral.no_follow_up": "Signalement classé sans suite",
        MemberGranted = "member.granted": "Membre ajouté ou invité",
        MemberChanged = "member.changed": "Rôle ou postes d'un membre modifiés",
        MemberBound = "member.bound": "Invitation acceptée à la première connexion",
        MemberRevoked = "member.revoked": "Membre révoqué",
    }
}

code_list! {
    /// What a reminder of the follow-up asks a partner for.
    ReminderKind, "reminder_kinds" {
        /// A hand-off sent and not acknowledged: an answer (accept or decline) is awaited.
        Answer = "answer": "Réponse attendue du partenaire",
        /// A hand-off accepted and not completed: its outcome is awaited.
        Outcome = "outcome": "Résultat attendu du partenaire",
    }
}

code_list! {
    /// Why a partner lost the right to a handed-off person's data (and must erase its copy).
    WithdrawalReason, "withdrawal_reasons" {
        ConsentWithdrawn = "consent_withdrawn": "Consentement retiré par la personne",
        Cancelled = "cancelled": "Passage de relais annulé",
        Declined = "declined": "Passage de relais refusé",
        Expired = "expired": "Passage de relais expiré",
        Erasure = "erasure": "Effacement à la demande de la personne",
        Retention = "retention": "Fin de la durée de conservation",
    }
}

code_list! {
    /// Why a record waits on the worklist (`GET /api/v1/worklist`).
    WorkKind, "work_kinds" {
        /// A referral received and not taken up (the post's).
        ReferralToTakeUp = "referral_to_take_up": "Signalement à prendre en charge",
        /// A hand-off sent or acknowledged, waiting for the partner's answer (the post's).
        HandOffAwaitingPartner = "hand_off_awaiting_partner": "Passage de relais en attente du partenaire",
        /// A hand-off declined or expired, its situation handed to no one since (the post's).
        HandOffToReorient = "hand_off_to_reorient": "Passage de relais refusé ou expiré : à réorienter",
        /// A draft whose person's consent is not recorded (the post's).
        DraftWithoutConsent = "draft_without_consent": "Brouillon sans consentement recueilli",
        /// A situation open with no intervention for `RELAIS_IDLE_SITUATION_DAYS` (the post's).
        IdleSituation = "idle_situation": "Situation ouverte sans intervention récente",
        /// A hand-off waiting for the partner to accept or decline it (the partner's).
        HandOffToAnswer = "hand_off_to_answer": "Passage de relais à accepter ou refuser",
        /// An accepted hand-off waiting for its outcome (the partner's).
        HandOffOutcomeDue = "hand_off_outcome_due": "Résultat attendu du passage de relais",
    }
}

/// A code list as `GET /api/v1/reference` serves it: its name, its type's name and its entries.
#[derive(Debug, Clone, Copy)]
pub struct ListInfo {
    pub list: &'static str,
    pub type_name: &'static str,
    pub entries: fn() -> Vec<ReferenceEntry>,
}

const fn info<T: CodeList>() -> ListInfo {
    ListInfo {
        list: T::LIST,
        type_name: T::TYPE,
        entries: entries::<T>,
    }
}

/// Every code list of the domain, in the order `GET /api/v1/reference` serves them. A test reads
/// this file and fails when a `code_list!` is missing here.
pub const LISTS: &[ListInfo] = &[
    info::<ProblemCategory>(),
    info::<Origin>(),
    info::<ReferringService>(),
    info::<Standing>(),
    info::<Sex>(),
    info::<KnownToSocialServices>(),
    info::<SituationStatus>(),
    info::<ClosingReason>(),
    info::<InterventionMode>(),
    info::<InterventionKind>(),
    info::<PostKind>(),
    info::<Convention>(),
    info::<UnitKind>(),
    info::<Role>(),
    info::<PartnerKind>(),
    info::<ReferralStatus>(),
    info::<NoFollowUpReason>(),
    info::<HandOffStatus>(),
    info::<DeclineReason>(),
    info::<HandOffResult>(),
    info::<ConsentForm>(),
    info::<SharedData>(),
    info::<LegalException>(),
    info::<AuditedRecord>(),
    info::<MemberStatus>(),
    info::<AuditOutcome>(),
    info::<LegalBasis>(),
    info::<RequisitionStatus>(),
    info::<DeliveryStatus>(),
    info::<EventType>(),
    info::<ReminderKind>(),
    info::<WithdrawalReason>(),
    info::<WorkKind>(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_well_formed<T: CodeList + FromStr + PartialEq + fmt::Debug>() {
        let mut codes: Vec<_> = T::ALL.iter().map(|v| v.code()).collect();
        for v in T::ALL {
            assert_eq!(v.code().parse::<T>().ok().as_ref(), Some(v));
            assert!(!v.label_fr().is_empty());
            assert!(
                v.code().bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'_'
                    || b == b'.')
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), T::ALL.len(), "duplicate code in {}", T::LIST);
    }

    #[test]
    fn every_list_is_well_formed() {
        assert_well_formed::<ProblemCategory>();
        assert_well_formed::<Origin>();
        assert_well_formed::<ReferringService>();
        assert_well_formed::<Standing>();
        assert_well_formed::<Sex>();
        assert_well_formed::<KnownToSocialServices>();
        assert_well_formed::<SituationStatus>();
        assert_well_formed::<ClosingReason>();
        assert_well_formed::<InterventionMode>();
        assert_well_formed::<InterventionKind>();
        assert_well_formed::<PostKind>();
        assert_well_formed::<Convention>();
        assert_well_formed::<UnitKind>();
        assert_well_formed::<Role>();
        assert_well_formed::<PartnerKind>();
        assert_well_formed::<ReferralStatus>();
        assert_well_formed::<NoFollowUpReason>();
        assert_well_formed::<HandOffStatus>();
        assert_well_formed::<DeclineReason>();
        assert_well_formed::<HandOffResult>();
        assert_well_formed::<ConsentForm>();
        assert_well_formed::<SharedData>();
        assert_well_formed::<LegalException>();
        assert_well_formed::<AuditedRecord>();
        assert_well_formed::<AuditOutcome>();
        assert_well_formed::<LegalBasis>();
        assert_well_formed::<RequisitionStatus>();
        assert_well_formed::<DeliveryStatus>();
        assert_well_formed::<EventType>();
        assert_well_formed::<ReminderKind>();
        assert_well_formed::<WithdrawalReason>();
        assert_well_formed::<WorkKind>();
    }

    /// Every `code_list!` of this file is in [`LISTS`], so that `/api/v1/reference` serves it.
    #[test]
    fn every_code_list_is_served() {
        let source = include_str!("reference.rs");
        let declared: Vec<&str> = source
            .split(concat!("code_list", "! {"))
            .skip(1)
            .filter_map(|rest| {
                let line = rest
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("///"))?;
                let (name, after) = line.split_once(", \"")?;
                name.starts_with(|c: char| c.is_ascii_uppercase())
                    .then_some(after)
                    .map(|_| name)
            })
            .collect();
        let served: Vec<&str> = LISTS.iter().map(|l| l.type_name).collect();
        assert!(declared.len() >= 28, "{declared:?}");
        for name in &declared {
            assert!(served.contains(name), "{name} is not in LISTS");
        }
        let mut names: Vec<&str> = LISTS.iter().map(|l| l.list).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LISTS.len(), "two lists share a name");
    }

    #[test]
    fn the_grid_problem_categories_are_all_there() {
        assert_eq!(ProblemCategory::ALL.len(), 17);
        assert_eq!(
            ProblemCategory::ConjugalViolence.label_fr(),
            "Violences conjugales"
        );
    }

    #[test]
    fn serde_uses_the_codes() {
        let json = serde_json::to_string(&ProblemCategory::Housing).unwrap();
        assert_eq!(json, "\"housing\"");
        assert!(serde_json::from_str::<Origin>("\"nowhere\"").is_err());
        assert_eq!("police".parse::<Origin>(), Ok(Origin::Police));
        assert_eq!(
            "nowhere".parse::<Origin>().unwrap_err().to_string(),
            "unknown origins code `nowhere`"
        );
    }
}
