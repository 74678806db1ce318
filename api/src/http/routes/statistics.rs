//! `/api/v1/statistics`: the national grid over a period and a scope, as JSON, CSV or XLSX.
//! The observatory reads every scope; coordinators their posts; social workers their post.
//! Statistics never carry an identity.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use relais_domain::disclosure::{check_whole_months, suppress_small_counts};
use relais_domain::grid::Grid;
use relais_domain::ids::PostId;
use relais_domain::reference::Role;
use relais_domain::statistics::Statistics;
use relais_domain::validation::is_department_code;
use relais_persistence::statistics::StatScope;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::exports;
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
    /// `submissions`: the sum of the latest version each post of the scope submitted for
    /// exactly this grid version and period (see `GET /statistics/submissions` for the posts
    /// missing); `live`: counted from the cases now. Default: `submissions` for the
    /// observatory, `live` for a post's staff.
    #[param(inline)]
    pub source: Option<Source>,
}

/// Where `GET /statistics` reads its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Counted from the cases at the time of the request.
    Live,
    /// As the posts submitted them (frozen).
    Submissions,
}

/// Where a read takes its figures when it does not say: the observatory reads what the posts
/// submitted (frozen), a post's staff its live cases. The activity report's default too.
pub fn default_source(user: &CurrentUser) -> Source {
    match user.role {
        Role::Statistics => Source::Submissions,
        _ => Source::Live,
    }
}

/// The scope the caller asked for, if the caller may read it (the activity report's too).
pub fn scope_for(
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

/// Whether `scope` is wider than the caller's own posts: then disclosure control applies, and the
/// period must be whole calendar months. A post's social workers and coordinators read their own
/// posts' exact figures; the observatory reads everything through disclosure control.
pub fn wider_than_own_posts(user: &CurrentUser, scope: &StatScope) -> bool {
    match scope {
        StatScope::Posts(posts) => !posts.iter().all(|post| user.can_read_cases(*post)),
        StatScope::Department(_) | StatScope::National => true,
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
    let owned = grid.clone();
    state
        .read_aggregate(move |conn| {
            crate::workflows::submissions::live(conn, &owned, from, to, &scope)
        })
        .await
}

/// What must cover whole months, in the refusal's words.
const WIDER_SCOPES: &str = "statistics wider than your own posts";

/// Computes a grid as the caller may read it, from `source`: exact over its own posts; over a
/// wider scope, whole calendar months only (422 naming `from` or `to`) and small counts
/// suppressed after aggregation (see `relais_domain::disclosure`), whether the figures are live
/// or summed from submissions. Shared with the activity report.
pub async fn compute_for(
    state: &AppState,
    grid: &Grid,
    (from, to): (NaiveDate, NaiveDate),
    scope: StatScope,
    wider: bool,
    source: Source,
) -> Result<Statistics, ApiError> {
    if wider {
        check_whole_months(from, to, grid.disclosure.min_months, WIDER_SCOPES)
            .map_err(ApiError::Invalid)?;
    }
    let exact = match source {
        Source::Live => compute(state, grid, from, to, scope).await?,
        Source::Submissions => {
            super::submissions::submitted_statistics(state, grid, from, to, &scope).await?
        }
    };
    Ok(if wider {
        suppress_small_counts(&exact, grid.disclosure.k)
    } else {
        exact
    })
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

/// The formats `GET /statistics` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Json,
    Csv,
    Xlsx,
}

/// The format `Accept` asks for: the known media type of highest `q` (the first of equals);
/// JSON when none is known.
fn negotiate(req: &HttpRequest) -> Answer {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return Answer::Json;
    };
    let mut best = (Answer::Json, 0.0_f32);
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let answer = match media.as_str() {
            "text/csv" => Answer::Csv,
            exports::XLSX => Answer::Xlsx,
            "application/json" | "application/*" | "*/*" => Answer::Json,
            _ => continue,
        };
        if q > best.1 {
            best = (answer, q);
        }
    }
    best.0
}

/// An XLSX workbook: one sheet, `Statistiques`, the scope, the period and the grid version in
/// its first rows, then the table from row 7 (codes as text, counts as numbers).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Its schema only: the handler writes the bytes.
#[schema(value_type = String, format = Binary, example = "PK\u{3}\u{4}…")]
pub struct XlsxWorkbook(Vec<u8>);

/// `attachment; filename="<stem>.<extension>"`.
fn attachment(stem: &str, extension: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{stem}.{extension}\""),
    )
}

