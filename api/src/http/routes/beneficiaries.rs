//! `/api/v1/beneficiaries`: the people received. They are recorded with their first situation;
//! here their post's social workers read them, rectify their identity and, on the person's
//! request, erase it (right to erasure).

use actix_web::{HttpResponse, delete, get, put, web};
use relais_domain::beneficiary::{Beneficiary, BeneficiaryInput};
use relais_domain::ids::{BeneficiaryId, PostId};
use relais_persistence::beneficiaries;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::common::{cursor_is_id, listed, page_request, page_type, versioned};
use super::record_export::{Recipient, RecordExport, export_of};
use crate::clock::today;
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_beneficiaries)
        .service(get_beneficiary)
        .service(replace_beneficiary)
        .service(export_beneficiary)
        .service(erase_beneficiary);
}

page_type!(
    BeneficiaryPage,
    Beneficiary,
    "A page of people, newest first."
);

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BeneficiaryListParams {
    /// Only the people of this post (one of yours).
    pub post_id: Option<PostId>,
    /// Most people to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// The posts a list may cover: the one asked for if it is the caller's, else all the caller's.
pub fn scoped_posts(user: &CurrentUser, asked: Option<PostId>) -> Result<Vec<PostId>, ApiError> {
    match asked {
        Some(post) if user.can_read_cases(post) => Ok(vec![post]),
        Some(_) => Err(ApiError::Forbidden("that post is not one of yours".into())),
        None => Ok(user.readable_case_posts().to_vec()),
    }
}

/// List the people of your posts.
#[utoipa::path(
    tag = "beneficiaries",
    params(BeneficiaryListParams),
    responses((status = 200, description = "A page of people", body = BeneficiaryPage))
)]
#[get("/beneficiaries")]
async fn list_beneficiaries(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<BeneficiaryListParams>,
) -> Result<HttpResponse, ApiError> {
    let posts = scoped_posts(&user, params.post_id)?;
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(beneficiaries::list(conn, &posts, &page)?))
        .await?;
    let shows = found.items.iter().map(|p| p.id.to_string()).collect();
    Ok(listed(&BeneficiaryPage::from(found), shows))
}

/// Read a person.
#[utoipa::path(
    tag = "beneficiaries",
    params(("id" = BeneficiaryId, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The person, with the `ETag`", body = Beneficiary, headers(("ETag" = String))),
        (status = 404, description = "No such person within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/beneficiaries/{id}")]
async fn get_beneficiary(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<BeneficiaryId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let person = state
        .read(move |conn| Ok(workflows::beneficiaries::readable(conn, &user, id)?))
        .await?;
    Ok(versioned(person.meta.version, &person))
}

/// Rectify a person's identity (the whole identity is replaced).
#[utoipa::path(
    tag = "beneficiaries",
    params(
        ("id" = BeneficiaryId, Path, description = "The person's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body(content = BeneficiaryInput, example = json!({
        "first_name": "Camille", "last_name": "Martin", "birth_year": 1987, "sex": "female",
        "commune_code": "07010", "known_to_social_services": "no"
    })),
    responses(
        (status = 200, description = "The person as rectified, with the new `ETag`", body = Beneficiary, headers(("ETag" = String))),
        (status = 404, description = "No such person within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person was anonymised", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The record changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/beneficiaries/{id}")]
async fn replace_beneficiary(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<BeneficiaryId>,
    IfMatch(version): IfMatch,
    Json(input): Json<BeneficiaryInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    input.validate(today(now))?;
    let person = state
        .write(user.ticket(), move |conn, _| {
            Ok(workflows::beneficiaries::rectify(
                conn, &user, id, &version, &input, now,
            )?)
        })
        .await?;
    Ok(versioned(person.meta.version, &person))
}

/// Everything held on a person, as one document: their right of access (GDPR article 15).
/// It carries the trail of who accessed their records; the export itself is audited.
#[utoipa::path(
    tag = "beneficiaries",
    params(("id" = BeneficiaryId, Path, description = "The person's id")),
    responses(
        (status = 200, description = "Everything held on the person", body = RecordExport),
        (status = 404, description = "No such person within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/beneficiaries/{id}/export")]
async fn export_beneficiary(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<BeneficiaryId>,
) -> Result<web::Json<RecordExport>, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let export = state
        .read(move |conn| {
            let person = workflows::beneficiaries::readable(conn, &user, id)?;
            export_of(conn, person, Recipient::ThePerson, now)
        })
        .await?;
    Ok(web::Json(export))
}

/// Erase a person (right to erasure): anonymise them now, where the law allows.
///
/// The person's identity (names, phone, birth, commune), the evaluations of their situations,
/// the free text of their hand-offs and the identity and reason of the referrals about them
/// are removed; what the statistics count (sex, whether known to social services, the
/// situations' codes and dates, the age at each opening, interventions, hand-off statuses)
/// stays, so published figures do not change. The record remains, marked `anonymised_at`.
///
/// Refused (409) while a hand-off of the person is sent, received or accepted: the partner is
/// working from what the person agreed to share, and erasing it here would not reach the
/// partner's copy. Cancel the hand-off (consent withdrawn) or wait for its outcome first.
/// Erasing an anonymised person again changes nothing.
#[utoipa::path(
    tag = "beneficiaries",
    params(
        ("id" = BeneficiaryId, Path, description = "The person's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The person as anonymised, with the new `ETag`", body = Beneficiary, headers(("ETag" = String)),
            example = json!({
                "id": "01936b2e-7c4a-7f00-8000-000000000001", "post_id": "01936b2e-7c4a-7f00-8000-0000000000aa",
                "first_name": null, "last_name": null, "birth_date": null, "birth_year": null, "sex": "female",
                "commune_code": null, "phone": null, "known_to_social_services": "no",
                "anonymised_at": "2026-03-14T10:42:07.512345Z",
                "created_at": "2026-01-05T09:12:00Z", "updated_at": "2026-03-14T10:42:07.512345Z", "version": 3
            })),
        (status = 403, description = "Only the social workers of the person's post erase", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such person within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A hand-off of the person is in progress", body = Problem, content_type = "application/problem+json",
            example = json!({
                "type": "/problems/conflict", "title": "The request conflicts with the stored state",
                "status": 409,
                "detail": "the person cannot be erased while a hand-off of theirs is in progress (sent, received or accepted): the partner is working from the data the person agreed to share; cancel the hand-off or wait for its outcome, then erase",
                "request_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
            })),
        (status = 412, description = "The record changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/beneficiaries/{id}")]
async fn erase_beneficiary(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<BeneficiaryId>,
    IfMatch(version): IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let person = state
        .write(user.ticket(), move |conn, _| {
            Ok(workflows::beneficiaries::erase(
                conn, &user, id, &version, now,
            )?)
        })
        .await?;
    Ok(versioned(person.meta.version, &person))
}
