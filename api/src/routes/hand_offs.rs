//! Hand-offs (*passage de relais*): a social worker hands a situation to a partner with the
//! person's consent; the partner's system acknowledges, accepts or declines, and reports the
//! outcome. A partner reads exactly what was consented to, and nothing once consent is withdrawn.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use relais_domain::beneficiary::Beneficiary;
use relais_domain::handoff::{
    self, Consent, ConsentInput, HandOff, HandOffAction, HandOffInput, SendCheck, Side, Transition,
    partner_may_read,
};
use relais_domain::ids::{HandOffId, PartnerId, SituationId};
use relais_domain::reference::{
    DeclineReason, HandOffStatus, LegalException, PartnerKind, ProblemCategory, Role, Sex,
    SharedData, SituationStatus,
};
use relais_domain::situation::SituationState;
use relais_domain::validation::{Invalid, Validation};
use relais_persistence::events::{self, NewEvent};
use relais_persistence::hand_offs::{self, Actor, HandOffFilter, MoveDetails};
use relais_persistence::{DbConnection, StoreError, beneficiaries, partners, situations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{created, cursor_is_id, found_within, page_request, versioned};
use super::situations::{readable_situation, writable_situation};
use crate::auth::CurrentUser;
use crate::extract::{Json, OptionalIfMatch, OptionalJson, Query};
use crate::idempotency::{Answer, IdempotencyKey, run_once};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_hand_off)
        .service(list_situation_hand_offs)
        .service(list_hand_offs)
        .service(get_hand_off)
        .service(record_consent)
        .service(withdraw_consent)
        .service(send_hand_off)
        .service(cancel_hand_off)
        .service(acknowledge_hand_off)
        .service(accept_hand_off)
        .service(decline_hand_off)
        .service(complete_hand_off);
}

/// A hand-off as the post sees it: everything, with the consent and the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandOffDetail {
    #[serde(flatten)]
    pub hand_off: HandOff,
    pub consent: Option<Consent>,
    pub history: Vec<Transition>,
}

/// The person as a partner may see them: only the consented items are present.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SharedPerson {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Camille")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Martin")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "06 12 34 56 78")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1987-05-02")]
    pub birth_date: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1987)]
    pub birth_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "07010")]
    pub commune_code: Option<String>,
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
    pub decline_reason: Option<DeclineReason>,
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

/// A hand-off as its reader may see it: the post's detail, or the partner's consented view.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum HandOffView {
    Post(Box<HandOffDetail>),
    Partner(Box<PartnerHandOff>),
}

/// A page of hand-offs as the reader may see them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandOffPage {
    pub items: Vec<HandOffView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn detail(conn: &mut DbConnection, hand_off: HandOff) -> Result<HandOffDetail, ApiError> {
    let consent = hand_offs::consent(conn, hand_off.id)?;
    let history = hand_offs::history(conn, hand_off.id)?;
    Ok(HandOffDetail {
        hand_off,
        consent,
        history,
    })
}

/// What a partner may read of a hand-off: the consent in force decides, item by item.
fn partner_view(
    hand_off: HandOff,
    consent: Option<&Consent>,
    person: Option<&Beneficiary>,
    history: Vec<Transition>,
) -> PartnerHandOff {
    let shared = consent.and_then(Consent::in_force);
    let exception = hand_off.legal_exception;
    let withdrawn = consent.is_some_and(|c| c.withdrawn_at.is_some());
    let may = |item| !withdrawn && partner_may_read(item, shared, exception);
    let person = person
        .filter(|_| partner_reads_person(consent, exception))
        .map(|who| {
            let who = &who.identity;
            SharedPerson {
                first_name: who.first_name.clone().filter(|_| may(SharedData::Identity)),
                last_name: who.last_name.clone().filter(|_| may(SharedData::Identity)),
                sex: may(SharedData::Identity).then_some(who.sex),
                phone: who.phone.clone().filter(|_| may(SharedData::Contact)),
                birth_date: who.birth_date.filter(|_| may(SharedData::Birth)),
                birth_year: who.birth_year.filter(|_| may(SharedData::Birth)),
                commune_code: who
                    .commune_code
                    .clone()
                    .filter(|_| may(SharedData::Commune)),
            }
        });
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
        reasons: may(SharedData::Problems).then_some(hand_off.reasons),
        message: hand_off.message.filter(|_| may(SharedData::Message)),
        person,
        legal_exception: exception,
        decline_reason: hand_off.decline_reason,
        outcome: hand_off.outcome,
        history,
        updated_at: hand_off.meta.updated_at,
        version: hand_off.meta.version,
    }
}

