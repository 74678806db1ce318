//! The hand-off endpoints: each extracts the request, calls its workflow in one write
//! transaction (or reads), and answers the view its caller may see. The six moves are six
//! handlers, one per operationId, sharing [`move_hand_off`].

use actix_web::{HttpResponse, get, post, put, web};
use relais_domain::hand_off::{ConsentInput, HandOffAction, HandOffInput};
use relais_domain::ids::{HandOffId, SituationId};
use relais_domain::reference::Role;
use relais_domain::version::Expected;
use relais_persistence::DbConnection;
use relais_persistence::hand_offs::{self, HandOffFilter};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{
    CompleteInput, DeclineInput, HandOffListParams, MoveBody, MoveNote, SituationHandOffParams,
};
use super::views::{HandOffDetail, HandOffPage, HandOffView, detail, view_for, views_for};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, OptionalIfMatch, OptionalJson, Query};
use crate::http::idempotency::{IdempotencyKey, Reply, Retryable, fingerprint, run_once};
use crate::http::names::NamedConsent;
use crate::http::problem::{ApiError, Problem};
use crate::http::routes::common::{listed, page_request, versioned};
use crate::http::state::AppState;
use crate::workflows;

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
    key: IdempotencyKey,
    Json(input): Json<HandOffInput>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    input.validate(crate::clock::today(now))?;
    let id = id.into_inner();
    let fingerprint = fingerprint("create_hand_off", Some(&id.to_string()), &input);
    let (creator, reader) = (user.clone(), user.clone());
    // The key is kept with the hand-off created, which a retry answers as the post sees it now.
    let retryable = Retryable {
        fingerprint,
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let hand_off = workflows::hand_offs::create(conn, &creator, id, &input, now)?;
            let created = hand_off.id;
            Reply::created(created, location_of(created), &detail(conn, hand_off)?)
        },
        view: move |conn: &mut DbConnection, hand_off: &str| {
            let hand_off: HandOffId = hand_off
                .parse()
                .map_err(|e| ApiError::Internal(format!("a stored hand-off id: {e}")))?;
            let found = workflows::hand_offs::visible(conn, &reader, hand_off)?;
            Reply::created(hand_off, location_of(hand_off), &detail(conn, found)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

fn location_of(hand_off: HandOffId) -> String {
    format!("/api/v1/hand-offs/{hand_off}")
}

/// List a situation's hand-offs, newest first, a page at a time: the same page as
/// `GET /api/v1/hand-offs?situation_id=`, for the situation's post.
#[utoipa::path(
    tag = "hand-offs",
    params(("id" = SituationId, Path, description = "The situation's id"), SituationHandOffParams),
    responses(
        (status = 200, description = "A page of the situation's hand-offs, newest first", body = HandOffPage),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/situations/{id}/hand-offs")]
async fn list_situation_hand_offs(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    Query(params): Query<SituationHandOffParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let page = page_request(params.limit, params.cursor);
    let (found, shows) = state
        .read(move |conn| {
            workflows::situations::readable(conn, &user, id)?;
            let filter = HandOffFilter {
                situation: Some(id),
                status: params.status,
                ..HandOffFilter::default()
            };
            page_of_views(conn, &user, &filter, &page)
        })
        .await?;
    Ok(listed(&found, shows))
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
) -> Result<HttpResponse, ApiError> {
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
    let (found, shows) = state
        .read(move |conn| page_of_views(conn, &user, &filter, &page))
        .await?;
    Ok(listed(&found, shows))
}

/// A page of the hand-offs `filter` finds, each as `user` may see it, with the ids it shows
/// (for the audit trail).
fn page_of_views(
    conn: &mut DbConnection,
    user: &CurrentUser,
    filter: &HandOffFilter,
    page: &relais_persistence::PageRequest,
) -> Result<(HandOffPage, Vec<String>), ApiError> {
    let page = hand_offs::list(conn, filter, page)?;
    let shows = page.items.iter().map(|h| h.id.to_string()).collect();
    let items = views_for(conn, user, page.items)?;
    let page = HandOffPage {
        items,
        next_cursor: page.next_cursor,
    };
    Ok((page, shows))
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
            let hand_off = workflows::hand_offs::visible(conn, &user, id)?;
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
        (status = 200, description = "The consent as recorded, with its `ETag`", body = NamedConsent, headers(("ETag" = String))),
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
    let now = state.clock.now();
    input.validate(now)?;
    let id = id.into_inner();
    let consent: NamedConsent = state
        .write(user.ticket(), move |conn, _| {
            let consent = workflows::hand_offs::record_consent(
                conn,
                &user,
                id,
                if_match.as_ref(),
                &input,
                now,
            )?;
            Ok(NamedConsent::one(conn, consent)?)
        })
        .await?;
    Ok(versioned(consent.consent.meta.version, &consent))
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
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let (withdrawer, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint: fingerprint("withdraw_consent", Some(&id.to_string()), &()),
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let hand_off = workflows::hand_offs::withdraw_consent(conn, &withdrawer, id, now)?;
            Reply::ok(&detail(conn, hand_off)?)
        },
        view: move |conn: &mut DbConnection, _: &str| {
            let hand_off = workflows::hand_offs::visible(conn, &reader, id)?;
            Reply::ok(&detail(conn, hand_off)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// Send a draft to the partner (needs consent given, or the legal exception).
#[utoipa::path(
    tag = "hand-offs",
    description = "Social worker of the post.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = Option<MoveNote>, description = "Optional: a comment for the history"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/send")]
async fn send_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<MoveNote>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::send;
    move_hand_off(state, user, HandOffAction::Send, request, workflow).await
}

/// Cancel a hand-off before its outcome.
#[utoipa::path(
    tag = "hand-offs",
    description = "Social worker of the post.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = Option<MoveNote>, description = "Optional: a comment for the history"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/cancel")]
async fn cancel_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<MoveNote>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::cancel;
    move_hand_off(state, user, HandOffAction::Cancel, request, workflow).await
}

