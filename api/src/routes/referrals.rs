//! `/api/v1/referrals`: officers and partner systems refer people to a post; the post's social
//! workers take them up (which opens a situation) or close them. A sender sees only the status.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use relais_domain::beneficiary::BeneficiaryInput;
use relais_domain::ids::{BeneficiaryId, PostId, ReferralId};
use relais_domain::reference::{
    NoFollowUpReason, Origin, ProblemCategory, ReferralStatus, ReferringService, Role, Standing,
};
use relais_domain::referral::{Referral, ReferralInput, ReferralSender, move_referral};
use relais_persistence::events::{self, NewEvent};
use relais_persistence::referrals::{self, ReferralScope};
use relais_persistence::{DbConnection, StoreError, partners, posts, units};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{created, cursor_is_id, found_within, page_request, today, versioned};
use super::situations::{NewSituation, SituationWithPerson, open_situation};
use crate::auth::CurrentUser;
use crate::extract::{Json, OptionalIfMatch, OptionalJson, Query};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_referral)
        .service(list_referrals)
        .service(get_referral)
        .service(take_up_referral)
        .service(mark_referral_contacted)
        .service(close_referral);
}

/// What a referral's sender may know: its status, never what the social worker learned.
#[derive(Debug, Serialize, ToSchema)]
// Never deserialized: this only makes the spec say `additionalProperties: false` — the sender
// gets these fields and no other — which also tells this view from the post's in `ReferralView`.
#[serde(deny_unknown_fields)]
pub struct ReferralReceipt {
    pub id: ReferralId,
    pub post_id: PostId,
    pub status: ReferralStatus,
    /// Set with `no_follow_up`; never confidential.
    pub no_follow_up_reason: Option<NoFollowUpReason>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

impl From<Referral> for ReferralReceipt {
    fn from(r: Referral) -> Self {
        ReferralReceipt {
            id: r.id,
            post_id: r.post_id,
            status: r.status,
            no_follow_up_reason: r.no_follow_up_reason,
            created_at: r.meta.created_at,
            updated_at: r.meta.updated_at,
            version: r.meta.version,
        }
    }
}

/// A referral as its reader may see it: the post's full record, or the sender's receipt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ReferralView {
    Post(Box<Referral>),
    Sender(ReferralReceipt),
}

/// A page of referrals as the reader may see them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralPage {
    pub items: Vec<ReferralView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn view_for(user: &CurrentUser, referral: Referral) -> ReferralView {
    match user.role {
        Role::SocialWorker | Role::Coordinator => ReferralView::Post(Box::new(referral)),
        _ => ReferralView::Sender(referral.into()),
    }
}

fn scope_of(user: &CurrentUser) -> Result<ReferralScope, ApiError> {
    match (user.role, user.unit_id, user.partner_id) {
        (Role::Officer, Some(unit), _) => Ok(ReferralScope::Unit(unit)),
        (Role::Partner, _, Some(partner)) => Ok(ReferralScope::Partner(partner)),
        (Role::SocialWorker | Role::Coordinator, _, _) => {
            Ok(ReferralScope::Posts(user.readable_case_posts().to_vec()))
        }
        (role, _, _) => Err(ApiError::Forbidden(format!(
            "the role {role} does not read referrals"
        ))),
    }
}

/// The referral if the caller may see it (its post's staff, or its sender); 404 otherwise.
fn visible_referral(
    conn: &mut DbConnection,
    user: &CurrentUser,
    id: ReferralId,
) -> Result<Referral, ApiError> {
    let scope = scope_of(user)?;
    found_within(
        referrals::get(conn, id),
        "referral",
        |referral| match &scope {
            ReferralScope::Posts(posts) => posts.contains(&referral.post_id),
            ReferralScope::Unit(unit) => referral.sender.unit_id == Some(*unit),
            ReferralScope::Partner(partner) => referral.sender.partner_id == Some(*partner),
        },
    )
}

/// Records the event of a referral's state, for its post and its sender.
fn emit(conn: &mut DbConnection, referral: &Referral) -> Result<(), ApiError> {
    events::append(
        conn,
        &NewEvent {
            kind: &format!("referral.{}", referral.status),
            post: Some(referral.post_id),
            partner: referral.sender.partner_id,
            unit: referral.sender.unit_id,
            record_type: "referral",
            record_id: referral.id.to_string(),
            data: serde_json::json!({"referral_id": referral.id, "status": referral.status})
                .to_string(),
        },
    )?;
    Ok(())
}

