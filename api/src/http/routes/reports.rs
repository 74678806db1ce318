//! `/api/v1/reports/activity`: the yearly activity report of a post, of a coordinator's posts or
//! of a department, as a printable HTML page. Who reads which scope is the statistics' rule.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::{Datelike, NaiveDate};
use relais_domain::ids::PostId;
use relais_persistence::posts;
use relais_persistence::statistics::StatScope;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::statistics::{
    Source, choose_grid, compute_for, default_source, scope_for, wider_than_own_posts,
};
use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::report::{Coverage, Span, Subject};

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
    /// One post (yours, unless you are the observatory). Without it nor `department`: all your
    /// posts (the whole country for the observatory).
    pub post_id: Option<PostId>,
    /// A department (observatory only).
    #[validate(length(min = 2, max = 3))]
    #[param(example = "07")]
    pub department: Option<String>,
    /// `submissions`: the figures the posts of the scope submitted for exactly the report's
    /// period (the page says how many did, and names those that did not); `live`: counted from
    /// the cases now. Default: `submissions` for the observatory, `live` for a post's staff.
    #[param(inline)]
    pub source: Option<Source>,
}

/// Which posts of the scope submitted their figures for the period, and which did not.
async fn coverage_of(
    state: &AppState,
    grid: &relais_domain::grid::Grid,
    (from, to): (NaiveDate, NaiveDate),
    scope: StatScope,
) -> Result<Coverage, ApiError> {
    let grid = grid.clone();
    let found = state
        .read_aggregate(move |conn| {
            super::submissions::from_submissions(conn, &grid, from, to, &scope)
        })
        .await?;
    let named = |posts: &[super::submissions::SubmittedPost]| {
        posts
            .iter()
            .map(|p| format!("{} ({})", p.post_name, p.department_code))
            .collect::<Vec<_>>()
    };
    Ok(Coverage {
        submitted: named(&found.posts.submitted),
        missing: named(&found.posts.missing),
    })
}

/// Whose activity the report is about, in words, from its scope.
async fn subject_of(state: &AppState, scope: &StatScope) -> Result<Subject, ApiError> {
    Ok(match scope {
        StatScope::National => Subject {
            name: "Ensemble des postes".into(),
            details: "National".into(),
        },
        StatScope::Department(code) => Subject {
            name: format!("Département {code}"),
            details: "Ensemble des postes du département".into(),
        },
        StatScope::Posts(ids) => {
            let ids = ids.clone();
            let mut found = state
                .read(move |conn| {
                    ids.iter()
                        .map(|id| Ok(posts::get(conn, *id)?))
                        .collect::<Result<Vec<_>, ApiError>>()
                })
                .await?;
            found.sort_by(|a, b| (&a.details.name, a.id).cmp(&(&b.details.name, b.id)));
            match found.as_slice() {
                [post] => Subject {
                    name: post.details.name.clone(),
                    details: format!(
                        "département {}, {}",
                        post.details.department_code, post.details.employer
                    ),
                },
                posts => Subject {
                    name: format!("{} postes", posts.len()),
                    details: posts
                        .iter()
                        .map(|p| format!("{} ({})", p.details.name, p.details.department_code))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            }
        }
    })
}

/// The yearly activity report of a post, of your posts or of a department.
///
/// `post_id` names a post, `department` a department (the observatory's); with neither, the
/// report covers all the caller's posts (a coordinator's several posts), or the whole country
/// for the observatory. One self-contained French HTML page, printable: the key figures with their change on the
/// previous year, then every indicator of the grid with a table of its values and a bar chart.
/// Served with a Content-Security-Policy that allows its one stylesheet by hash. A year not over
/// stops at today and is compared with the same days of the previous year; a year not begun is
/// refused (422, field `year`). Over a scope wider than the caller's own posts (the observatory's
/// department or country), disclosure control applies as in `GET /statistics`: counts under the
/// grid's `k` read `<5`, and a year not over stops at the end of its last whole month (in
/// January, 422 `not_whole_months`).
#[utoipa::path(
    tag = "statistics",
    params(ReportParams),
    responses(
        (status = 200, description = "A self-contained French HTML page",
            headers(("Content-Security-Policy" = String, description = "`default-src 'none'; style-src 'sha256-…'; …`: the page's one stylesheet, by the hash of its bytes, and nothing else")),
            content_type = "text/html", body = String, example = "<!DOCTYPE html>\n<html lang=\"fr\">…</html>"),
        (status = 400, description = "Both `post_id` and `department`, or a department code that is not one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such post within your reach", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The year has not begun, or no grid version applies to it, or (a scope wider than your own posts) its first month is not over", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/activity")]
async fn get_activity_report(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope_for(&user, params.post_id, params.department.as_deref())?;
    let subject = subject_of(&state, &scope).await?;
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
    // A year not over stops today, and is compared with the same days of the previous year;
    // over a scope wider than the caller's posts, at the end of the last whole month (wider
    // scopes read whole months, so that overlapping periods cannot be differenced).
    let wider = wider_than_own_posts(&user, &scope);
    let partial = end > today;
    let to = match (partial, wider) {
        (false, _) => end,
        (true, false) => today,
        (true, true) => {
            let last_month_end = today.with_day(1).and_then(|first| first.pred_opt());
            match last_month_end {
                Some(last) if last >= from => last,
                _ => {
                    return Err(ApiError::invalid(
                        "year",
                        "not_whole_months",
                        format!(
                            "the report of a scope wider than your own posts covers whole months: \
                             that of {year} can be made from 1 February {year}"
                        ),
                    ));
                }
            }
        }
    };
    let previous_from = day(year - 1, 1, 1)?;
    // Whole months stay whole a year before (28 February 2029 → 29 February 2028).
    let previous_to = if wider {
        to.succ_opt()
            .and_then(|next| next.with_year(next.year() - 1))
            .and_then(|next| next.pred_opt())
    } else {
        crate::report::a_year_before(to)
    }
    .ok_or_else(|| ApiError::invalid("year", "out_of_range", "no such year"))?;
    let grid = choose_grid(&state, None, from)?;
    let source = params.source.unwrap_or_else(|| default_source(&user));
    let current = compute_for(&state, grid, (from, to), scope.clone(), wider, source).await?;
    // Last year is read with the same grid and source, so that the comparison compares like
    // with like.
    let previous = compute_for(
        &state,
        grid,
        (previous_from, previous_to),
        scope.clone(),
        wider,
        source,
    )
    .await?;
    let coverage = match source {
        Source::Live => None,
        Source::Submissions => Some(coverage_of(&state, grid, (from, to), scope).await?),
    };
    let span = Span {
        year,
        as_of: to,
        previous_as_of: previous_to,
        partial,
        generated_on: today,
        coverage,
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