/// Whether the partner reads anything of the person: not after a withdrawal, and only under a
/// consent in force or the legal exception.
fn partner_reads_person(consent: Option<&Consent>, exception: Option<LegalException>) -> bool {
    let withdrawn = consent.is_some_and(|c| c.withdrawn_at.is_some());
    !withdrawn && (consent.and_then(Consent::in_force).is_some() || exception.is_some())
}

/// The views the reader is entitled to, of a page of hand-offs: the consents, histories and
/// (for a partner) people of the whole page are read in one query each, not one per hand-off.
fn views_for(
    conn: &mut DbConnection,
    user: &CurrentUser,
    page: Vec<HandOff>,
) -> Result<Vec<HandOffView>, ApiError> {
    let ids: Vec<HandOffId> = page.iter().map(|h| h.id).collect();
    let mut consents = hand_offs::consents_of(conn, &ids)?;
    let mut histories = hand_offs::histories_of(conn, &ids)?;
    if user.role != Role::Partner {
        return Ok(page
            .into_iter()
            .map(|hand_off| {
                HandOffView::Post(Box::new(HandOffDetail {
                    consent: consents.remove(&hand_off.id),
                    history: histories.remove(&hand_off.id).unwrap_or_default(),
                    hand_off,
                }))
            })
            .collect());
    }
    // The people of only those hand-offs whose partner may read them: nothing else is loaded.
    let readable: Vec<SituationId> = page
        .iter()
        .filter(|h| partner_reads_person(consents.get(&h.id), h.legal_exception))
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
fn view_for(
    conn: &mut DbConnection,
    user: &CurrentUser,
    hand_off: HandOff,
) -> Result<HandOffView, ApiError> {
    let mut views = views_for(conn, user, vec![hand_off])?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal("a hand-off without a view".into()))
}

/// The hand-off if the caller may see it: staff of its post, or its partner once sent.
/// 404 otherwise, so that existence does not leak.
fn visible_hand_off(
    conn: &mut DbConnection,
    user: &CurrentUser,
    id: HandOffId,
) -> Result<HandOff, ApiError> {
    found_within(
        hand_offs::get(conn, id),
        "hand-off",
        |hand_off| match user.role {
            Role::Partner => {
                user.partner_id == Some(hand_off.partner_id)
                    && hand_off.status != HandOffStatus::Draft
            }
            _ => user.can_read_cases(hand_off.post_id),
        },
    )
}

/// Records the event of a hand-off's new state, for its post and (once sent) its partner.
fn emit(conn: &mut DbConnection, hand_off: &HandOff, kind: &str) -> Result<(), ApiError> {
    let partner = (hand_off.status != HandOffStatus::Draft).then_some(hand_off.partner_id);
    let data =
        serde_json::json!({"hand_off_id": hand_off.id, "status": hand_off.status}).to_string();
    events::append(
        conn,
        &NewEvent {
            kind,
            post: Some(hand_off.post_id),
            partner,
            unit: None,
            record_type: "hand_off",
            record_id: hand_off.id.to_string(),
            data,
        },
    )?;
    Ok(())
}