/// Refer a person to a post (officers of a unit working with the post, or partner systems).
#[utoipa::path(
    tag = "referrals",
    request_body(content = ReferralInput, example = json!({
        "post_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        "person": {"first_name": "Camille", "last_name": "Martin", "phone": "06 12 34 56 78", "sex": "female"},
        "reason": "Intervention au domicile pour différend conjugal, deux enfants présents.",
        "agreed_to_be_contacted": true
    })),
    responses(
        (status = 201, description = "The referral's receipt, with its `Location`", body = ReferralReceipt,
            headers(("Location" = String, description = "URL of the referral"), ("ETag" = String, description = "Version"))),
    )
)]
#[post("/referrals")]
async fn create_referral(
    state: web::Data<AppState>,
    user: CurrentUser,
    Json(input): Json<ReferralInput>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(user.role, Role::Officer | Role::Partner) {
        return Err(ApiError::Forbidden(
            "referrals are sent by officers and partner systems".into(),
        ));
    }
    input.validate(chrono::Datelike::year(&today()))?;
    let receipt = state
        .write(move |conn| {
            if let Err(StoreError::NotFound) = posts::get(conn, input.post_id) {
                return Err(ApiError::invalid("post_id", "unknown_post", "no such post"));
            }
            match (user.unit_id, user.partner_id) {
                (Some(unit), _) if user.role == Role::Officer => {
                    if !units::works_with(conn, unit, input.post_id)? {
                        return Err(ApiError::Forbidden(
                            "your unit does not work with this post".into(),
                        ));
                    }
                }
                (_, Some(partner)) => {
                    partners::get(conn, partner).map_err(|_| {
                        ApiError::Forbidden(
                            "your partner organisation is not in the directory".into(),
                        )
                    })?;
                }
                _ => {
                    return Err(ApiError::Forbidden(
                        "the token names no unit or partner".into(),
                    ));
                }
            }
            let sender = ReferralSender {
                role: user.role,
                subject: user.subject.clone(),
                unit_id: user.unit_id.filter(|_| user.role == Role::Officer),
                partner_id: user.partner_id.filter(|_| user.role == Role::Partner),
            };
            let referral = referrals::insert(conn, &input, &sender)?;
            emit(conn, &referral)?;
            Ok(ReferralReceipt::from(referral))
        })
        .await?;
    Ok(created(
        format!("/api/v1/referrals/{}", receipt.id),
        receipt.version,
        &receipt,
    ))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReferralListParams {
    pub status: Option<ReferralStatus>,
    /// Most referrals to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// List referrals: received by your posts, or sent by your unit or organisation.
#[utoipa::path(
    tag = "referrals",
    params(ReferralListParams),
    responses((status = 200, description = "A page of referrals as you may see them", body = ReferralPage))
)]
#[get("/referrals")]
async fn list_referrals(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<ReferralListParams>,
) -> Result<web::Json<ReferralPage>, ApiError> {
    let scope = scope_of(&user)?;
    let page = page_request(params.limit, params.cursor);
    let status = params.status;
    let found = state
        .read(move |conn| Ok(referrals::list(conn, &scope, status, &page)?))
        .await?;
    Ok(web::Json(ReferralPage {
        next_cursor: found.next_cursor,
        items: found
            .items
            .into_iter()
            .map(|r| view_for(&user, r))
            .collect(),
    }))
}

/// Read a referral: the post's staff see it whole, its sender only its status.
#[utoipa::path(
    tag = "referrals",
    params(("id" = ReferralId, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "The referral as you may see it", body = ReferralView, headers(("ETag" = String))),
        (status = 404, description = "No such referral within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/referrals/{id}")]
async fn get_referral(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ReferralId>,
) -> Result<HttpResponse, ApiError> {
    scope_of(&user)?;
    let id = id.into_inner();
    let referral = state
        .read(move |conn| visible_referral(conn, &user, id).map(|r| (user, r)))
        .await?;
    let (user, referral) = referral;
    Ok(versioned(referral.meta.version, &view_for(&user, referral)))
}

/// What the social worker records when taking a referral up; the person comes from the
/// referral unless `beneficiary_id` names one already known at the post.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
    "problems": ["conjugal_violence"], "principal_problem": "conjugal_violence"
}))]
pub struct TakeUp {
    pub beneficiary_id: Option<BeneficiaryId>,
    pub opened_on: NaiveDate,
    pub origin: Origin,
    pub referring_service: Option<ReferringService>,
    pub standing: Standing,
    pub penal: bool,
    #[schema(min_items = 1)]
    pub problems: Vec<ProblemCategory>,
    pub principal_problem: ProblemCategory,
    #[schema(maximum = 30)]
    pub children_in_household: Option<u8>,
}

fn writable_referral(
    conn: &mut DbConnection,
    user: &CurrentUser,
    id: ReferralId,
    if_match: Option<i64>,
) -> Result<Referral, ApiError> {
    let referral = visible_referral(conn, user, id)?;
    if !user.can_write_cases(referral.post_id) {
        return Err(ApiError::Forbidden(
            "only the post's social workers act on its referrals".into(),
        ));
    }
    if if_match.is_some_and(|v| v != referral.meta.version) {
        return Err(ApiError::StaleVersion {
            current: referral.meta.version,
        });
    }
    Ok(referral)
}

