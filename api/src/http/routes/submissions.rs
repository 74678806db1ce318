//! Submitted statistics: a post's coordinator freezes the post's grid for a period as a new
//! version (`/api/v1/posts/{id}/statistics/submissions`); the post's staff and the
//! observatory read them; the observatory sees which posts of a scope submitted a period
//! (`/api/v1/statistics/submissions`) and reads their sum from `GET /statistics` (its default
//! source).

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use relais_domain::grid::Grid;
use relais_domain::ids::{PostId, SubmissionId};
use relais_domain::statistics::{Statistics, assemble};
use relais_domain::submission::{Submission, add_into};
use relais_persistence::statistics::StatScope;
use relais_persistence::{DbConnection, StoreError, consolidation, submissions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::statistics::{check_period, choose_grid, scope_for};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(submit_statistics)
        .service(list_statistics_submissions)
        .service(get_statistics_submission)
        .service(list_submitted_posts);
}

/// What to submit: a period of whole calendar months, counted with a grid version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2026-01-01", "to": "2026-12-31"}))]
pub struct SubmissionRequest {
    /// Grid version; default: the version in force on `from`.
    #[schema(example = "2026")]
    pub grid: Option<String>,
    /// The first day of a month.
    #[schema(example = "2026-01-01")]
    pub from: NaiveDate,
    /// The last day of a month (included).
    #[schema(example = "2026-12-31")]
    pub to: NaiveDate,
}

/// A post's submissions, newest period first, then newest version first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionList {
    pub items: Vec<Submission>,
}