/// A hand-off sent without consent, on the legal exception, leaves a record of its own in the
/// post's feed, naming who used the exception, for the coordinator's review.
fn audit_legal_exception(
    conn: &mut DbConnection,
    hand_off: &HandOff,
    user: &CurrentUser,
) -> Result<(), ApiError> {
    let Some(exception) = hand_off.legal_exception else {
        return Ok(());
    };
    let data = serde_json::json!({
        "hand_off_id": hand_off.id, "legal_exception": exception, "by": user.subject, "by_role": user.role,
    })
    .to_string();
    events::append(
        conn,
        &NewEvent {
            kind: "hand_off.legal_exception_used",
            post: Some(hand_off.post_id),
            partner: None,
            unit: None,
            record_type: "hand_off",
            record_id: hand_off.id.to_string(),
            data,
        },
    )?;
    Ok(())
}

fn status_event(status: HandOffStatus) -> String {
    format!("hand_off.{status}")
}

fn actor(user: &CurrentUser) -> Actor<'_> {
    Actor {
        subject: &user.subject,
        role: user.role,
    }
}

/// Hand a situation to a partner: creates a draft, to be sent once consent is recorded.
#[utoipa::path(
    tag = "hand-offs",
    params(("id" = SituationId, Path, description = "The situation's id")),
    request_body(content = HandOffInput, example = json!({
        "partner_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b", "reasons": ["precarity"],
        "message": "Besoin d'une aide alimentaire et d'un accompagnement vers l'emploi."
    })),
    responses(
        (status = 201, description = "The draft hand-off, with its `Location` and `ETag`", body = HandOffDetail,
            headers(("Location" = String, description = "URL of the hand-off"), ("ETag" = String, description = "Version, for If-Match"))),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The situation was anonymised with its person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/situations/{id}/hand-offs")]
async fn create_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    Json(input): Json<HandOffInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let id = id.into_inner();
    let created_detail = state
        .write(move |conn| {
            let situation = writable_situation(conn, &user, id)?;
            let partner = match partners::get(conn, input.partner_id) {
                Ok(p) => p,
                Err(StoreError::NotFound) => {
                    return Err(ApiError::invalid("partner_id", "unknown_partner", "no such partner in the directory"));
                }
                Err(e) => return Err(e.into()),
            };
            if input.legal_exception.is_some() && partner.details.kind != PartnerKind::ChildProtection {
                return Err(ApiError::invalid(
                    "legal_exception",
                    "wrong_partner",
                    "an information préoccupante goes to the child-protection unit (partner kind child_protection) only",
                ));
            }
            let hand_off = hand_offs::insert(conn, situation.id, situation.post_id, &input, actor(&user))?;
            emit(conn, &hand_off, "hand_off.created")?;
            detail(conn, hand_off)
        })
        .await?;
    Ok(created(
        format!("/api/v1/hand-offs/{}", created_detail.hand_off.id),
        created_detail.hand_off.meta.version,
        &created_detail,
    ))
}