/// The statistics grid over a period and a scope, as JSON, CSV or XLSX.
///
/// **Disclosure control.** Over a scope wider than the caller's own posts (the observatory
/// reading a post, a department or the country), the period must be whole calendar months (at
/// least the grid's `disclosure.min_months`), and counts from 1 to `k - 1` (`k` from the grid
/// file, 5 by default) are suppressed after aggregation, with whatever would let one be
/// recomputed from totals or sibling cells: in JSON `count` (or `total`) is `null` with
/// `suppressed: true` (`total_suppressed: true`), and `disclosure_control` at the top says `k`;
/// in CSV and XLSX the cell reads `<5` (text). Zeros are published. A post's own social workers
/// and coordinators read exact figures, over any period.
///
/// JSON by default; a file to open in a spreadsheet, CSV with `Accept: text/csv`, XLSX with `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`
/// (the known type of highest `q` wins). Both files are one table (indicator, its label, key,
/// its label, count; a `total` row per indicator), named by scope and period in
/// `Content-Disposition` (`statistiques-national-2026-01-01-2026-12-31.xlsx`,
/// `statistiques-departement-07-…`, `statistiques-poste-<post id>-…`). The XLSX holds the
/// scope, the period and the grid version in its first rows, codes as text and counts as
/// numbers; in the CSV, codes that a spreadsheet would read as a number or a date (`60+`,
/// `2026-01`) are written `="60+"`, which spreadsheets show as the text itself.
#[utoipa::path(
    tag = "statistics",
    params(StatisticsParams),
    responses(
        (status = 200, description = "Every indicator of the grid",
            headers(
                ("Content-Disposition" = String, description = "CSV and XLSX only: `attachment; filename=\"statistiques-<scope>-<from>-<to>.csv\"` (or `.xlsx`), the scope `national`, `departement-<code>`, `poste-<post id>` or `postes-<n>`"),
                ("Vary" = String, description = "`Accept`: the format follows it"),
            ),
            content(
                (Statistics = "application/json", example = json!({
                    "grid": "2026", "title": "Grille statistique nationale des ISCG — version 2026",
                    "from": "2026-10-01", "to": "2026-10-31", "scope": "department:07",
                    "disclosure_control": {"k": 5, "note": "Secret statistique : les effectifs de 1 à 4, et ceux qui permettraient de les recalculer, ne sont pas publiés."},
                    "indicators": [
                        {"id": "persons", "label": "Nombre de personnes reçues", "counts": "persons", "split_by": null, "total": 23, "values": []},
                        {"id": "persons_by_sex", "label": "Personnes reçues selon le sexe", "counts": "persons", "split_by": "sex", "total": 23, "values": [
                            {"key": "female", "label": "Femme", "count": 17},
                            {"key": "male", "label": "Homme", "count": null, "suppressed": true},
                            {"key": "unspecified", "label": "Non renseigné", "count": null, "suppressed": true}
                        ]}
                    ]
                })),
                (String = "text/csv", example = "indicateur;libellé de l'indicateur;modalité;libellé de la modalité;effectif\npersons;Nombre de personnes reçues;total;Total;512\npersons_by_age;Personnes reçues selon l'âge;\"=\"\"60+\"\"\";60 ans et plus;31\n"),
                (XlsxWorkbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 422, description = "The period is reversed or longer than five years, or no grid version applies to it, or a scope wider than your own posts is asked for a period that is not whole calendar months (`not_whole_months`, naming `from` or `to`)", body = Problem, content_type = "application/problem+json",
            example = json!({
                "type": "/problems/validation", "title": "The request is not valid", "status": 422,
                "detail": "from: statistics wider than your own posts cover whole calendar months: from is the first day of a month",
                "errors": [{"field": "from", "code": "not_whole_months", "message": "statistics wider than your own posts cover whole calendar months: from is the first day of a month"}],
                "request_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
            })),
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
    let wider = wider_than_own_posts(&user, &scope);
    let source = params.source.unwrap_or_else(|| default_source(&user));
    let period = (params.from, params.to);
    let stats = compute_for(&state, grid, period, scope.clone(), wider, source).await?;
    let stem = exports::file_stem(&scope, stats.from, stats.to);
    let vary = (header::VARY, "Accept");
    match negotiate(&req) {
        Answer::Json => Ok(HttpResponse::Ok().insert_header(vary).json(stats)),
        Answer::Csv => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(attachment(&stem, "csv"))
            .insert_header(vary)
            .body(to_csv(&stats)?)),
        Answer::Xlsx => {
            let now = state.clock.now().naive_utc();
            let workbook = exports::to_xlsx(&stats, &scope, now)
                .map_err(|e| ApiError::Internal(format!("xlsx: {e}")))?;
            Ok(HttpResponse::Ok()
                .content_type(exports::XLSX)
                .insert_header(attachment(&stem, "xlsx"))
                .insert_header(vary)
                .body(workbook))
        }
    }
}

/// The statistics as a CSV file (see [`exports::to_csv`]).
pub fn to_csv(stats: &Statistics) -> Result<Vec<u8>, ApiError> {
    exports::to_csv(stats).map_err(|e| ApiError::Internal(format!("csv: {e}")))
}
