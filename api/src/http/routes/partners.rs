//! `/api/v1/partners`: the directory of organisations a situation can be handed to.
//! Administrators manage it; social workers and coordinators search it.

use actix_web::{HttpResponse, get, post, put, web};
use relais_domain::ids::PartnerId;
use relais_domain::partner::{Partner, PartnerInput};
use relais_domain::reference::{CodeList, PartnerKind, ProblemCategory, Role};
use relais_domain::validation::{is_commune_code, is_department_code};
use relais_persistence::DbConnection;
use relais_persistence::partners::{self, PartnerFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
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
    cfg.service(create_partner)
        .service(list_partners)
        .service(export_partners_hsds)
        .service(get_partner)
        .service(replace_partner);
}

page_type!(PartnerPage, Partner, "A page of partners, newest first.");

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerListParams {
    pub kind: Option<PartnerKind>,
    /// Partners helping with this problem.
    pub theme: Option<ProblemCategory>,
    /// Partners serving this commune (INSEE code).
    #[validate(custom(function = "commune_code_is_insee"))]
    #[param(
        example = "07186",
        pattern = r"^((0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5])[0-9]{3}|97[1-6][0-9]{2})$"
    )]
    pub commune_code: Option<String>,
    /// Partners serving this department (INSEE code).
    #[validate(custom(function = "department_code_is_insee"))]
    #[param(
        example = "07",
        pattern = r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$"
    )]
    pub department_code: Option<String>,
    /// Most partners to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

// The codes are matched with LIKE: anything but a code (a `%`, a `_`) would widen the search.
fn commune_code_is_insee(code: &str) -> Result<(), validator::ValidationError> {
    is_commune_code(code).then_some(()).ok_or_else(|| {
        validator::ValidationError::new("invalid_commune")
            .with_message("must be an INSEE commune code, such as 07186".into())
    })
}

fn department_code_is_insee(code: &str) -> Result<(), validator::ValidationError> {
    is_department_code(code).then_some(()).ok_or_else(|| {
        validator::ValidationError::new("invalid_department")
            .with_message("must be an INSEE department code, such as 07 or 2A".into())
    })
}

