//! `/api/v1/referrals`: officers and partner systems refer people to a post; the post's social
//! workers take them up (which opens a situation) or close them. A sender sees only the status.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use relais_domain::access::Principal;
use relais_domain::ids::{BeneficiaryId, PostId, ReferralId, SituationId};
use relais_domain::reference::{
    NoFollowUpReason, Origin, ProblemCategory, ReferralStatus, ReferringService, Role, Standing,
};
use relais_domain::referral::{Referral, ReferralInput};
use relais_domain::situation::SituationDetails;
use relais_domain::version::Expected;
use relais_persistence::{DbConnection, referrals};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{cursor_is_id, listed, page_request, versioned};
use super::situations::{SituationWithPerson, situation_with_person};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, OptionalIfMatch, OptionalJson, Query};
use crate::http::idempotency::{IdempotencyKey, Reply, Retryable, fingerprint, run_once};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

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

/// A referral as its reader may see it: the post's full record, or the sender's receipt;
/// `view` names which (its schema, with the discriminator, is in `http::tagged_views`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum ReferralView {
    Post(Box<Referral>),
    Sender(ReferralReceipt),
}

/// A page of referrals as the reader may see them, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralPage {
    pub items: Vec<ReferralView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn view_for(user: &CurrentUser, referral: Referral) -> ReferralView {
    match user.role {
        Role::SocialWorker | Role::Coordinator => ReferralView::Post(Box::new(referral)),
        _ => ReferralView::Sender(referral.into()),
    }
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
    key: IdempotencyKey,
    Json(input): Json<ReferralInput>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let fingerprint = fingerprint("create_referral", None, &input);
    let (sender, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint,
        record: None,
        work: move |conn: &mut DbConnection| {
            let referral = workflows::referrals::create(conn, &sender, &input, now)?;
            let id = referral.id;
            Reply::created(
                id,
                format!("/api/v1/referrals/{id}"),
                &ReferralReceipt::from(referral),
            )
        },
        view: move |conn: &mut DbConnection, id: &str| {
            let id: ReferralId = id
                .parse()
                .map_err(|e| ApiError::Internal(format!("a stored referral id: {e}")))?;
            let referral = workflows::referrals::visible(conn, &reader, id)?;
            Reply::created(
                id,
                format!("/api/v1/referrals/{id}"),
                &ReferralReceipt::from(referral),
            )
        },
    };
    run_once(&state, &user, key, retryable).await
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
) -> Result<HttpResponse, ApiError> {
    let scope = workflows::referrals::scope_of(&user)?;
    let page = page_request(params.limit, params.cursor);
    let status = params.status;
    let found = state
        .read(move |conn| Ok(referrals::list(conn, &scope, status, &page)?))
        .await?;
    let shows = found.items.iter().map(|r| r.id.to_string()).collect();
    let page = ReferralPage {
        next_cursor: found.next_cursor,
        items: found
            .items
            .into_iter()
            .map(|r| view_for(&user, r))
            .collect(),
    };
    Ok(listed(&page, shows))
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
    workflows::referrals::scope_of(&user)?;
    let id = id.into_inner();
    let referral = state
        .read(move |conn| {
            let referral = workflows::referrals::visible(conn, &user, id)?;
            Ok((user, referral))
        })
        .await?;
    let (user, referral) = referral;
    Ok(versioned(referral.meta.version, &view_for(&user, referral)))
}

/// What the social worker records when taking a referral up; the person comes from the
/// referral unless `beneficiary_id` names one already known at the post.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
    "problems": ["conjugal_violence"], "principal_problem": "conjugal_violence"
}))]
pub struct TakeUpInput {
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

impl TakeUpInput {
    /// What the situation opened by the take-up says.
    fn details(&self) -> SituationDetails {
        SituationDetails {
            opened_on: self.opened_on,
            origin: self.origin,
            referring_service: self.referring_service,
            standing: self.standing,
            penal: self.penal,
            problems: self.problems.clone(),
            principal_problem: self.principal_problem,
            children_in_household: self.children_in_household,
        }
    }
}

/// Take a referral up: opens a situation for the person, linked to the referral.
#[utoipa::path(
    tag = "referrals",
    params(
        ("id" = ReferralId, Path, description = "The referral's id"),
        ("If-Match" = Option<String>, Header, description = "The referral's `ETag`"),
    ),
    request_body = TakeUpInput,
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
    key: IdempotencyKey,
    Json(take_up): Json<TakeUpInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let fingerprint = fingerprint("take_up_referral", Some(&id.to_string()), &take_up);
    let (taker, reader) = (user.clone(), user.clone());
    // The key is kept with the situation opened, which a retry answers as GET shows it now.
    let retryable = Retryable {
        fingerprint,
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let opened = workflows::referrals::take_up(
                conn,
                &taker,
                id,
                &if_match.unwrap_or(Expected::Any),
                take_up.beneficiary_id,
                &take_up.details(),
                now,
            )?;
            let opened = SituationWithPerson::from(opened);
            let situation = opened.situation.id;
            Reply::created(
                situation,
                format!("/api/v1/situations/{situation}"),
                &opened,
            )
        },
        view: move |conn: &mut DbConnection, situation: &str| {
            let situation: SituationId = situation
                .parse()
                .map_err(|e| ApiError::Internal(format!("a stored situation id: {e}")))?;
            let found = situation_with_person(conn, &reader, situation)?;
            Reply::created(situation, format!("/api/v1/situations/{situation}"), &found)
        },
    };
    run_once(&state, &user, key, retryable).await
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
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let fingerprint = fingerprint("mark_referral_contacted", Some(&id.to_string()), &());
    let expected = if_match.unwrap_or(Expected::Any);
    move_referral(&state, user, key, id, fingerprint, move |conn, by| {
        workflows::referrals::mark_contacted(conn, by, id, &expected, now)
    })
    .await
}

/// Why a referral is closed without follow-up.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
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
    key: IdempotencyKey,
    OptionalJson(close): OptionalJson<CloseReferral>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let fingerprint = fingerprint("close_referral", Some(&id.to_string()), &close);
    let reason = close.reason.ok_or_else(|| {
        ApiError::invalid(
            "reason",
            "required",
            "say why the referral has no follow-up",
        )
    })?;
    let now = state.clock.now();
    let expected = if_match.unwrap_or(Expected::Any);
    move_referral(&state, user, key, id, fingerprint, move |conn, by| {
        workflows::referrals::close(conn, by, id, &expected, reason, now)
    })
    .await
}

/// What the post's moves of a referral share: `work` runs at most once per `Idempotency-Key`,
/// and a retry answers the referral as the post may see it now.
async fn move_referral(
    state: &AppState,
    user: CurrentUser,
    key: IdempotencyKey,
    id: ReferralId,
    fingerprint: String,
    work: impl FnOnce(&mut DbConnection, &Principal) -> workflows::Outcome<Referral> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let (mover, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint,
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| Reply::ok(&work(conn, &mover)?),
        view: move |conn: &mut DbConnection, _: &str| {
            Reply::ok(&workflows::referrals::visible(conn, &reader, id)?)
        },
    };
    run_once(state, &user, key, retryable).await
}
