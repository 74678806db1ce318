//! `/api/v1/units`: police and gendarmerie units, managed by administrators.

use actix_web::{HttpResponse, get, post, put, web};
use relais_domain::ids::{PostId, UnitId};
use relais_domain::post::{Unit, UnitInput};
use relais_persistence::{DbConnection, units};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{cursor_is_id, page_request, page_type, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_unit)
        .service(list_units)
        .service(get_unit)
        .service(replace_unit);
}

page_type!(UnitPage, Unit, "A page of units, newest first.");

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnitListParams {
    /// Only the units that work with this post.
    pub post_id: Option<PostId>,
    /// Most units to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// Create a unit.
#[utoipa::path(
    tag = "units",
    request_body(content = UnitInput, example = json!({
        "name": "Commissariat de Privas", "kind": "commissariat", "department_code": "07", "post_ids": []
    })),
    responses(
        (status = 201, description = "The unit, with its `Location` and `ETag`", body = Unit,
            headers(("Location" = String, description = "URL of the new unit"), ("ETag" = String, description = "Version, for If-Match"))),
    )
)]
#[post("/units")]
async fn create_unit(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<UnitInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let retryable = Retryable {
        fingerprint: fingerprint("create_unit", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| created_unit(units::insert(conn, &input)?),
        view: |conn: &mut DbConnection, id: &str| created_unit(units::get(conn, stored_id(id)?)?),
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `create_unit`, first or retried.
fn created_unit(unit: Unit) -> Result<Reply, ApiError> {
    let location = format!("/api/v1/units/{}", unit.id);
    Reply::created(unit.id, location, &unit)
}

/// List units.
#[utoipa::path(
    tag = "units",
    params(UnitListParams),
    responses((status = 200, description = "A page of units", body = UnitPage))
)]
#[get("/units")]
async fn list_units(
    state: web::Data<AppState>,
    _user: CurrentUser,
    Query(params): Query<UnitListParams>,
) -> Result<web::Json<UnitPage>, ApiError> {
    let page = page_request(params.limit, params.cursor);
    let post = params.post_id;
    let found = state
        .read(move |conn| Ok(units::list(conn, post, &page)?))
        .await?;
    Ok(web::Json(found.into()))
}

/// Read a unit.
#[utoipa::path(
    tag = "units",
    params(("id" = UnitId, Path, description = "The unit's id")),
    responses(
        (status = 200, description = "The unit, with its `ETag`", body = Unit, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{id}")]
async fn get_unit(
    state: web::Data<AppState>,
    _user: CurrentUser,
    id: web::Path<UnitId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let unit = state.read(move |conn| Ok(units::get(conn, id)?)).await?;
    Ok(versioned(unit.meta.version, &unit))
}

/// Replace a unit and the posts it works with.
#[utoipa::path(
    tag = "units",
    params(
        ("id" = UnitId, Path, description = "The unit's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body = UnitInput,
    responses(
        (status = 200, description = "The unit as replaced, with its new `ETag`", body = Unit, headers(("ETag" = String))),
        (status = 404, description = "No such unit", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The unit changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/units/{id}")]
async fn replace_unit(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<UnitId>,
    if_match: IfMatch,
    Json(input): Json<UnitInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let id = id.into_inner();
    let unit = state
        .write(user.ticket(), move |conn, _| {
            let version = if_match.admitted(units::get(conn, id)?.meta.version)?;
            Ok(units::replace(conn, id, version, &input)?)
        })
        .await?;
    Ok(versioned(unit.meta.version, &unit))
}
