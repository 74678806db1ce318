//! `/api/v1/posts`: the ISCG posts. Administrators manage them; a post's own staff read it.

use actix_web::{HttpResponse, get, post, put, web};
use relais_domain::ids::PostId;
use relais_domain::post::{Post, PostInput};
use relais_persistence::{DbConnection, posts};
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::{PageParams, page_request, page_type, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_post)
        .service(list_posts)
        .service(get_post)
        .service(replace_post);
}

page_type!(PostPage, Post, "A page of posts, newest first.");

/// Create a post.
#[utoipa::path(
    tag = "posts",
    request_body(content = PostInput, example = json!({
        "name": "ISCG Privas", "kind": "mixed", "department_code": "07",
        "employer": "Association Le Relais 07", "convention": "tripartite"
    })),
    responses(
        (status = 201, description = "The post, with its `Location` and `ETag`", body = Post,
            headers(("Location" = String, description = "URL of the new post"), ("ETag" = String, description = "Version, for If-Match"))),
    )
)]
#[post("/posts")]
async fn create_post(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<PostInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let retryable = Retryable {
        fingerprint: fingerprint("create_post", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| created_post(posts::insert(conn, &input)?),
        view: |conn: &mut DbConnection, id: &str| created_post(posts::get(conn, stored_id(id)?)?),
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `create_post`, first or retried.
fn created_post(post: Post) -> Result<Reply, ApiError> {
    let location = format!("/api/v1/posts/{}", post.id);
    Reply::created(post.id, location, &post)
}

/// List posts: all of them for administrators, their own for social workers and coordinators.
#[utoipa::path(
    tag = "posts",
    params(PageParams),
    responses((status = 200, description = "A page of posts", body = PostPage))
)]
#[get("/posts")]
async fn list_posts(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<PageParams>,
) -> Result<web::Json<PostPage>, ApiError> {
    let only = if user.is_admin() {
        None
    } else if user.readable_case_posts().is_empty() {
        return Err(ApiError::Forbidden(format!(
            "the role {} does not read posts",
            user.role
        )));
    } else {
        Some(user.readable_case_posts().to_vec())
    };
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(posts::list(conn, only.as_deref(), &page)?))
        .await?;
    Ok(web::Json(found.into()))
}

/// Read a post.
#[utoipa::path(
    tag = "posts",
    params(("id" = PostId, Path, description = "The post's id")),
    responses(
        (status = 200, description = "The post, with its `ETag`", body = Post, headers(("ETag" = String))),
        (status = 404, description = "No such post within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/posts/{id}")]
async fn get_post(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PostId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !user.can_read_post(id) {
        return Err(ApiError::NotFound("no such post".into()));
    }
    let post = state.read(move |conn| Ok(posts::get(conn, id)?)).await?;
    Ok(versioned(post.meta.version, &post))
}

/// Replace a post's description.
#[utoipa::path(
    tag = "posts",
    params(
        ("id" = PostId, Path, description = "The post's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body = PostInput,
    responses(
        (status = 200, description = "The post as replaced, with its new `ETag`", body = Post, headers(("ETag" = String))),
        (status = 404, description = "No such post", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The post changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/posts/{id}")]
async fn replace_post(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PostId>,
    if_match: IfMatch,
    Json(input): Json<PostInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let id = id.into_inner();
    let post = state
        .write(user.ticket(), move |conn, _| {
            let version = if_match.admitted(posts::get(conn, id)?.meta.version)?;
            Ok(posts::replace(conn, id, version, &input)?)
        })
        .await?;
    Ok(versioned(post.meta.version, &post))
}
