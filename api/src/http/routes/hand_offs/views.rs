//! What a reader may see of a hand-off: the post's whole detail, or the partner's view, which
//! shows of the person exactly what the domain's [`PartnerReading`] allows.

use relais_domain::access::Principal;
use relais_domain::beneficiary::Beneficiary;
use relais_domain::hand_off::{
    Consent, HandOff, ParentalAuthority, PartnerReading, SharedPerson, Transition,
};
use relais_domain::ids::{HandOffId, PartnerId, SituationId};
use relais_domain::reference::{
    DeclineReason, HandOffResult, HandOffStatus, LegalException, ProblemCategory, Role, SharedData,
};
use relais_persistence::{DbConnection, StoreError, beneficiaries, hand_offs};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::names::{NamedConsent, NamedTransition, Names};

/// A hand-off as the post sees it: everything, with the consent and the history, and the
/// display name beside each principal that names a member (`created_by_name`, the consent's
/// `recorded_by_name` and `withdrawn_by_name`, each move's `by_name`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HandOffDetail {
    #[serde(flatten)]
    pub hand_off: HandOff,
    /// The display name of the member who created it; `null` when `created_by` names no
    /// membership.
    #[schema(example = "Camille Martin")]
    pub created_by_name: Option<String>,
    pub consent: Option<NamedConsent>,
    pub history: Vec<NamedTransition>,
}

impl HandOffDetail {
    /// The principals a hand-off's detail names.
    fn principals<'a>(
        hand_off: &'a HandOff,
        consent: Option<&'a Consent>,
        history: &'a [Transition],
    ) -> impl Iterator<Item = &'a str> {
        std::iter::once(hand_off.created_by.as_str())
            .chain(consent.into_iter().flat_map(NamedConsent::principals))
            .chain(history.iter().map(|t| t.by.as_str()))
    }

    fn with(
        hand_off: HandOff,
        consent: Option<Consent>,
        history: Vec<Transition>,
        names: &Names,
    ) -> Self {
        Self {
            created_by_name: names.of(&hand_off.created_by),
            consent: consent.map(|c| NamedConsent::with(c, names)),
            history: history
                .into_iter()
                .map(|t| NamedTransition::with(t, names))
                .collect(),
            hand_off,
        }
    }
}

/// A hand-off as its partner sees it: the status, and only the data the person agreed to share.
#[derive(Debug, Serialize, ToSchema)]
// Never deserialized: this only makes the spec say `additionalProperties: false` — the partner
// gets these fields and no other — which also tells this view from the post's in `HandOffView`.
#[serde(deny_unknown_fields)]
pub struct PartnerHandOff {
    pub id: HandOffId,
    pub partner_id: PartnerId,
    pub status: HandOffStatus,
    /// Present if the person consented to share `problems`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<ProblemCategory>>,
    /// Present if the person consented to share `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Absent once consent is withdrawn.
    pub person: Option<SharedPerson>,
    pub legal_exception: Option<LegalException>,
    /// With the legal exception: whether the holders of parental authority were informed
    /// beforehand (CASF L226-2-2), which the child-protection unit needs to know.
    pub parental_authority: Option<ParentalAuthority>,
    pub decline_reason: Option<DeclineReason>,
    /// What became of the person, coded, once completed.
    pub result: Option<HandOffResult>,
    pub outcome: Option<String>,
    /// Moves of the hand-off, without the names of the post's staff.
    pub history: Vec<PartnerTransition>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Send as `If-Match` to guard a move.
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerTransition {
    pub from: Option<HandOffStatus>,
    pub to: HandOffStatus,
    pub at: chrono::DateTime<chrono::Utc>,
    pub by_role: Role,
}

/// A hand-off as its reader may see it: the post's detail, or the partner's consented view;
/// `view` names which (its schema, with the discriminator, is in `http::tagged_views`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum HandOffView {
    Post(Box<HandOffDetail>),
    Partner(Box<PartnerHandOff>),
}

/// A page of hand-offs as the reader may see them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandOffPage {
    pub items: Vec<HandOffView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The detail the post sees of a hand-off.
