//! `/api/v1/members`: who works where. Administrators manage every membership; a post's
//! coordinators manage its social workers'. With `RELAIS_AUTHORIZATION=memberships` (or `both`),
//! a token naming only an identity is mapped to its membership at each request.

use actix_web::{HttpResponse, delete, get, post, put, web};
use relais_domain::ids::{MemberId, PostId};
use relais_domain::member::{Member, MemberAccess, NewMember};
use relais_domain::reference::Role;
use relais_persistence::{DbConnection, members};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{cursor_is_id, listed, page_request, page_type, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_member)
        .service(list_members)
        .service(get_member)
        .service(replace_member)
        .service(revoke_member);
}

page_type!(MemberPage, Member, "A page of memberships, newest first.");

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    /// Only the memberships granting this post.
    pub post_id: Option<PostId>,
    /// Most memberships to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// Grant a membership to an identity, or invite someone by e-mail.
///
/// An administrator grants any role; a coordinator grants the role `social_worker` at one of its
/// own posts. An invitation (`email` without `issuer` and `subject`) is bound to the identity of
/// the first login whose token carries that e-mail.
#[utoipa::path(
    tag = "members",
    request_body(content = NewMember, examples(
        ("invitation" = (summary = "A social worker invited by e-mail", value = json!({
            "display_name": "Camille Martin", "role": "social_worker",
            "post_ids": ["0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"], "email": "camille.martin@example.org"
        }))),
        ("identity" = (summary = "An administrator named by its identity", value = json!({
            "display_name": "Dominique Admin", "role": "admin",
            "issuer": "https://auth.agentconnect.gouv.fr/api/v2", "subject": "4f9c2d1e-8a7b-4c3d-9e2f-1a0b9c8d7e6f"
        }))),
    )),
    responses(
        (status = 201, description = "The membership, with its `Location` and `ETag`", body = Member,
            headers(("Location" = String, description = "URL of the new membership"), ("ETag" = String, description = "Version, for If-Match"))),
        (status = 403, description = "A coordinator granting another role, or at a post not its own", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The identity already has a membership, or an invitation to the e-mail is pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The scope does not fit the role, or names no such post, unit or partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/members")]
async fn create_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let now = state.clock.now();
    let (granter, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint: fingerprint("create_member", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            created_member(&workflows::members::grant(conn, &granter, &input, now)?)
        },
        view: move |conn: &mut DbConnection, id: &str| {
            created_member(&workflows::members::visible(conn, &reader, stored_id(id)?)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

fn created_member(member: &Member) -> Result<Reply, ApiError> {
    Reply::created(member.id, format!("/api/v1/members/{}", member.id), member)
}

/// List memberships: an administrator's, all; a coordinator's, those of its posts.
#[utoipa::path(
    tag = "members",
    params(MemberListParams),
    responses((status = 200, description = "A page of memberships", body = MemberPage))
)]
#[get("/members")]
async fn list_members(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<MemberListParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(params.limit, params.cursor);
    let posts: Option<Vec<PostId>> = match (user.role, params.post_id) {
        (Role::Admin, None) => None,
        (Role::Admin, Some(post)) => Some(vec![post]),
        // A coordinator's list never reaches past its posts; another post reads as empty.
        (_, Some(post)) => Some(
            user.post_ids
                .iter()
                .copied()
                .filter(|p| *p == post)
                .collect(),
        ),
        (_, None) => Some(user.post_ids.clone()),
    };
    let found = state
        .read(move |conn| Ok(members::list(conn, posts.as_deref(), &page)?))
        .await?;
    let shown = found.items.iter().map(|m| m.id.to_string()).collect();
    Ok(listed(&MemberPage::from(found), shown))
}

/// Read a membership.
#[utoipa::path(
    tag = "members",
    params(("id" = MemberId, Path, description = "The membership's id")),
    responses(
        (status = 200, description = "The membership, with its `ETag`", body = Member, headers(("ETag" = String))),
        (status = 404, description = "No such membership within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/members/{id}")]
async fn get_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<MemberId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let member = state
        .read(move |conn| Ok(workflows::members::visible(conn, &user, id)?))
        .await?;
    Ok(versioned(member.meta.version, &member))
}

/// Change a membership's role, scope or display name; takes effect at the holder's next request.
#[utoipa::path(
    tag = "members",
    params(
        ("id" = MemberId, Path, description = "The membership's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body(content = MemberAccess, example = json!({
        "display_name": "Camille Martin", "role": "social_worker",
        "post_ids": ["0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c"]
    })),
    responses(
        (status = 200, description = "The membership as changed, with its new `ETag`", body = Member, headers(("ETag" = String))),
        (status = 403, description = "A coordinator changing a membership it does not manage, or into one it may not grant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such membership within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The membership is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The membership changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The scope does not fit the role", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/members/{id}")]
async fn replace_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<MemberId>,
    IfMatch(expected): IfMatch,
    Json(access): Json<MemberAccess>,
) -> Result<HttpResponse, ApiError> {
    access.validate()?;
    let id = id.into_inner();
    let now = state.clock.now();
    let ticket = user.ticket();
    let member = state
        .write(ticket, move |conn, _| {
            Ok(workflows::members::change(
                conn, &user, id, &expected, &access, now,
            )?)
        })
        .await?;
    Ok(versioned(member.meta.version, &member))
}

/// Revoke a membership: its holder is refused from the next request on, whatever its token's
/// expiry. The membership stays readable, `revoked`, for the trail.
#[utoipa::path(
    tag = "members",
    params(
        ("id" = MemberId, Path, description = "The membership's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The membership, revoked", body = Member, headers(("ETag" = String))),
        (status = 403, description = "A coordinator revoking a membership it does not manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such membership within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The membership is already revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The membership changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/members/{id}")]
async fn revoke_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<MemberId>,
    IfMatch(expected): IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let ticket = user.ticket();
    let member = state
        .write(ticket, move |conn, _| {
            Ok(workflows::members::revoke(conn, &user, id, &expected, now)?)
        })
        .await?;
    Ok(versioned(member.meta.version, &member))
}
