//! `/api/v1/reference` and `/health`: what any client may read without a token.

use actix_web::{HttpResponse, get, web};
use relais_domain::reference::{
    ClosingReason, CodeList, Convention, InterventionKind, InterventionMode, KnownToSocialServices,
    LegalBasis, Origin, Outcome, PostKind, ProblemCategory, RecordKind, ReferenceEntry,
    ReferringService, RequisitionStatus, Role, Sex, SituationStatus, Standing, UnitKind, entries,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure_api(cfg: &mut ServiceConfig) {
    cfg.service(get_reference);
}

pub fn configure_root(cfg: &mut ServiceConfig) {
    cfg.service(get_health);
}

/// Every reference list, by name: codes with their French labels.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"problem_categories": [{"code": "conjugal_violence", "label": "Violences conjugales"}]}))]
pub struct ReferenceLists(pub std::collections::BTreeMap<&'static str, Vec<ReferenceEntry>>);

fn list<T: CodeList>() -> (&'static str, Vec<ReferenceEntry>) {
    (T::LIST, entries::<T>())
}

/// The reference lists (problem categories, origins, standings…) with French labels.
#[utoipa::path(
    tag = "reference",
    responses((status = 200, description = "Every list, keyed by its name", body = ReferenceLists))
)]
#[get("/reference")]
async fn get_reference() -> web::Json<ReferenceLists> {
    web::Json(ReferenceLists(
        [
            list::<ProblemCategory>(),
            list::<Origin>(),
            list::<ReferringService>(),
            list::<Standing>(),
            list::<Sex>(),
            list::<KnownToSocialServices>(),
            list::<SituationStatus>(),
            list::<ClosingReason>(),
            list::<InterventionMode>(),
            list::<InterventionKind>(),
            list::<PostKind>(),
            list::<Convention>(),
            list::<UnitKind>(),
            list::<Role>(),
            list::<LegalBasis>(),
            list::<RequisitionStatus>(),
            list::<RecordKind>(),
            list::<Outcome>(),
        ]
        .into_iter()
        .collect(),
    ))
}

/// The service's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The backend in use.
    #[schema(example = "sqlite")]
    pub database: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Whether the service and its database answer.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The service and its database answer", body = Health),
        (status = 503, description = "The database does not answer within a second, or cannot commit a write", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health")]
async fn get_health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The same checks as readiness: answering while no write can be committed would lie.
    super::operations::no_failing_writes(&state)?;
    let db = state.db.clone();
    super::operations::within_a_second(move || db.probe()).await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok",
        database: state.db.backend().name(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}
