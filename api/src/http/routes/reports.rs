//! `/api/v1/reports/activity`: a post's yearly activity report as a printable HTML page.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use relais_domain::ids::PostId;
use relais_domain::reference::Role;
use relais_persistence::posts;
use relais_persistence::statistics::StatScope;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::statistics::{choose_grid, compute};
use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_activity_report);
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    #[validate(range(min = 2000, max = 2100))]
    #[param(example = 2025, minimum = 2000, maximum = 2100)]
    pub year: i32,
    pub post_id: PostId,
}

/// A post's yearly activity report: key figures, change on the previous year, charts.
#[utoipa::path(
    tag = "statistics",
    params(ReportParams),
    responses(
        (status = 200, description = "A self-contained French HTML page", content_type = "text/html",
            body = String, example = "<!DOCTYPE html>\n<html lang=\"fr\">…</html>"),
        (status = 404, description = "No such post within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No grid version applies to that year", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/activity")]
async fn get_activity_report(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let post_id = params.post_id;
    let allowed = match user.role {
        Role::Statistics => true,
        Role::SocialWorker | Role::Coordinator => user.can_read_cases(post_id),
        role => {
            return Err(ApiError::Forbidden(format!(
                "the role {role} does not read activity reports"
            )));
        }
    };
    if !allowed {
        return Err(ApiError::Forbidden("that post is not one of yours".into()));
    }
    let post = state
        .read(move |conn| Ok(posts::get(conn, post_id)?))
        .await?;
    let year = params.year;
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| ApiError::invalid("year", "out_of_range", "no such year"))
    };
    let (from, to) = (day(year, 1, 1)?, day(year, 12, 31)?);
    let (previous_from, previous_to) = (day(year - 1, 1, 1)?, day(year - 1, 12, 31)?);
    let grid = choose_grid(&state, None, from)?;
    let scope = StatScope::Posts(vec![post_id]);
    let current = compute(&state, grid, from, to, scope.clone()).await?;
    // Last year is read with the same grid, so that the comparison compares like with like.
    let previous = compute(&state, grid, previous_from, previous_to, scope).await?;
    let today = state
        .clock
        .now()
        .date_naive()
        .format("%d/%m/%Y")
        .to_string();
    let html = crate::report::render(&post, year, &current, &previous, &today)
        .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}
