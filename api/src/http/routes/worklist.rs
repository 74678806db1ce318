//! `/api/v1/worklist`: what waits on the reader, oldest first (see `workflows::worklist`).

use actix_web::{get, web};
use relais_domain::ids::PostId;
use relais_domain::reference::{AuditedRecord, WorkKind};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::PageParams;
use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::workflows::{self, worklist::WorkItem};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_worklist);
}

/// One thing that waits on the reader; read the record it names for more.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "kind": "hand_off_awaiting_partner", "record_type": "hand_off",
    "record_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "post_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
    "since": "2026-03-04T10:02:00Z", "overdue": true
}))]
pub struct WorklistItem {
    pub kind: WorkKind,
    pub record_type: AuditedRecord,
    #[schema(format = Uuid)]
    pub record_id: String,
    pub post_id: PostId,
    /// Since when it waits.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Past its deadline (`RELAIS_HAND_OFF_REMIND_DAYS` for an answer or a referral,
    /// `RELAIS_HAND_OFF_OUTCOME_DAYS` for an outcome; an idle situation is always overdue).
    pub overdue: bool,
}

impl From<WorkItem> for WorklistItem {
    fn from(item: WorkItem) -> Self {
        Self {
            kind: item.kind,
            record_type: item.record_type,
            record_id: item.record_id,
            post_id: item.post_id,
            since: item.since,
            overdue: item.overdue,
        }
    }
}

/// A page of the worklist, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistPage {
    pub items: Vec<WorklistItem>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// What waits on you, oldest first: for a post's staff, the referrals to take up, the hand-offs
/// waiting for a partner (overdue flagged), those declined or expired to hand to another
/// partner, the drafts without consent and the situations left without an intervention; for a
/// partner's system, the hand-offs waiting for its answer or its outcome. Ids, kinds and dates
/// only, never personal data. The `cursor` is the record id of the last item of the previous
/// page; a cursor whose item has left the worklist since (it was acted upon) starts again from
/// the oldest.
#[utoipa::path(
    tag = "worklist",
    params(PageParams),
    responses((status = 200, description = "A page of the worklist, oldest first", body = WorklistPage))
)]
#[get("/worklist")]
async fn list_worklist(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<PageParams>,
) -> Result<web::Json<WorklistPage>, ApiError> {
    let settings = state.worklist;
    let now = state.clock.now();
    let items = state
        .read(move |conn| Ok(workflows::worklist::of(conn, &user, &settings, now)?))
        .await?;
    let start = params
        .cursor
        .as_deref()
        .and_then(|cursor| items.iter().position(|i| i.record_id == cursor))
        .map_or(0, |at| at + 1);
    let limit = usize::try_from(params.limit.unwrap_or(50)).unwrap_or(50);
    let page: Vec<WorkItem> = items.iter().skip(start).take(limit).cloned().collect();
    let next_cursor = (start + page.len() < items.len())
        .then(|| page.last().map(|i| i.record_id.clone()))
        .flatten();
    Ok(web::Json(WorklistPage {
        items: page.into_iter().map(WorklistItem::from).collect(),
        next_cursor,
    }))
}