/// Submit your post's statistics for a period: a frozen copy of its grid, as counted now.
///
/// The period is whole calendar months (typically a year) that have begun: a period not yet
/// begun is refused (`in_future` on `from`), since its zeros would be read as the post's figures.
/// A period under way may be submitted, and submitted again once it has ended. The first
/// submission of a period is
/// version 1; submitting the same period again adds version 2, 3…, each listing the cells that
/// changed since the version before (`differences`). Later changes to the cases never alter a
/// submission. Only the post's coordinator submits.
#[utoipa::path(
    tag = "statistics",
    params(("id" = PostId, Path, description = "The post's id")),
    request_body = SubmissionRequest,
    responses(
        (status = 201, description = "The submission, frozen", body = Submission, headers(("Location" = String))),
        (status = 404, description = "No such post within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another submission of the same period took this version first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The period is not whole months, has not begun, is reversed or longer than five years, or no grid version applies", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/posts/{id}/statistics/submissions")]
async fn submit_statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    post_id: web::Path<PostId>,
    Json(input): Json<SubmissionRequest>,
) -> Result<HttpResponse, ApiError> {
    let post = post_id.into_inner();
    check_period(input.from, input.to)?;
    let grid = choose_grid(&state, input.grid.as_deref(), input.from)?.clone();
    let now = state.clock.now();
    let (submitter, reader) = (user.clone(), user.clone());
    let (from, to) = (input.from, input.to);
    let retryable = Retryable {
        fingerprint: fingerprint("submit_statistics", Some(&post.to_string()), &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            submitted(workflows::submissions::submit(
                conn, &submitter, post, &grid, from, to, now,
            )?)
        },
        view: move |conn: &mut DbConnection, id: &str| {
            submitted(workflows::submissions::one(
                conn,
                &reader,
                post,
                stored_id(id)?,
            )?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `submit_statistics`, first or retried.
fn submitted(submission: Submission) -> Result<Reply, ApiError> {
    let (post, id) = (submission.post_id, submission.id);
    Reply::created(
        id,
        format!("/api/v1/posts/{post}/statistics/submissions/{id}"),
        // Answered to the post's coordinator (its own post): exact.
        &submission,
    )
}

/// List a post's submissions (its staff, or the observatory).
#[utoipa::path(
    tag = "statistics",
    params(("id" = PostId, Path, description = "The post's id")),
    responses(
        (status = 200, description = "Every version of every period the post submitted", body = SubmissionList),
        (status = 404, description = "No such post within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/posts/{id}/statistics/submissions")]
async fn list_statistics_submissions(
    state: web::Data<AppState>,
    user: CurrentUser,
    post_id: web::Path<PostId>,
) -> Result<HttpResponse, ApiError> {
    let post = post_id.into_inner();
    let principal = user.clone();
    let items = state
        .read(move |conn| Ok(workflows::submissions::of_post(conn, &principal, post)?))
        .await?;
    let items = if user.can_read_cases(post) {
        items
    } else {
        // The observatory: a scope wider than its own posts.
        published(&state, items.clone(), &items)
    };
    Ok(HttpResponse::Ok().json(SubmissionList { items }))
}

/// Read one submission of a post (its staff, or the observatory).
#[utoipa::path(
    tag = "statistics",
    params(
        ("id" = PostId, Path, description = "The post's id"),
        ("submission_id" = SubmissionId, Path, description = "The submission's id"),
    ),
    responses(
        (status = 200, description = "The submission, as frozen", body = Submission),
        (status = 404, description = "No such submission of a post within your reach", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/posts/{id}/statistics/submissions/{submission_id}")]
async fn get_statistics_submission(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PostId, SubmissionId)>,
) -> Result<HttpResponse, ApiError> {
    let (post, id) = path.into_inner();
    let principal = user.clone();
    let submission = state
        .read(move |conn| Ok(workflows::submissions::one(conn, &principal, post, id)?))
        .await?;
    if user.can_read_cases(post) {
        return Ok(HttpResponse::Ok().json(submission));
    }
    // The observatory: a scope wider than its own posts; the version before is needed for the
    // differences between published grids.
    let principal = user.clone();
    let all = state
        .read(move |conn| Ok(workflows::submissions::of_post(conn, &principal, post)?))
        .await?;
    let published = published(&state, vec![submission], &all);
    Ok(HttpResponse::Ok().json(&published[0]))
}

/// Submissions as a reader outside the post sees them: through disclosure control with the
/// threshold of each one's grid version (see `relais_domain::submission::published`).
fn published(state: &AppState, wanted: Vec<Submission>, all: &[Submission]) -> Vec<Submission> {
    let default_k = relais_domain::grid::Disclosure::default().k;
    relais_domain::submission::published(wanted, all, |version| {
        state
            .grids
            .version(version)
            .map_or(default_k, |grid| grid.disclosure.k)
    })
}

/// Which period the observatory asks about.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubmittedParams {
    /// Grid version; default: the version in force on `from`.
    #[param(example = "2026")]
    pub grid: Option<String>,
    /// First day of the period, exactly as submitted.
    #[param(example = "2026-01-01")]
    pub from: NaiveDate,
    /// Last day of the period, exactly as submitted.
    #[param(example = "2026-12-31")]
    pub to: NaiveDate,
    /// One post (yours, unless you are the observatory).
    pub post_id: Option<PostId>,
    /// A department (observatory only).
    #[validate(length(min = 2, max = 3))]
    #[param(example = "07")]
    pub department: Option<String>,
}

/// A post of the scope and the submission of the period it counts in, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmittedPost {
    /// The instance the post's figures were imported from; `null` for this instance's own posts.
    #[schema(example = "relais-ardeche")]
    pub instance: Option<String>,
    /// The post's id (on its own instance).
    pub post_id: PostId,
    #[schema(example = "ISCG Privas")]
    pub post_name: String,
    #[schema(example = "07")]
    pub department_code: String,
    /// The latest version's id (`null` for a post that has not submitted, and for a post of
    /// another instance, whose versions are known by number only) and its number.
    pub submission_id: Option<SubmissionId>,
    #[schema(example = 2)]
    pub version: Option<i64>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who submitted a period, within a scope.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmittedPosts {
    #[schema(example = "2026")]
    pub grid: String,
    #[schema(example = "2026-01-01")]
    pub from: NaiveDate,
    #[schema(example = "2026-12-31")]
    pub to: NaiveDate,
    /// Posts whose latest version for the period counts in `GET /statistics?source=submissions`.
    pub submitted: Vec<SubmittedPost>,
    /// Posts of the scope with no submission for exactly this grid version and period.
    pub missing: Vec<SubmittedPost>,
}

/// The submitted grid of a scope for a period, and who did and did not submit it.
pub struct FromSubmissions {
    pub statistics: Statistics,
    pub posts: SubmittedPosts,
}

/// The grid of a scope as its posts submitted it: for each post of the scope, the latest
/// version it submitted for exactly this grid version and period, summed cell by cell. The
/// posts are this instance's own and those of other instances known from imported documents
/// (their department as the documents gave it). A post without one counts nothing and is
/// listed as missing.
pub fn from_submissions(
    conn: &mut DbConnection,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<FromSubmissions, StoreError> {
    let found = submissions::latest_in_scope(conn, scope, &grid.version, from, to)?;
    // Every indicator and value at zero, in the grid's order, as the live answer lays them out.
    let mut statistics = assemble(grid, from, to, scope.label(), &[]);
    let (mut submitted, mut missing) = (Vec::new(), Vec::new());
    for (post, submission) in found {
        if let Some(s) = &submission {
            add_into(&mut statistics, &s.statistics);
        }
        let listed = SubmittedPost {
            instance: None,
            post_id: post.id,
            post_name: post.name,
            department_code: post.department_code,
            submission_id: submission.as_ref().map(|s| s.id),
            version: submission.as_ref().map(|s| s.version),
            submitted_at: submission.as_ref().map(|s| s.submitted_at),
        };
        match submission {
            Some(_) => submitted.push(listed),
            None => missing.push(listed),
        }
    }
    for (post, figures) in consolidation::latest_in_scope(conn, scope, &grid.version, from, to)? {
        if let Some(f) = &figures {
            add_into(&mut statistics, &f.statistics);
        }
        let listed = SubmittedPost {
            instance: Some(post.instance_id),
            post_id: post.post_id,
            post_name: post.name,
            department_code: post.department_code,
            // An imported version has no id here: the sender's numbering is the version.
            submission_id: None,
            version: figures.as_ref().map(|f| f.version),
            submitted_at: figures.as_ref().map(|f| f.submitted_at),
        };
        match figures {
            Some(_) => submitted.push(listed),
            None => missing.push(listed),
        }
    }
    Ok(FromSubmissions {
        statistics,
        posts: SubmittedPosts {
            grid: grid.version.clone(),
            from,
            to,
            submitted,
            missing,
        },
    })
}

/// Which posts of a scope submitted a period, and which did not.
///
/// A post counts with the latest version it submitted for exactly this grid version and
/// period (the `from` and `to` it submitted, not an overlapping period). The observatory reads
/// every scope; coordinators and social workers their posts.
#[utoipa::path(
    tag = "statistics",
    params(SubmittedParams),
    responses(
        (status = 200, description = "The posts of the scope, submitted or missing", body = SubmittedPosts),
        (status = 422, description = "The period is reversed or too long, or no grid version applies to it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/statistics/submissions")]
async fn list_submitted_posts(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<SubmittedParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope_for(&user, params.post_id, params.department.as_deref())?;
    check_period(params.from, params.to)?;
    let grid = choose_grid(&state, params.grid.as_deref(), params.from)?.clone();
    let (from, to) = (params.from, params.to);
    let found = state
        .read_aggregate(move |conn| from_submissions(conn, &grid, from, to, &scope))
        .await?;
    Ok(HttpResponse::Ok().json(found.posts))
}

/// The exact grid of a scope from its posts' submissions; `GET /statistics?source=submissions`
/// answers it through disclosure control (`statistics::compute_for`).
pub async fn submitted_statistics(
    state: &AppState,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<Statistics, ApiError> {
    let (owned, scope) = (grid.clone(), scope.clone());
    let found = state
        .read_aggregate(move |conn| from_submissions(conn, &owned, from, to, &scope))
        .await?;
    Ok(found.statistics)
}