/// Acknowledge receipt of a sent hand-off.
#[utoipa::path(
    tag = "hand-offs",
    description = "The partner's system.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = Option<MoveNote>, description = "Optional: a comment for the history"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/acknowledge")]
async fn acknowledge_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<MoveNote>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::acknowledge;
    move_hand_off(state, user, HandOffAction::Acknowledge, request, workflow).await
}

/// Accept a received hand-off.
#[utoipa::path(
    tag = "hand-offs",
    description = "The partner's system.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = Option<MoveNote>, description = "Optional: a comment for the history"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/accept")]
async fn accept_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<MoveNote>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::accept;
    move_hand_off(state, user, HandOffAction::Accept, request, workflow).await
}

/// Decline a received hand-off, with a reason.
#[utoipa::path(
    tag = "hand-offs",
    description = "The partner's system.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = DeclineInput, description = "Why the partner declines (`reason`, required), and a comment"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/decline")]
async fn decline_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<DeclineInput>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::decline;
    move_hand_off(state, user, HandOffAction::Decline, request, workflow).await
}

/// Report the outcome of an accepted hand-off.
#[utoipa::path(
    tag = "hand-offs",
    description = "The partner's system.",
    params(
        ("id" = HandOffId, Path, description = "The hand-off's id"),
        ("If-Match" = Option<String>, Header, description = "The hand-off's `ETag`: the move fails with 412 if it changed"),
    ),
    request_body(content = CompleteInput, description = "What was done for the person (`outcome`, required), and a comment"),
    responses(
        (status = 200, description = "The hand-off after the move, with its `ETag`; a retry with the same `Idempotency-Key` changes nothing and answers the hand-off as you may see it now, with `Idempotent-Replayed: true`", body = HandOffView, headers(("ETag" = String))),
        (status = 404, description = "No such hand-off within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The move is not legal from the current state; the problem names both", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hand-off changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/hand-offs/{id}/complete")]
async fn complete_hand_off(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: MoveRequest<CompleteInput>,
) -> Result<HttpResponse, ApiError> {
    let workflow = workflows::hand_offs::complete;
    move_hand_off(state, user, HandOffAction::Complete, request, workflow).await
}

/// What a move reads of its request: the hand-off's id, `If-Match`, `Idempotency-Key` and the
/// optional details (actix extracts the tuple part by part).
type MoveRequest<B> = (
    web::Path<HandOffId>,
    OptionalIfMatch,
    IdempotencyKey,
    OptionalJson<B>,
);

/// What the six move handlers share: the details checked for `action`, then `workflow` run at
/// most once per `Idempotency-Key`, answering the hand-off as the caller may see it.
async fn move_hand_off<B: MoveBody>(
    state: web::Data<AppState>,
    user: CurrentUser,
    action: HandOffAction,
    request: MoveRequest<B>,
    workflow: workflows::hand_offs::MoveWorkflow,
) -> Result<HttpResponse, ApiError> {
    let (id, OptionalIfMatch(if_match), key, OptionalJson(body)) = request;
    let id = id.into_inner();
    let operation = workflows::hand_offs::operation_of(action);
    let fingerprint = fingerprint(operation, Some(&id.to_string()), &body);
    let details = body.details().checked(action)?;
    let now = state.clock.now();
    let (mover, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint,
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let expected = if_match.unwrap_or(Expected::Any);
            let moved = workflow(conn, &mover, id, &expected, &details, now)?;
            Reply::ok(&view_for(conn, &mover, moved)?)
        },
        view: move |conn: &mut DbConnection, _: &str| {
            let hand_off = workflows::hand_offs::visible(conn, &reader, id)?;
            Reply::ok(&view_for(conn, &reader, hand_off)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}
