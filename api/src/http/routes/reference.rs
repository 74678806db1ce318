//! `/api/v1/reference` and `/health`: what any client may read without a token.

use std::borrow::Cow;
use std::sync::OnceLock;

use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse, get, web};
use relais_domain::reference::LISTS;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure_api(cfg: &mut ServiceConfig) {
    cfg.service(get_reference);
}

pub fn configure_root(cfg: &mut ServiceConfig) {
    cfg.service(get_health);
}

/// How long a client may keep the lists without asking again: they change only with a release.
const MAX_AGE_SECONDS: u32 = 86_400;

/// Every code list of the domain, by name: each code with its French label. Its schema names
/// each list and the schema of its codes, written from `relais_domain::reference::LISTS`.
#[derive(Debug, Serialize)]
pub struct Reference(Map<String, Value>);

impl Reference {
    fn served() -> Self {
        Reference(
            LISTS
                .iter()
                .map(|list| (list.list.to_owned(), json!((list.entries)())))
                .collect(),
        )
    }
}

impl PartialSchema for Reference {
    fn schema() -> RefOr<Schema> {
        let properties: Map<String, Value> = LISTS
            .iter()
            .map(|list| {
                let entry = json!({
                    "type": "object",
                    "required": ["code", "label"],
                    "additionalProperties": false,
                    "properties": {
                        "code": {"$ref": format!("#/components/schemas/{}", list.type_name)},
                        "label": {"type": "string", "description": "The French label, for people."},
                    },
                });
                let schema = json!({
                    "type": "array",
                    "description": format!("Codes of `{}`, in display order.", list.type_name),
                    "items": entry,
                });
                (list.list.to_owned(), schema)
            })
            .collect();
        let names: Vec<&str> = LISTS.iter().map(|l| l.list).collect();
        crate::http::openapi::schema_from_json(json!({
            "type": "object",
            "description": "Every code list of the API, by name. A code is never renamed nor removed once published.",
            "required": names,
            "additionalProperties": false,
            "properties": properties,
            "example": Reference::served().0,
        }))
    }
}

impl ToSchema for Reference {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Reference")
    }
}

/// The served body and its entity tag, computed once: the lists are constants of the build.
fn body_and_tag() -> &'static (Vec<u8>, EntityTag) {
    static SERVED: OnceLock<(Vec<u8>, EntityTag)> = OnceLock::new();
    SERVED.get_or_init(|| {
        let body = serde_json::to_vec(&Reference::served()).unwrap_or_default();
        let digest = Sha256::digest(&body);
        let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        (body, EntityTag::new_strong(tag))
    })
}

/// The reference lists (problem categories, origins, statuses, decline reasons…) with French
/// labels: every code list of the API. Cacheable: `ETag` and `Cache-Control: max-age`; a
/// request with `If-None-Match` naming the current tag is answered 304 without a body.
#[utoipa::path(
    tag = "reference",
    responses(
        (status = 200, description = "Every list, keyed by its name", body = Reference,
         headers(
             ("ETag" = String, description = "The lists' version; send it back as `If-None-Match`"),
             ("Cache-Control" = String, description = "`public, max-age=86400`: the lists change only with a release"),
         )),
        (status = 304, description = "The lists have not changed since the `If-None-Match` tag"),
    )
)]
#[get("/reference")]
async fn get_reference(request: HttpRequest) -> HttpResponse {
    let (body, tag) = body_and_tag();
    let cache = (
        header::CACHE_CONTROL,
        format!("public, max-age={MAX_AGE_SECONDS}"),
    );
    let fresh = match request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        // RFC 9110 §13.1.2: `*` or a list; compared weakly.
        Some(value) => value.trim() == "*" || matches_any(value, tag),
        None => false,
    };
    if fresh {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tag.to_string()))
            .insert_header(cache)
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, tag.to_string()))
        .insert_header(cache)
        .content_type("application/json")
        .body(body.clone())
}

/// Whether one of the tags of an `If-None-Match` list matches `tag` weakly (RFC 9110 §13.1.2).
fn matches_any(value: &str, tag: &EntityTag) -> bool {
    value
        .split(',')
        .filter_map(|t| t.trim().parse::<EntityTag>().ok())
        .any(|t| t.weak_eq(tag))
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
