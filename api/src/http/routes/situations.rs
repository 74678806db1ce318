//! `/api/v1/situations`: the heart of the record. Social workers open and update situations
//! of their posts; coordinators read them. Evaluations are never part of these answers.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use relais_domain::beneficiary::{Beneficiary, BeneficiaryInput};
use relais_domain::ids::{BeneficiaryId, PostId, SituationId};
use relais_domain::reference::{
    Origin, ProblemCategory, ReferringService, SituationStatus, Standing,
};
use relais_domain::situation::{Situation, SituationDetails, SituationPatch};
use relais_domain::validation::{Invalid, Validation};
use relais_persistence::situations::SituationFilter;
use relais_persistence::{DbConnection, beneficiaries, situations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::beneficiaries::scoped_posts;
use super::common::{cursor_is_id, listed, page_request, page_type, versioned};
use crate::clock::today;
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, Query};
use crate::http::idempotency::{IdempotencyKey, Reply, Retryable, fingerprint, run_once};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows::{
    self,
    situations::{Opened, Person},
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_situation)
        .service(list_situations)
        .service(get_situation)
        .service(update_situation);
}

page_type!(
    SituationPage,
    Situation,
    "A page of situations, newest first."
);

/// A situation to open, with the person: either a new one (`beneficiary`) or one already
/// recorded at the same post (`beneficiary_id`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "post_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b", "opened_on": "2026-03-14", "origin": "police",
    "standing": "victim", "penal": true, "problems": ["conjugal_violence", "housing"],
    "principal_problem": "conjugal_violence",
    "beneficiary": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987, "sex": "female",
                    "commune_code": "07010", "known_to_social_services": "no"}
}))]
pub struct SituationInput {
    /// The post that receives the person; one of your token's posts.
    pub post_id: PostId,
    /// A person already recorded at this post.
    pub beneficiary_id: Option<BeneficiaryId>,
    /// A new person, recorded with the situation.
    pub beneficiary: Option<BeneficiaryInput>,
    #[schema(example = "2026-03-14")]
    pub opened_on: NaiveDate,
    pub origin: Origin,
    /// Required with origin `outside_service`.
    pub referring_service: Option<ReferringService>,
    pub standing: Standing,
    pub penal: bool,
    #[schema(min_items = 1)]
    pub problems: Vec<ProblemCategory>,
    pub principal_problem: ProblemCategory,
    #[schema(maximum = 30)]
    pub children_in_household: Option<u8>,
}

impl SituationInput {
    /// Checks what can be checked before reading the database.
    pub fn validate(&self, today: NaiveDate) -> Result<(), relais_domain::validation::Invalid> {
        let mut v = Validation::new();
        v.require(
            self.beneficiary.is_some() != self.beneficiary_id.is_some(),
            "beneficiary",
            "exactly_one",
            "give either beneficiary (a new person) or beneficiary_id (a person of this post), not both",
        );
        let birth = self
            .beneficiary
            .as_ref()
            .map(relais_domain::beneficiary::BeneficiaryInput::birth)
            .unwrap_or_default();
        if let Some(identity) = &self.beneficiary {
            v.nest("beneficiary", identity.validate(today));
        }
        v.absorb(self.details().validate(today, birth));
        v.finish()
    }

    pub fn details(&self) -> SituationDetails {
        SituationDetails {
            opened_on: self.opened_on,
            origin: self.origin,
            referring_service: self.referring_service,
            standing: self.standing,
            penal: self.penal,
            problems: self.problems.clone(),
            principal_problem: self.principal_problem,
            children_in_household: self.children_in_household,
        }
    }
}

