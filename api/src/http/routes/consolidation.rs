//! National consolidation, the observatory's side: its administrator registers the instances
//! whose exports it accepts (`/api/v1/statistics/instances`) and imports their signed documents
//! (`POST /api/v1/statistics/submissions`, or `relais statistics import FILE`). The imported
//! figures then count in `GET /statistics` (source `submissions`) and in the list of posts that
//! submitted a period.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use relais_domain::consolidation::{Instance, SignedDocument};
use relais_persistence::{DbConnection, consolidation};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::current_user::CurrentUser;
use crate::http::extract::Json;
use crate::http::idempotency::{IdempotencyKey, Reply, Retryable, fingerprint, run_once};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;
use crate::workflows::consolidation::{ImportReport, InstanceInput};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_statistics_instances)
        .service(register_statistics_instance)
        .service(import_statistics_submissions);
}

/// The registered sending instances, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceList {
    pub items: Vec<Instance>,
}

/// List the instances whose statistics this observatory accepts.
#[utoipa::path(
    tag = "statistics",
    responses((status = 200, description = "Every registered instance", body = InstanceList))
)]
#[get("/statistics/instances")]
async fn list_statistics_instances(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state
        .read(|conn| Ok(consolidation::instances(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(InstanceList { items }))
}

/// Register an instance whose signed statistics this observatory will import: its id (as its
/// documents name it) and its Ed25519 public key (`relais statistics public-key` there).
#[utoipa::path(
    tag = "statistics",
    request_body = InstanceInput,
    responses(
        (status = 201, description = "The instance, registered", body = Instance, headers(("Location" = String))),
        (status = 409, description = "An instance of that id is registered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid id, name or public key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/statistics/instances")]
async fn register_statistics_instance(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<InstanceInput>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let registrar = user.clone();
    let retryable = Retryable {
        fingerprint: fingerprint("register_statistics_instance", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            let instance = workflows::consolidation::register(conn, &registrar, &input, now)?;
            Reply::created(
                &instance.id,
                "/api/v1/statistics/instances".to_owned(),
                &instance,
            )
        },
        view: move |conn: &mut DbConnection, id: &str| {
            let instance = consolidation::instance_of(conn, id)?;
            Reply::created(id, "/api/v1/statistics/instances".to_owned(), &instance)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// Import a signed statistics document exported by a registered instance
/// (`relais statistics export` there).
///
/// The document is verified before anything is stored: the instance it names must be
/// registered, and the signature must verify over the payload's exact bytes with that
/// instance's key (a document altered in any byte, or signed by another key, is refused).
/// Each post's version is stored once: importing the same document again stores nothing and
/// answers 200 with the posts under `unchanged`. The figures count from then on in
/// `GET /statistics` (source `submissions`), by post, department (the document's department
/// codes) and nationally.
#[utoipa::path(
    tag = "statistics",
    request_body = SignedDocument,
    responses(
        (status = 201, description = "Imported: the posts stored now, and those already imported", body = ImportReport, headers(("Location" = String, description = "Who submitted the period: `GET /statistics/submissions` for the document's grid and period"))),
        (status = 200, description = "Every post of the document was imported before: nothing changed", body = ImportReport),
        (status = 409, description = "A version of a post was imported before with other figures", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused, naming why: `unreadable` payload, `unknown_instance`, `bad_signature` (altered or signed by another key), `inconsistent` payload", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/statistics/submissions")]
async fn import_statistics_submissions(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(document): Json<SignedDocument>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (importer, reader) = (user.clone(), user.clone());
    let again = document.clone();
    let retryable = Retryable {
        fingerprint: fingerprint("import_statistics_submissions", None, &document),
        record: None,
        work: move |conn: &mut DbConnection| {
            imported(workflows::consolidation::import(
                conn, &importer, &document, now,
            )?)
        },
        // A retry imports nothing more: the same import, read now, lists every post unchanged.
        view: move |conn: &mut DbConnection, _: &str| {
            imported(workflows::consolidation::import(
                conn, &reader, &again, now,
            )?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to an import: 201 if it stored anything, else 200.
fn imported(report: ImportReport) -> Result<Reply, ApiError> {
    let location = format!(
        "/api/v1/statistics/submissions?grid={}&from={}&to={}",
        report.grid, report.from, report.to
    );
    let mut reply = Reply::created(&report.instance, location, &report)?;
    if report.imported.is_empty() {
        reply.status = StatusCode::OK;
    }
    Ok(reply)
}
