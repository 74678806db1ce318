//! `/api/v1/situations/{id}/interventions`: the dated acts of a situation.

use actix_web::{HttpResponse, get, post, web};
use relais_domain::ids::{InterventionId, SituationId};
use relais_domain::intervention::InterventionInput;
use relais_persistence::{DbConnection, interventions};
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::{PageParams, page_request, page_type};
use crate::clock::today;
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::names::NamedIntervention;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_intervention).service(list_interventions);
}

/// Record an intervention in a situation.
#[utoipa::path(
    tag = "interventions",
    params(("id" = SituationId, Path, description = "The situation's id")),
    request_body(content = InterventionInput, example = json!({
        "occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 45
    })),
    responses(
        (status = 201, description = "The intervention, with its `Location`", body = NamedIntervention,
            headers(("Location" = String, description = "URL of the situation's interventions"), ("ETag" = String, description = "Version"))),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The situation was anonymised with its person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/situations/{id}/interventions")]
async fn create_intervention(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    key: IdempotencyKey,
    Json(input): Json<InterventionInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let today = today(state.clock.now());
    let (recorder, reader) = (user.clone(), user.clone());
    // The key is kept with the intervention, which a retry finds as the situation's list shows it.
    let retryable = Retryable {
        fingerprint: fingerprint("create_intervention", Some(&id.to_string()), &input),
        record: Some(id.to_string()),
        work: move |conn: &mut DbConnection| {
            let situation = workflows::situations::writable(conn, &recorder, id)?;
            input.validate(today, situation.details.opened_on)?;
            let post = situation.post_id;
            let recorded = interventions::insert(conn, id, post, &input, &recorder.subject)?;
            Reply::created(
                recorded.id,
                location_of(id),
                &NamedIntervention::one(conn, recorded)?,
            )
        },
        view: move |conn: &mut DbConnection, recorded: &str| {
            let recorded: InterventionId = stored_id(recorded)?;
            workflows::situations::readable(conn, &reader, id)?;
            let found = interventions::list(conn, id)?
                .into_iter()
                .find(|i| i.id == recorded)
                .ok_or_else(|| ApiError::NotFound("no such intervention".into()))?;
            Reply::created(
                recorded,
                location_of(id),
                &NamedIntervention::one(conn, found)?,
            )
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// Where a situation's interventions are listed: the `Location` of a new one.
fn location_of(situation: SituationId) -> String {
    format!("/api/v1/situations/{situation}/interventions")
}

page_type!(
    InterventionPage,
    NamedIntervention,
    "A page of a situation's interventions, the last recorded first, each with the name of who recorded it."
);

/// List a situation's interventions, the last recorded first, a page at a time.
#[utoipa::path(
    tag = "interventions",
    params(("id" = SituationId, Path, description = "The situation's id"), PageParams),
    responses(
        (status = 200, description = "A page of the situation's interventions", body = InterventionPage),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/situations/{id}/interventions")]
async fn list_interventions(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    Query(params): Query<PageParams>,
) -> Result<web::Json<InterventionPage>, ApiError> {
    let id = id.into_inner();
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| {
            workflows::situations::readable(conn, &user, id)?;
            let found = interventions::page(conn, id, &page)?;
            Ok(InterventionPage {
                items: NamedIntervention::all(conn, found.items)?,
                next_cursor: found.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(found))
}
