//! `/api/v1/statistics`: the national grid over a period and a scope, as JSON or CSV.
//! The observatory reads every scope; coordinators their posts; social workers their post.
//! Statistics never carry an identity.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use relais_domain::grid::Grid;
use relais_domain::ids::PostId;
use relais_domain::reference::Role;
use relais_domain::statistics::{Statistics, assemble};
use relais_domain::validation::is_department_code;
use relais_persistence::statistics::{self, StatScope};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_statistics);
}

/// The longest period one request may cover.
const MAX_PERIOD_DAYS: i64 = 366 * 5;

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsParams {
    /// Grid version; default: the version in force on `from`.
    #[param(example = "2026")]
    pub grid: Option<String>,
    /// First day of the period.
    #[param(example = "2026-01-01")]
    pub from: NaiveDate,
    /// Last day of the period (included).
    #[param(example = "2026-12-31")]
    pub to: NaiveDate,
    /// One post (yours, unless you are the observatory).
    pub post_id: Option<PostId>,
    /// A department (observatory only).
    #[validate(length(min = 2, max = 3))]
    #[param(example = "07")]
    pub department: Option<String>,
}

/// The scope the caller asked for, if the caller may read it.
fn scope_for(
    user: &CurrentUser,
    post: Option<PostId>,
    department: Option<&str>,
) -> Result<StatScope, ApiError> {
    if post.is_some() && department.is_some() {
        return Err(ApiError::bad_field(
            "department",
            "give post_id or department, not both",
        ));
    }
    if let Some(code) = department
        && !is_department_code(code)
    {
        return Err(ApiError::bad_field(
            "department",
            "must be an INSEE department code",
        ));
    }
    match (user.role, post, department) {
        (Role::Statistics, Some(post), _) => Ok(StatScope::Posts(vec![post])),
        (Role::Statistics, None, Some(code)) => Ok(StatScope::Department(code.to_owned())),
        (Role::Statistics, None, None) => Ok(StatScope::National),
        (Role::SocialWorker | Role::Coordinator, _, Some(_)) => Err(ApiError::Forbidden(
            "departmental and national statistics are the observatory's".into(),
        )),
        (Role::SocialWorker | Role::Coordinator, Some(post), None) if user.can_read_cases(post) => {
            Ok(StatScope::Posts(vec![post]))
        }
        (Role::SocialWorker | Role::Coordinator, Some(_), None) => {
            Err(ApiError::Forbidden("that post is not one of yours".into()))
        }
        (Role::SocialWorker | Role::Coordinator, None, None) => {
            Ok(StatScope::Posts(user.readable_case_posts().to_vec()))
        }
        (role, _, _) => Err(ApiError::Forbidden(format!(
            "the role {role} does not read statistics"
        ))),
    }
}

fn scope_label(scope: &StatScope) -> String {
    match scope {
        StatScope::National => "national".into(),
        StatScope::Department(code) => format!("department:{code}"),
        StatScope::Posts(posts) => {
            format!(
                "posts:{}",
                posts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

/// Picks the grid: the version asked for, or the one in force at the start of the period.
pub fn choose_grid<'a>(
    state: &'a AppState,
    version: Option<&str>,
    from: NaiveDate,
) -> Result<&'a Grid, ApiError> {
    let known = || state.grids.versions().join(", ");
    match version {
        Some(version) => state.grids.version(version).ok_or_else(|| {
            ApiError::invalid(
                "grid",
                "unknown_grid",
                format!("no grid version {version:?}; known: {}", known()),
            )
        }),
        None => state.grids.in_force(from).ok_or_else(|| {
            ApiError::invalid(
                "from",
                "no_grid",
                format!("no grid version is in force on {from}; known: {}", known()),
            )
        }),
    }
}

/// Computes a grid over a period and a scope (shared with the activity report).
pub async fn compute(
    state: &AppState,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: StatScope,
) -> Result<Statistics, ApiError> {
    let label = scope_label(&scope);
    let owned = grid.clone();
    let rows = state
        .read_aggregate(move |conn| statistics::compute(conn, &owned, from, to, &scope))
        .await?;
    let raw: Vec<_> = rows.into_iter().map(|r| (r.indicator, r.k, r.n)).collect();
    Ok(assemble(grid, from, to, label, &raw))
}

/// Checks a period: in order, and not longer than five years.
pub fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    if to < from {
        return Err(ApiError::invalid(
            "to",
            "before_from",
            "must not be before from",
        ));
    }
    if (to - from).num_days() > MAX_PERIOD_DAYS {
        return Err(ApiError::invalid(
            "to",
            "too_long",
            "a period covers five years at most",
        ));
    }
    Ok(())
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// The statistics as a CSV file: UTF-8 with a byte-order mark and `;` separators, as French
/// spreadsheets expect; one row per indicator total and one per value.
pub fn to_csv(stats: &Statistics) -> Result<Vec<u8>, ApiError> {
    let fail = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(vec![0xEF, 0xBB, 0xBF]);
    writer
        .write_record([
            "indicateur",
            "libellé de l'indicateur",
            "modalité",
            "libellé de la modalité",
            "effectif",
        ])
        .map_err(fail)?;
    for indicator in &stats.indicators {
        writer
            .write_record([
                &indicator.id,
                &indicator.label,
                "total",
                "Total",
                &indicator.total.to_string(),
            ])
            .map_err(fail)?;
        for value in &indicator.values {
            writer
                .write_record([
                    &indicator.id,
                    &indicator.label,
                    &value.key,
                    &value.label,
                    &value.count.to_string(),
                ])
                .map_err(fail)?;
        }
    }
    writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("csv: {e}")))
}

/// The statistics grid over a period and a scope (JSON, or CSV with `Accept: text/csv`).
#[utoipa::path(
    tag = "statistics",
    params(StatisticsParams),
    responses(
        (status = 200, description = "Every indicator of the grid", content(
            (Statistics = "application/json"),
            (String = "text/csv", example = "indicateur;libellé de l'indicateur;modalité;libellé de la modalité;effectif\npersons;Nombre de personnes reçues;total;Total;512\n"),
        )),
        (status = 422, description = "The period is reversed or longer than five years, or no grid version applies to it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/statistics")]
async fn get_statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    Query(params): Query<StatisticsParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope_for(&user, params.post_id, params.department.as_deref())?;
    check_period(params.from, params.to)?;
    let grid = choose_grid(&state, params.grid.as_deref(), params.from)?;
    let stats = compute(&state, grid, params.from, params.to, scope).await?;
    if wants_csv(&req) {
        let file = format!(
            "attachment; filename=\"statistiques-{}-{}-{}.csv\"",
            stats.grid, stats.from, stats.to
        );
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, file))
            .body(to_csv(&stats)?))
    } else {
        Ok(HttpResponse::Ok().json(stats))
    }
}