pub fn detail(conn: &mut DbConnection, hand_off: HandOff) -> Result<HandOffDetail, StoreError> {
    let consent = hand_offs::consent(conn, hand_off.id)?;
    let history = hand_offs::history(conn, hand_off.id)?;
    let names = Names::load(
        conn,
        HandOffDetail::principals(&hand_off, consent.as_ref(), &history),
    )?;
    Ok(HandOffDetail::with(hand_off, consent, history, &names))
}

/// What a partner may read of a hand-off: the consent in force decides, item by item.
fn partner_view(
    hand_off: HandOff,
    consent: Option<&Consent>,
    person: Option<&Beneficiary>,
    history: Vec<Transition>,
) -> PartnerHandOff {
    let reading = PartnerReading::of(consent, hand_off.legal_exception, hand_off.status);
    let history = history
        .into_iter()
        .filter(|t| t.to != HandOffStatus::Draft)
        .map(|t| PartnerTransition {
            from: t.from.filter(|f| *f != HandOffStatus::Draft),
            to: t.to,
            at: t.at,
            by_role: t.by_role,
        })
        .collect();
    PartnerHandOff {
        id: hand_off.id,
        partner_id: hand_off.partner_id,
        status: hand_off.status,
        reasons: reading
            .may_read(SharedData::Problems)
            .then_some(hand_off.reasons),
        message: hand_off
            .message
            .filter(|_| reading.may_read(SharedData::Message)),
        person: reading.person(person),
        legal_exception: hand_off.legal_exception,
        parental_authority: hand_off
            .parental_authority
            .filter(|_| reading.reads_person()),
        decline_reason: hand_off.decline_reason,
        result: hand_off.result,
        outcome: hand_off.outcome,
        history,
        updated_at: hand_off.meta.updated_at,
        version: hand_off.meta.version,
    }
}

/// The views the reader is entitled to, of a page of hand-offs: the consents, histories and
/// (for a partner) people of the whole page are read in one query each, not one per hand-off.
pub fn views_for(
    conn: &mut DbConnection,
    reader: &Principal,
    page: Vec<HandOff>,
) -> Result<Vec<HandOffView>, StoreError> {
    let ids: Vec<HandOffId> = page.iter().map(|h| h.id).collect();
    let mut consents = hand_offs::consents_of(conn, &ids)?;
    let mut histories = hand_offs::histories_of(conn, &ids)?;
    if reader.role != Role::Partner {
        // The names of the whole page, in one query.
        let names = Names::load(
            conn,
            page.iter().flat_map(|h| {
                let history = histories.get(&h.id).map(Vec::as_slice).unwrap_or_default();
                HandOffDetail::principals(h, consents.get(&h.id), history)
            }),
        )?;
        return Ok(page
            .into_iter()
            .map(|hand_off| {
                let consent = consents.remove(&hand_off.id);
                let history = histories.remove(&hand_off.id).unwrap_or_default();
                HandOffView::Post(Box::new(HandOffDetail::with(
                    hand_off, consent, history, &names,
                )))
            })
            .collect());
    }
    // The people of only those hand-offs whose partner may read them: nothing else is loaded.
    let readable: Vec<SituationId> = page
        .iter()
        .filter(|h| {
            PartnerReading::of(consents.get(&h.id), h.legal_exception, h.status).reads_person()
        })
        .map(|h| h.situation_id)
        .collect();
    let people = beneficiaries::of_situations(conn, &readable)?;
    Ok(page
        .into_iter()
        .map(|hand_off| {
            let consent = consents.remove(&hand_off.id);
            let history = histories.remove(&hand_off.id).unwrap_or_default();
            let person = people.get(&hand_off.situation_id);
            HandOffView::Partner(Box::new(partner_view(
                hand_off,
                consent.as_ref(),
                person,
                history,
            )))
        })
        .collect())
}

/// The view the reader is entitled to, of one hand-off.
pub fn view_for(
    conn: &mut DbConnection,
    reader: &Principal,
    hand_off: HandOff,
) -> Result<HandOffView, StoreError> {
    let mut views = views_for(conn, reader, vec![hand_off])?;
    views
        .pop()
        .ok_or_else(|| StoreError::Corrupt("a hand-off without a view".into()))
}
