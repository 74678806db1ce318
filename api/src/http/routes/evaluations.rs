//! `/api/v1/situations/{id}/evaluation`: the confidential social evaluation, read only by
//! the post's social workers and coordinators, and written only by its social workers.

use actix_web::{HttpResponse, get, put, web};
use relais_domain::ids::SituationId;
use relais_domain::intervention::EvaluationInput;
use relais_persistence::evaluations;
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::{created, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, OptionalIfMatch};
use crate::http::names::NamedEvaluation;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_evaluation).service(replace_evaluation);
}

/// Read a situation's evaluation.
#[utoipa::path(
    tag = "evaluations",
    params(("id" = SituationId, Path, description = "The situation's id")),
    responses(
        (status = 200, description = "The evaluation, with its `ETag`", body = NamedEvaluation, headers(("ETag" = String))),
        (status = 404, description = "No such situation within your posts, or no evaluation written yet", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/situations/{id}/evaluation")]
async fn get_evaluation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let evaluation = state
        .read(move |conn| {
            workflows::situations::readable(conn, &user, id)?;
            let evaluation = evaluations::get(conn, id)?
                .ok_or_else(|| ApiError::NotFound("no evaluation has been written yet".into()))?;
            Ok(NamedEvaluation::one(conn, evaluation)?)
        })
        .await?;
    Ok(versioned(evaluation.evaluation.meta.version, &evaluation))
}

/// Write a situation's evaluation: the first time without `If-Match`, afterwards with it.
#[utoipa::path(
    tag = "evaluations",
    params(
        ("id" = SituationId, Path, description = "The situation's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the evaluation read; required once one exists"),
    ),
    request_body = EvaluationInput,
    responses(
        (status = 200, description = "The evaluation as replaced, with its new `ETag`", body = NamedEvaluation, headers(("ETag" = String))),
        (status = 201, description = "The first evaluation, with its `ETag`", body = NamedEvaluation,
            headers(("Location" = String, description = "URL of the evaluation"), ("ETag" = String, description = "Version, for If-Match"))),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The situation was anonymised with its person", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The evaluation changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "An evaluation exists and If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/situations/{id}/evaluation")]
async fn replace_evaluation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    OptionalIfMatch(version): OptionalIfMatch,
    Json(input): Json<EvaluationInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let id = id.into_inner();
    let (evaluation, first) = state
        .write(user.ticket(), move |conn, written| {
            workflows::situations::writable(conn, &user, id)?;
            let (evaluation, first) =
                evaluations::put(conn, id, &input, &user.subject, version.as_ref())?;
            if first {
                written.answered_created();
            }
            Ok((NamedEvaluation::one(conn, evaluation)?, first))
        })
        .await?;
    Ok(if first {
        created(
            format!("/api/v1/situations/{id}/evaluation"),
            evaluation.evaluation.meta.version,
            &evaluation,
        )
    } else {
        versioned(evaluation.evaluation.meta.version, &evaluation)
    })
}
