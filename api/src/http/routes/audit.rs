//! `/api/v1/audit`: the trail of accesses to personal data, read by the coordinators of the posts
//! it concerns. Nothing in the API changes or deletes it.

use actix_web::{get, web};
use chrono::NaiveDate;
use relais_domain::ids::{BeneficiaryId, PostId};
use relais_persistence::audit::{self, AuditFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::beneficiaries::scoped_posts;
use super::common::{cursor_is_id, page_request, page_type};
use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::names::NamedAuditEvent;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_events);
}

page_type!(
    AuditEventPage,
    NamedAuditEvent,
    "A page of audit events, newest first, each with the name of the member who accessed."
);

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// Only the events of this post (one of yours).
    pub post_id: Option<PostId>,
    /// Only the accesses to this record (a person, situation, hand-off, referral or requisition).
    #[validate(custom(function = "cursor_is_id"))]
    #[param(example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub record_id: Option<String>,
    /// Only the accesses to this person's records: their access history.
    pub beneficiary_id: Option<BeneficiaryId>,
    /// Only the accesses by this user (the `sub` of their token).
    #[validate(length(min = 1, max = 200))]
    #[param(example = "a.durand")]
    pub subject: Option<String>,
    /// From this day (UTC), inclusive.
    #[param(example = "2026-01-01")]
    pub from: Option<NaiveDate>,
    /// Up to this day (UTC), inclusive.
    #[param(example = "2026-12-31")]
    pub to: Option<NaiveDate>,
    /// Most events to return (1–500, default 50).
    #[validate(range(min = 1, max = 500))]
    #[param(minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[validate(custom(function = "cursor_is_id"))]
    pub cursor: Option<String>,
}

/// Read the audit trail of your posts: who accessed which record, when, and with what outcome
/// (never the content).
#[utoipa::path(
    tag = "audit",
    params(AuditListParams),
    responses((status = 200, description = "A page of audit events", body = AuditEventPage))
)]
#[get("/audit")]
async fn list_audit_events(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<AuditListParams>,
) -> Result<web::Json<AuditEventPage>, ApiError> {
    if let (Some(from), Some(to)) = (params.from, params.to)
        && from > to
    {
        return Err(ApiError::invalid(
            "to",
            "before_from",
            "must not be before from",
        ));
    }
    let filter = AuditFilter {
        posts: scoped_posts(&user, params.post_id)?,
        record_id: params.record_id,
        beneficiary_id: params.beneficiary_id,
        subject: params.subject,
        from: params.from,
        to: params.to,
    };
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| {
            let found = audit::list(conn, &filter, &page)?;
            Ok(AuditEventPage {
                items: NamedAuditEvent::all(conn, found.items)?,
                next_cursor: found.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(found))
}