/// List a situation's hand-offs.
#[utoipa::path(
    tag = "hand-offs",
    params(("id" = SituationId, Path, description = "The situation's id")),
    responses(
        (status = 200, description = "The situation's hand-offs, newest first", body = Vec<HandOff>),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/situations/{id}/hand-offs")]
async fn list_situation_hand_offs(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
) -> Result<web::Json<Vec<HandOff>>, ApiError> {
    let id = id.into_inner();
    let found = state
        .read(move |conn| {
            readable_situation(conn, &user, id)?;
            let filter = HandOffFilter {
                situation: Some(id),
                ..HandOffFilter::default()
            };
            let page = page_request(Some(200), None);
            Ok(hand_offs::list(conn, &filter, &page)?.items)
        })
        .await?;
    Ok(web::Json(found))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HandOffListParams {
    pub status: Option<HandOffStatus>,
    /// Only this situation's hand-offs (post staff).
    pub situation_id: Option<SituationId>,
    /// Most hand-offs to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// List hand-offs: a partner system its own (never drafts), post staff their posts'.
#[utoipa::path(
    tag = "hand-offs",
    params(HandOffListParams),
    responses((status = 200, description = "A page of hand-offs as you may see them", body = HandOffPage))
)]
#[get("/hand-offs")]
async fn list_hand_offs(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<HandOffListParams>,
) -> Result<web::Json<HandOffPage>, ApiError> {
    let filter = match user.role {
        Role::Partner => HandOffFilter {
            partner: user.partner_id,
            ..HandOffFilter::default()
        },
        Role::SocialWorker | Role::Coordinator => HandOffFilter {
            posts: Some(user.readable_case_posts().to_vec()),
            ..HandOffFilter::default()
        },
        role => {
            return Err(ApiError::Forbidden(format!(
                "the role {role} does not read hand-offs"
            )));
        }
    };
    let filter = HandOffFilter {
        status: params.status,
        situation: params.situation_id,
        ..filter
    };
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| {
            let page = hand_offs::list(conn, &filter, &page)?;
            let items = views_for(conn, &user, page.items)?;
            Ok(HandOffPage {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(found))
}

/// Read a hand-off: post staff see all of it; its partner sees the consented data only.
#[utoipa::path(
    tag = "hand-offs",
    params(("id" = HandOffId, Path, description = "The hand-off's id")),
    responses(
        (status = 200, description = "The hand-off as you may see it, with its `ETag`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/hand-offs/{id}")]
async fn get_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<HandOffId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (version, view) = state
        .read(move |conn| {
            let hand_off = visible_hand_off(conn, &user, id)?;
            let version = hand_off.meta.version;
            Ok((version, view_for(conn, &user, hand_off)?))
        })
        .await?;
    Ok(versioned(version, &view))
}

/// Record the person's consent (or refusal), and what the partner may read. Before sending only.
#[utoipa::path(
    tag = "hand-offs",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The consent's `ETag`; required to replace a recorded consent"),
    ),
    request_body(content = ConsentInput, example = json!({"given": true, "form": "oral", "shared_data": ["identity", "contact", "problems"]})),
    responses(
        (status = 200, description = "The consent as recorded, with its `ETag`", body = Consent, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The hand-off was already sent: consent can then only be withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The consent changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "A consent exists and If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/hand-offs/{id}/consent")]
async fn record_consent(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<HandOffId>,
    OptionalIfMatch(if_match): OptionalIfMatch,
    Json(input): Json<ConsentInput>,
) -> Result<HttpResponse, ApiError> {
    let now = chrono::Utc::now();
    input.validate(now)?;
    let id = id.into_inner();
    let consent = state
        .write(move |conn| {
            let hand_off = writable_hand_off(conn, &user, id)?;
            if hand_off.status != HandOffStatus::Draft {
                return Err(ApiError::Conflict(format!(
                    "the hand-off is `{}`: consent is recorded before sending; use POST /api/v1/hand-offs/{id}/consent/withdraw to withdraw it",
                    hand_off.status
                )));
            }
            match (hand_offs::consent(conn, id)?, if_match) {
                (Some(_), None) => {
                    return Err(ApiError::PreconditionRequired(
                        "a consent is recorded: send If-Match with its ETag to replace it".into(),
                    ));
                }
                (Some(current), Some(expected)) if current.meta.version != expected => {
                    return Err(ApiError::StaleVersion {
                        current: current.meta.version,
                    });
                }
                _ => {}
            }
            Ok(hand_offs::record_consent(conn, id, &input, &user.subject, input.answered_at.unwrap_or(now))?)
        })
        .await?;
    Ok(versioned(consent.meta.version, &consent))
}

/// The hand-off if the caller may act for its post (a social worker of the post).
fn writable_hand_off(
    conn: &mut DbConnection,
    user: &CurrentUser,
    id: HandOffId,
) -> Result<HandOff, ApiError> {
    let hand_off = visible_hand_off(conn, user, id)?;
    if user.can_write_cases(hand_off.post_id) {
        Ok(hand_off)
    } else {
        Err(ApiError::Forbidden(
            "only the post's social workers act on its hand-offs".into(),
        ))
    }
}

/// The person withdraws consent: the partner's access stops at once, and a hand-off not yet
/// completed is cancelled.
#[utoipa::path(
    tag = "hand-offs",
    params(("id" = HandOffId, Path, description = "The hand-off's id")),
    responses(
        (status = 200, description = "The hand-off after the withdrawal", body = HandOffDetail, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No consent in force to withdraw", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/consent/withdraw")]
async fn withdraw_consent(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<HandOffId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let after = state
        .write(move |conn| {
            let mut hand_off = writable_hand_off(conn, &user, id)?;
            let in_force = hand_offs::consent(conn, id)?.is_some_and(|c| c.in_force().is_some());
            if !in_force {
                return Err(ApiError::Conflict(
                    "there is no consent in force to withdraw".into(),
                ));
            }
            hand_offs::withdraw_consent(conn, id, &user.subject)?;
            emit(conn, &hand_off, "hand_off.consent_withdrawn")?;
            if let Ok(cancelled) = handoff::transition(hand_off.status, HandOffAction::Cancel) {
                let details = MoveDetails {
                    comment: Some("consent withdrawn"),
                    ..MoveDetails::default()
                };
                hand_off = hand_offs::move_to(
                    conn,
                    &hand_off,
                    cancelled,
                    hand_off.meta.version,
                    actor(&user),
                    &details,
                )?;
                emit(conn, &hand_off, &status_event(cancelled))?;
            }
            detail(conn, hand_off)
        })
        .await?;
    Ok(versioned(after.hand_off.meta.version, &after))
}

/// Optional details of a move.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// Why the partner declines (required to decline).
    #[serde(default)]
    pub reason: Option<DeclineReason>,
    /// What was done for the person (required to complete).
    #[serde(default)]
    #[schema(
        example = "Ouverture des droits RSA et orientation vers l'épicerie solidaire.",
        max_length = 2000
    )]
    pub outcome: Option<String>,
    /// A free comment for the history.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