/// A situation with the person it concerns.
#[derive(Debug, Serialize, ToSchema)]
pub struct SituationWithPerson {
    #[serde(flatten)]
    pub situation: Situation,
    pub beneficiary: Beneficiary,
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SituationListParams {
    /// Only this post's situations (one of yours).
    pub post_id: Option<PostId>,
    /// Only this person's situations.
    pub beneficiary_id: Option<BeneficiaryId>,
    pub status: Option<SituationStatus>,
    /// Situations with this problem, principal or not.
    pub problem: Option<ProblemCategory>,
    pub origin: Option<Origin>,
    pub standing: Option<Standing>,
    /// Opened on or after this day.
    #[param(example = "2026-01-01")]
    pub opened_from: Option<NaiveDate>,
    /// Opened on or before this day.
    #[param(example = "2026-12-31")]
    pub opened_to: Option<NaiveDate>,
    /// Most situations to return (1–200, default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

impl SituationInput {
    /// Who the situation is about, as the workflow takes it.
    pub fn person(&self) -> Result<Person<'_>, Invalid> {
        match (self.beneficiary_id, &self.beneficiary) {
            (Some(id), _) => Ok(Person::Known(id)),
            (None, Some(identity)) => Ok(Person::New(identity)),
            (None, None) => Err(Invalid::one(
                "beneficiary",
                "required",
                "give beneficiary or beneficiary_id",
            )),
        }
    }
}

impl From<Opened> for SituationWithPerson {
    fn from(opened: Opened) -> Self {
        Self {
            situation: opened.situation,
            beneficiary: opened.beneficiary,
        }
    }
}

/// Open a situation, recording the person if new.
#[utoipa::path(
    tag = "situations",
    request_body = SituationInput,
    responses(
        (status = 201, description = "The situation with its person, its `Location` and `ETag`", body = SituationWithPerson,
            headers(("Location" = String, description = "URL of the new situation"), ("ETag" = String, description = "Version, for If-Match"))),
    )
)]
#[post("/situations")]
async fn create_situation(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(new): Json<SituationInput>,
) -> Result<HttpResponse, ApiError> {
    workflows::situations::may_open_at(&user, new.post_id)?;
    let now = state.clock.now();
    new.validate(today(now))?;
    let fingerprint = fingerprint("create_situation", None, &new);
    let (opener, reader) = (user.clone(), user.clone());
    let retryable = Retryable {
        fingerprint,
        record: None,
        work: move |conn: &mut DbConnection| {
            let person = new.person()?;
            let opened = workflows::situations::open(
                conn,
                &opener,
                new.post_id,
                person,
                &new.details(),
                now,
            )?;
            let opened = SituationWithPerson::from(opened);
            let id = opened.situation.id;
            Reply::created(id, format!("/api/v1/situations/{id}"), &opened)
        },
        view: move |conn: &mut DbConnection, id: &str| {
            let id: SituationId = id
                .parse()
                .map_err(|e| ApiError::Internal(format!("a stored situation id: {e}")))?;
            let found = situation_with_person(conn, &reader, id)?;
            Reply::created(id, format!("/api/v1/situations/{id}"), &found)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// List situations of your posts, filtered. Never includes evaluations.
#[utoipa::path(
    tag = "situations",
    params(SituationListParams),
    responses((status = 200, description = "A page of situations", body = SituationPage))
)]
#[get("/situations")]
async fn list_situations(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<SituationListParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = SituationFilter {
        posts: scoped_posts(&user, params.post_id)?,
        beneficiary: params.beneficiary_id,
        status: params.status,
        problem: params.problem,
        origin: params.origin,
        standing: params.standing,
        opened_from: params.opened_from,
        opened_to: params.opened_to,
    };
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(situations::list(conn, &filter, &page)?))
        .await?;
    let shows = found.items.iter().map(|s| s.id.to_string()).collect();
    Ok(listed(&SituationPage::from(found), shows))
}

/// Read a situation with its person.
#[utoipa::path(
    tag = "situations",
    params(("id" = SituationId, Path, description = "The situation's id")),
    responses(
        (status = 200, description = "The situation with its person, and its `ETag`", body = SituationWithPerson, headers(("ETag" = String))),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/situations/{id}")]
async fn get_situation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state
        .read(move |conn| situation_with_person(conn, &user, id))
        .await?;
    Ok(versioned(found.situation.meta.version, &found))
}

/// The situation with its person, if the caller may read it: what `GET /situations/{id}` serves.
pub fn situation_with_person(
    conn: &mut DbConnection,
    user: &CurrentUser,
    id: SituationId,
) -> Result<SituationWithPerson, ApiError> {
    let situation = workflows::situations::readable(conn, user, id)?;
    let beneficiary = beneficiaries::get(conn, situation.beneficiary_id)?;
    Ok(SituationWithPerson {
        situation,
        beneficiary,
    })
}

/// Update a situation: change what it says, orient it, close it with a reason, or reopen it.
#[utoipa::path(
    tag = "situations",
    params(
        ("id" = SituationId, Path, description = "The situation's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    request_body(content = SituationPatch, example = json!({"status": "closed", "closing_reason": "needs_met"})),
    responses(
        (status = 200, description = "The situation as updated, with its new `ETag`", body = Situation, headers(("ETag" = String))),
        (status = 404, description = "No such situation within your posts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The situation was anonymised with its person", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The situation changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/situations/{id}")]
async fn update_situation(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<SituationId>,
    IfMatch(version): IfMatch,
    Json(patch): Json<SituationPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let updated = state
        .write(user.ticket(), move |conn, _| {
            Ok(workflows::situations::update(
                conn, &user, id, &version, &patch, now,
            )?)
        })
        .await?;
    Ok(versioned(updated.meta.version, &updated))
}
