//! `/api/v1/requisitions`: judicial requisitions (CPP 60-1 / 77-1-1). A social worker records
//! the requisition received, a coordinator of the post approves or rejects it, and only then may
//! the post produce the export handed to the police. Each step is audited.

use actix_web::{HttpResponse, get, post, web};
use relais_domain::ids::{PostId, RequisitionId};
use relais_domain::reference::RequisitionStatus;
use relais_domain::requisition::{
    Requisition, RequisitionDecision, RequisitionInput, RequisitionStep,
};
use relais_persistence::{DbConnection, beneficiaries, requisitions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::beneficiaries::scoped_posts;
use super::common::{cursor_is_id, listed, page_request, page_type, versioned};
use super::record_export::{Recipient, RecordExport, export_of};
use crate::clock::today;
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, OptionalJson, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::names::NamedRequisition;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_requisitions)
        .service(create_requisition)
        .service(get_requisition)
        .service(approve_requisition)
        .service(reject_requisition)
        .service(export_requisition);
}

page_type!(
    RequisitionPage,
    NamedRequisition,
    "A page of requisitions, newest first, each with the names of who recorded, decided and produced it."
);

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequisitionListParams {
    /// Only this post's requisitions (one of yours).
    pub post_id: Option<PostId>,
    pub status: Option<RequisitionStatus>,
    /// Most requisitions to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// List the requisitions of your posts.
#[utoipa::path(
    tag = "requisitions",
    params(RequisitionListParams),
    responses((status = 200, description = "A page of requisitions", body = RequisitionPage))
)]
#[get("/requisitions")]
async fn list_requisitions(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<RequisitionListParams>,
) -> Result<HttpResponse, ApiError> {
    let posts = scoped_posts(&user, params.post_id)?;
    let page = page_request(params.limit, params.cursor);
    let status = params.status;
    let found = state
        .read(move |conn| {
            let found = requisitions::list(conn, &posts, status, &page)?;
            Ok(RequisitionPage {
                items: NamedRequisition::all(conn, found.items)?,
                next_cursor: found.next_cursor,
            })
        })
        .await?;
    let shows = found
        .items
        .iter()
        .map(|r| r.requisition.id.to_string())
        .collect();
    Ok(listed(&found, shows))
}

/// Record a requisition received from the police, for a person of your post. It waits for a
/// coordinator's approval; nothing leaves before.
#[utoipa::path(
    tag = "requisitions",
    request_body(content = RequisitionInput, example = json!({
        "beneficiary_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b", "legal_basis": "cpp_77_1_1",
        "procedure_reference": "PV 2026/001234", "requesting_authority": "OPJ Martin, commissariat de Privas",
        "received_on": "2026-11-20"
    })),
    responses(
        (status = 201, description = "The requisition, recorded", body = NamedRequisition, headers(("Location" = String), ("ETag" = String))),
        (status = 422, description = "No such person within your post, or an invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/requisitions")]