/// Add a partner to the directory.
#[utoipa::path(
    tag = "partners",
    request_body(content = PartnerInput, example = json!({
        "name": "CCAS de Privas", "kind": "ccas", "siret": "21070186000015", "department_codes": ["07"],
        "commune_codes": ["07186"], "themes": ["precarity", "housing", "access_to_rights"],
        "email": "accueil@ccas-privas.fr", "phone": "04 75 00 00 00"
    })),
    responses(
        (status = 201, description = "The partner, with its `Location` and `ETag`", body = Partner,
            headers(("Location" = String, description = "URL of the new partner"), ("ETag" = String, description = "Version, for If-Match"))),
    )
)]
#[post("/partners")]
async fn create_partner(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let retryable = Retryable {
        fingerprint: fingerprint("create_partner", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| created_partner(partners::insert(conn, &input)?),
        view: |conn: &mut DbConnection, id: &str| {
            created_partner(partners::get(conn, stored_id(id)?)?)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `create_partner`, first or retried.
fn created_partner(partner: Partner) -> Result<Reply, ApiError> {
    let location = format!("/api/v1/partners/{}", partner.id);
    Reply::created(partner.id, location, &partner)
}

/// Search the directory by kind, theme and territory.
#[utoipa::path(
    tag = "partners",
    params(PartnerListParams),
    responses((status = 200, description = "A page of partners", body = PartnerPage))
)]
#[get("/partners")]
async fn list_partners(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<PartnerListParams>,
) -> Result<web::Json<PartnerPage>, ApiError> {
    search(&state, &user, params).await.map(web::Json)
}

async fn search(
    state: &AppState,
    _user: &CurrentUser,
    params: PartnerListParams,
) -> Result<PartnerPage, ApiError> {
    let filter = PartnerFilter {
        kind: params.kind,
        theme: params.theme,
        commune_code: params.commune_code,
        department_code: params.department_code,
    };
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(partners::list(conn, &filter, &page)?))
        .await?;
    Ok(found.into())
}

/// Read a partner. A partner system may read its own record.
#[utoipa::path(
    tag = "partners",
    params(("id" = PartnerId, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner, with its `ETag`", body = Partner, headers(("ETag" = String))),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/partners/{id}")]
async fn get_partner(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PartnerId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // A partner system reads its own entry only; the matrix lets the others read the directory.
    if user.role == Role::Partner && user.partner_id != Some(id) {
        return Err(ApiError::NotFound("no such partner".into()));
    }
    let partner = state.read(move |conn| Ok(partners::get(conn, id)?)).await?;
    Ok(versioned(partner.meta.version, &partner))
}

/// Replace a partner's description.
#[utoipa::path(
    tag = "partners",
    params(
        ("id" = PartnerId, Path, description = "The partner's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body = PartnerInput,
    responses(
        (status = 200, description = "The partner as replaced, with its new `ETag`", body = Partner, headers(("ETag" = String))),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The partner changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/partners/{id}")]
async fn replace_partner(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PartnerId>,
    if_match: IfMatch,
    Json(input): Json<PartnerInput>,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let id = id.into_inner();
    let partner = state
        .write(user.ticket(), move |conn, _| {
            let version = if_match.admitted(partners::get(conn, id)?.meta.version)?;
            Ok(partners::replace(conn, id, version, &input)?)
        })
        .await?;
    Ok(versioned(partner.meta.version, &partner))
}

/// An organisation in the Open Referral HSDS 3 shape (the fields Relais knows).
#[derive(Debug, Serialize, ToSchema)]
pub struct HsdsOrganization {
    pub id: String,
    pub name: String,
    pub description: String,
    pub email: Option<String>,
    /// SIRET, as HSDS `tax_id`.
    pub tax_id: Option<String>,
    pub phones: Vec<HsdsPhone>,
    pub services: Vec<HsdsService>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HsdsPhone {
    #[schema(example = "04 75 00 00 00")]
    pub number: String,
}

/// One service per theme, as HSDS services with the theme as their name.
#[derive(Debug, Serialize, ToSchema)]
pub struct HsdsService {
    #[schema(example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b-precarity")]
    pub id: String,
    #[schema(example = "Précarité, difficultés financières")]
    pub name: String,
    #[schema(example = "active")]
    pub status: &'static str,
    /// data·inclusion-style theme code.
    #[schema(example = "precarity")]
    pub description: String,
}

impl From<Partner> for HsdsOrganization {
    fn from(partner: Partner) -> Self {
        let d = partner.details;
        HsdsOrganization {
            id: partner.id.to_string(),
            description: format!(
                "{} — départements {}",
                d.kind.label_fr(),
                d.department_codes.join(", ")
            ),
            name: d.name,
            email: d.email,
            tax_id: d.siret,
            phones: d
                .phone
                .into_iter()
                .map(|number| HsdsPhone { number })
                .collect(),
            services: d
                .themes
                .iter()
                .map(|theme| HsdsService {
                    id: format!("{}-{}", partner.id, theme.code()),
                    name: theme.label_fr().to_owned(),
                    status: "active",
                    description: theme.code().to_owned(),
                })
                .collect(),
        }
    }
}

/// Export directory entries as Open Referral HSDS organisations (same filters as the search).
#[utoipa::path(
    tag = "partners",
    params(PartnerListParams),
    responses((status = 200, description = "The page's partners as HSDS organisations", body = Vec<HsdsOrganization>))
)]
#[get("/partners/export/hsds")]
async fn export_partners_hsds(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<PartnerListParams>,
) -> Result<web::Json<Vec<HsdsOrganization>>, ApiError> {
    let page = search(&state, &user, params).await?;
    Ok(web::Json(
        page.items.into_iter().map(HsdsOrganization::from).collect(),
    ))
}