impl MoveInput {
    fn validate(&self, action: HandOffAction) -> Result<(), Invalid> {
        let mut v = Validation::new();
        let needs_reason = action == HandOffAction::Decline;
        let needs_outcome = action == HandOffAction::Complete;
        v.require(
            self.reason.is_some() == needs_reason,
            "reason",
            if needs_reason {
                "required"
            } else {
                "not_applicable"
            },
            if needs_reason {
                "is required to decline"
            } else {
                "is only for declining"
            },
        );
        match &self.outcome {
            Some(outcome) if needs_outcome => {
                v.text("outcome", outcome, handoff::MAX_OUTCOME_CHARS)
            }
            Some(_) => v.require(false, "outcome", "not_applicable", "is only for completing"),
            None => v.require(
                !needs_outcome,
                "outcome",
                "required",
                "is required to complete",
            ),
        }
        if let Some(comment) = &self.comment {
            v.text("comment", comment, handoff::MAX_OUTCOME_CHARS);
        }
        v.finish()
    }
}

/// Performs `action` on the hand-off for the side entitled to it, in one transaction with its
/// event; partner moves run at most once per `Idempotency-Key`.
/// One move asked of a hand-off, with its guards.
struct MoveRequest {
    id: HandOffId,
    action: HandOffAction,
    if_match: Option<i64>,
    key: IdempotencyKey,
    input: MoveInput,
}

