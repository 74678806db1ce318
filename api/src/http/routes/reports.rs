//! `/api/v1/reports/activity`: a post's yearly activity report as a printable HTML page.

use actix_web::http::header;
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
use crate::report::{Span, Subject};

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

/// A post's yearly activity report: key figures, change on the previous year, every indicator.
///
/// One self-contained French HTML page, printable: the key figures with their change on the
/// previous year, then every indicator of the grid with a table of its values and a bar chart.
/// Served with a Content-Security-Policy that allows its one stylesheet by hash. A year not over
/// stops at today and is compared with the same days of the previous year; a year not begun is
/// refused (422, field `year`).
#[utoipa::path(
    tag = "statistics",
    params(ReportParams),
    responses(
        (status = 200, description = "A self-contained French HTML page",
            headers(("Content-Security-Policy" = String, description = "`default-src 'none'; style-src 'sha256-…'; …`: the page's one stylesheet, by the hash of its bytes, and nothing else")),
            content_type = "text/html", body = String, example = "<!DOCTYPE html>\n<html lang=\"fr\">…</html>"),
        (status = 404, description = "No such post within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The year has not begun, or no grid version applies to it", body = Problem, content_type = "application/problem+json"),
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
    let today = state.clock.now().date_naive();
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| ApiError::invalid("year", "out_of_range", "no such year"))
    };
    let (from, end) = (day(year, 1, 1)?, day(year, 12, 31)?);
    // A year not begun has no report yet: 422 like any period the grid cannot be computed
    // over (404 here means the post is not within reach).
    if from > today {
        return Err(ApiError::invalid(
            "year",
            "in_future",
            format!("{year} has not begun: its report can be made from 1 January {year}"),
        ));
    }
    // A year not over stops today, and is compared with the same days of the previous year.
    let partial = end > today;
    let to = if partial { today } else { end };
    let previous_from = day(year - 1, 1, 1)?;
    let previous_to = crate::report::a_year_before(to)
        .ok_or_else(|| ApiError::invalid("year", "out_of_range", "no such year"))?;
    let grid = choose_grid(&state, None, from)?;
    let scope = StatScope::Posts(vec![post_id]);
    let current = compute(&state, grid, from, to, scope.clone()).await?;
    // Last year is read with the same grid, so that the comparison compares like with like.
    let previous = compute(&state, grid, previous_from, previous_to, scope).await?;
    let subject = Subject {
        name: post.details.name.clone(),
        details: format!(
            "département {}, {}",
            post.details.department_code, post.details.employer
        ),
    };
    let span = Span {
        year,
        as_of: to,
        partial,
        generated_on: today,
    };
    let html = crate::report::render(&subject, &span, &current, &previous);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            crate::report::content_security_policy(),
        ))
        .body(html))
}