/// Take a referral up: opens a situation for the person, linked to the referral.
#[utoipa::path(
    tag = "referrals",
    params(
        ("id" = ReferralId, Path, description = "The referral's id"),
        ("If-Match" = Option<String>, Header, description = "The referral's `ETag`"),
    ),
    request_body = TakeUp,
    responses(
        (status = 201, description = "The situation opened, with its `Location`", body = SituationWithPerson,
            headers(("Location" = String, description = "URL of the situation"), ("ETag" = String, description = "Version of the situation"))),
        (status = 404, description = "No such referral within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The referral was already taken up or closed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The referral changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/take-up")]
async fn take_up_referral(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ReferralId>,
    OptionalIfMatch(if_match): OptionalIfMatch,
    Json(take_up): Json<TakeUp>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let today = today();
    let opened = state
        .write(move |conn| {
            let referral = writable_referral(conn, &user, id, if_match)?;
            let status =
                move_referral(referral.status, ReferralStatus::TakenUp).map_err(conflict)?;
            let person = &referral.person;
            let new = NewSituation {
                post_id: referral.post_id,
                beneficiary_id: take_up.beneficiary_id,
                beneficiary: take_up.beneficiary_id.is_none().then(|| BeneficiaryInput {
                    first_name: person.first_name.clone(),
                    last_name: person.last_name.clone(),
                    birth_year: person.birth_year,
                    sex: person.sex,
                    commune_code: person.commune_code.clone(),
                    phone: person.phone.clone(),
                    ..BeneficiaryInput::default()
                }),
                opened_on: take_up.opened_on,
                origin: take_up.origin,
                referring_service: take_up.referring_service,
                standing: take_up.standing,
                penal: take_up.penal,
                problems: take_up.problems,
                principal_problem: take_up.principal_problem,
                children_in_household: take_up.children_in_household,
            };
            new.validate(today)?;
            let opened = open_situation(conn, &new, today)?;
            let referral = referrals::set_status(
                conn,
                id,
                referral.meta.version,
                status,
                None,
                Some(opened.situation.id),
            )?;
            emit(conn, &referral)?;
            Ok(opened)
        })
        .await?;
    Ok(created(
        format!("/api/v1/situations/{}", opened.situation.id),
        opened.situation.meta.version,
        &opened,
    ))
}

fn conflict(invalid: relais_domain::validation::Invalid) -> ApiError {
    ApiError::Conflict(
        invalid
            .0
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Record that the person was contacted.
#[utoipa::path(
    tag = "referrals",
    params(
        ("id" = ReferralId, Path, description = "The referral's id"),
        ("If-Match" = Option<String>, Header, description = "The referral's `ETag`"),
    ),
    responses(
        (status = 200, description = "The referral", body = Referral, headers(("ETag" = String))),
        (status = 404, description = "No such referral within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The referral is past that stage", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The referral changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/contacted")]
async fn mark_referral_contacted(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ReferralId>,
    OptionalIfMatch(if_match): OptionalIfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let referral = state
        .write(move |conn| {
            let referral = writable_referral(conn, &user, id, if_match)?;
            let status = move_referral(referral.status, ReferralStatus::PersonContacted)
                .map_err(conflict)?;
            let referral =
                referrals::set_status(conn, id, referral.meta.version, status, None, None)?;
            emit(conn, &referral)?;
            Ok(referral)
        })
        .await?;
    Ok(versioned(referral.meta.version, &referral))
}

/// Why a referral is closed without follow-up.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseReferral {
    pub reason: Option<NoFollowUpReason>,
}

/// Close a referral with no follow-up; the reason is shown to its sender.
#[utoipa::path(
    tag = "referrals",
    params(
        ("id" = ReferralId, Path, description = "The referral's id"),
        ("If-Match" = Option<String>, Header, description = "The referral's `ETag`"),
    ),
    request_body(content = CloseReferral, example = json!({"reason": "person_unreachable"})),
    responses(
        (status = 200, description = "The referral", body = Referral, headers(("ETag" = String))),
        (status = 404, description = "No such referral within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The referral was already taken up or closed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The referral changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/close")]
async fn close_referral(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<ReferralId>,
    OptionalIfMatch(if_match): OptionalIfMatch,
    OptionalJson(close): OptionalJson<CloseReferral>,
) -> Result<HttpResponse, ApiError> {
    let reason = close.reason.ok_or_else(|| {
        ApiError::invalid(
            "reason",
            "required",
            "say why the referral has no follow-up",
        )
    })?;
    let id = id.into_inner();
    let referral = state
        .write(move |conn| {
            let referral = writable_referral(conn, &user, id, if_match)?;
            let status =
                move_referral(referral.status, ReferralStatus::NoFollowUp).map_err(conflict)?;
            let referral =
                referrals::set_status(conn, id, referral.meta.version, status, Some(reason), None)?;
            emit(conn, &referral)?;
            Ok(referral)
        })
        .await?;
    Ok(versioned(referral.meta.version, &referral))
}