async fn perform(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    request: MoveRequest,
) -> Result<HttpResponse, ApiError> {
    let MoveRequest {
        id,
        action,
        if_match,
        key,
        input,
    } = request;
    input.validate(action)?;
    let subject = match user.partner_id {
        Some(partner) if user.role == Role::Partner => format!("partner:{partner}"),
        _ => format!("user:{}", user.subject),
    };
    let fingerprint = format!(
        "{} {} {}",
        req.method(),
        req.path(),
        serde_json::to_string(&input).unwrap_or_default()
    );
    run_once(&state, subject, key, fingerprint, move |conn| {
        let hand_off = match action.side() {
            Side::Post => writable_hand_off(conn, &user, id)?,
            Side::Partner => visible_hand_off(conn, &user, id)?,
        };
        if if_match.is_some_and(|expected| expected != hand_off.meta.version) {
            return Err(ApiError::StaleVersion {
                current: hand_off.meta.version,
            });
        }
        let next = handoff::transition(hand_off.status, action)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        if action == HandOffAction::Send {
            let partner = partners::get(conn, hand_off.partner_id)?;
            let consent = hand_offs::consent(conn, id)?;
            SendCheck {
                partner_kind: partner.details.kind,
                legal_exception: hand_off.legal_exception,
                consent: consent.as_ref().and_then(Consent::in_force),
            }
            .check()?;
            orient_situation(conn, hand_off.situation_id)?;
        }
        let details = MoveDetails {
            comment: input.comment.as_deref(),
            decline_reason: input.reason,
            outcome: input.outcome.as_deref(),
        };
        let moved = hand_offs::move_to(
            conn,
            &hand_off,
            next,
            hand_off.meta.version,
            actor(&user),
            &details,
        )?;
        emit(conn, &moved, &status_event(next))?;
        if action == HandOffAction::Send {
            audit_legal_exception(conn, &moved, &user)?;
        }
        Answer::ok(&view_for(conn, &user, moved)?)
    })
    .await
}

/// A situation with a hand-off sent becomes `oriented` (if it was open).
fn orient_situation(conn: &mut DbConnection, id: SituationId) -> Result<(), ApiError> {
    let situation = situations::get(conn, id)?;
    if situation.state.status == SituationStatus::Open {
        let mut next = situation.clone();
        next.state = SituationState {
            status: SituationStatus::Oriented,
            closing_reason: None,
        };
        situations::replace(conn, &next, situation.meta.version)?;
    }
    Ok(())
}

macro_rules! move_endpoint {
    ($name:ident, $path:literal, $action:expr, $summary:literal, $who:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            tag = "hand-offs",
            description = $who,
            params(
                ("id" = HandOffId, Path, description = "The hand-off's id"),
                ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
                ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer and change nothing more (partner systems)"),
            ),
            request_body(content = Option<MoveInput>, description = "Optional details (required: `reason` to decline, `outcome` to complete)"),
            responses(
                (status = 200, description = "The hand-off after the move, with its `ETag`", body = HandOffView, headers(("ETag" = String))),
                (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[post($path)]
        async fn $name(
            state: web::Data<AppState>,
            user: CurrentUser,
            req: HttpRequest,
            id: web::Path<HandOffId>,
            OptionalIfMatch(if_match): OptionalIfMatch,
            key: IdempotencyKey,
            OptionalJson(input): OptionalJson<MoveInput>,
        ) -> Result<HttpResponse, ApiError> {
            let request = MoveRequest {
                id: id.into_inner(),
                action: $action,
                if_match,
                key,
                input,
            };
            perform(state, user, req, request).await
        }
    };
}

move_endpoint!(
    send_hand_off,
    "/hand-offs/{id}/send",
    HandOffAction::Send,
    "Send a draft to the partner (needs consent given, or the legal exception).",
    "Social worker of the post."
);
move_endpoint!(
    cancel_hand_off,
    "/hand-offs/{id}/cancel",
    HandOffAction::Cancel,
    "Cancel a hand-off before its outcome.",
    "Social worker of the post."
);
move_endpoint!(
    acknowledge_hand_off,
    "/hand-offs/{id}/acknowledge",
    HandOffAction::Acknowledge,
    "Acknowledge receipt of a sent hand-off.",
    "The partner's system."
);
move_endpoint!(
    accept_hand_off,
    "/hand-offs/{id}/accept",
    HandOffAction::Accept,
    "Accept a received hand-off.",
    "The partner's system."
);
move_endpoint!(
    decline_hand_off,
    "/hand-offs/{id}/decline",
    HandOffAction::Decline,
    "Decline a received hand-off, with a reason.",
    "The partner's system."
);
move_endpoint!(
    complete_hand_off,
    "/hand-offs/{id}/complete",
    HandOffAction::Complete,
    "Report the outcome of an accepted hand-off.",
    "The partner's system."
);