async fn create_requisition(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<RequisitionInput>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    input.validate(today(now))?;
    let (recorder, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint: fingerprint("create_requisition", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            let requisition = workflows::requisitions::record(conn, &recorder, &input, now)?;
            recorded(conn, requisition)
        },
        view: move |conn: &mut DbConnection, id: &str| {
            let requisition = workflows::requisitions::readable(conn, &reader, stored_id(id)?)?;
            recorded(conn, requisition)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `create_requisition`, first or retried.
fn recorded(conn: &mut DbConnection, requisition: Requisition) -> Result<Reply, ApiError> {
    let id = requisition.id;
    let requisition = NamedRequisition::one(conn, requisition)?;
    Reply::created(id, format!("/api/v1/requisitions/{id}"), &requisition)
}

/// Read a requisition of your posts.
#[utoipa::path(
    tag = "requisitions",
    params(("id" = RequisitionId, Path, description = "The requisition's id")),
    responses(
        (status = 200, description = "The requisition", body = NamedRequisition, headers(("ETag" = String))),
        (status = 404, description = "No such requisition within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/requisitions/{id}")]
async fn get_requisition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequisitionId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let requisition = state
        .read(move |conn| {
            let requisition = workflows::requisitions::readable(conn, &user, id)?;
            Ok(NamedRequisition::one(conn, requisition)?)
        })
        .await?;
    Ok(versioned(
        requisition.requisition.meta.version,
        &requisition,
    ))
}

/// `workflows::requisitions::approve` or `reject`.
type Decide = fn(
    &mut DbConnection,
    &relais_domain::access::Principal,
    RequisitionId,
    &RequisitionDecision,
    chrono::DateTime<chrono::Utc>,
) -> workflows::Outcome<Requisition>;

/// What the two decisions share: the decision checked, then made at most once per
/// `Idempotency-Key`; a retry answers the requisition as the caller may read it now.
async fn decide(
    state: web::Data<AppState>,
    user: CurrentUser,
    (id, key): (RequisitionId, IdempotencyKey),
    step: RequisitionStep,
    decision: RequisitionDecision,
) -> Result<HttpResponse, ApiError> {
    let (operation, decide) = match step {
        RequisitionStep::Reject => (
            "reject_requisition",
            workflows::requisitions::reject as Decide,
        ),
        _ => (
            "approve_requisition",
            workflows::requisitions::approve as Decide,
        ),
    };
    let fingerprint = fingerprint(operation, Some(&id.to_string()), &decision);
    decision.validate(step == RequisitionStep::Reject)?;
    let now = state.clock.now();
    let (decider, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint,
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let decided = decide(conn, &decider, id, &decision, now)?;
            Reply::ok(&NamedRequisition::one(conn, decided)?)
        },
        view: move |conn: &mut DbConnection, _: &str| {
            let requisition = workflows::requisitions::readable(conn, &reader, id)?;
            Reply::ok(&NamedRequisition::one(conn, requisition)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// Approve a recorded requisition (coordinators of the post): the export may then be produced.
#[utoipa::path(
    tag = "requisitions",
    params(("id" = RequisitionId, Path, description = "The requisition's id")),
    request_body(content = Option<RequisitionDecision>, example = json!({"note": "Réquisition conforme, périmètre limité à la personne visée."})),
    responses(
        (status = 200, description = "The requisition, approved", body = NamedRequisition, headers(("ETag" = String))),
        (status = 404, description = "No such requisition within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The requisition was already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/requisitions/{id}/approve")]
async fn approve_requisition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequisitionId>,
    key: IdempotencyKey,
    OptionalJson(decision): OptionalJson<RequisitionDecision>,
) -> Result<HttpResponse, ApiError> {
    let request = (id.into_inner(), key);
    decide(state, user, request, RequisitionStep::Approve, decision).await
}

/// Reject a recorded requisition (coordinators of the post), saying why.
#[utoipa::path(
    tag = "requisitions",
    params(("id" = RequisitionId, Path, description = "The requisition's id")),
    request_body(content = RequisitionDecision, example = json!({"note": "La réquisition ne vise pas une personne suivie par le poste."})),
    responses(
        (status = 200, description = "The requisition, rejected", body = NamedRequisition, headers(("ETag" = String))),
        (status = 404, description = "No such requisition within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The requisition was already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/requisitions/{id}/reject")]
async fn reject_requisition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequisitionId>,
    key: IdempotencyKey,
    Json(decision): Json<RequisitionDecision>,
) -> Result<HttpResponse, ApiError> {
    let request = (id.into_inner(), key);
    decide(state, user, request, RequisitionStep::Reject, decision).await
}

/// What an approved requisition produces: the requisition, as `get_requisition` shows it to the
/// post (with names), and the person's record, which is handed to the police and so names members
/// by their principal only, never by their display name.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequisitionExport {
    pub requisition: NamedRequisition,
    /// Absent when this answers a retry with the same `Idempotency-Key`: a key produces the
    /// record once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordExport>,
}

/// Produce the export of an approved requisition, to hand to the requesting authority. Each
/// production is audited and stamped on the requisition.
#[utoipa::path(
    tag = "requisitions",
    description = "A retry with the same `Idempotency-Key` produces nothing more: it answers the requisition as `GET /api/v1/requisitions/{id}` shows it now, without the record. If the first answer was lost, export again with a new key: that is another production, stamped and audited.",
    params(("id" = RequisitionId, Path, description = "The requisition's id")),
    responses(
        (status = 200, description = "The requisition and the record it covers (the requisition alone on a retry)", body = RequisitionExport),
        (status = 404, description = "No such requisition within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The requisition is not approved", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/requisitions/{id}/export")]
async fn export_requisition(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<RequisitionId>,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let (producer, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint: fingerprint("export_requisition", Some(&id.to_string()), &()),
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let requisition = workflows::requisitions::produce(conn, &producer, id, now)?;
            let person = beneficiaries::get(conn, requisition.input.beneficiary_id)?;
            let record = Some(export_of(conn, person, Recipient::Justice, now)?);
            Reply::ok(&RequisitionExport {
                requisition: NamedRequisition::one(conn, requisition)?,
                record,
            })
        },
        // A retry produces nothing: reading the record again would hand it over a second time,
        // unstamped. It answers the requisition as the caller may read it now (its production
        // stamped), without the record; a new key makes another production, stamped.
        view: move |conn: &mut DbConnection, _: &str| {
            let requisition = workflows::requisitions::readable(conn, &reader, id)?;
            Reply::ok(&RequisitionExport {
                requisition: NamedRequisition::one(conn, requisition)?,
                record: None,
            })
        },
    };
    run_once(&state, &user, key, retryable).await
}
