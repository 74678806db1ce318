//! `/api/v1/events`: the feed of changes, in one total order, that a system polls with a cursor.
//! A partner sees the events of its own hand-offs; a post's staff those of their posts; an
//! officer those of its unit's referrals. Events carry ids and statuses, never personal data.

use actix_web::{get, web};
use relais_domain::reference::Role;
use relais_persistence::events::{self, Audience};
use serde::{Deserialize, Serialize};

use crate::events::Event;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::http::current_user::CurrentUser;
use crate::http::extract::Query;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_events);
}

/// A slice of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// The cursor for the next poll: the last `seq` returned, or the `after` sent if none.
    pub next_after: i64,
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Return events after this `seq` (0, or absent, for the beginning).
    #[validate(range(min = 0))]
    #[param(minimum = 0, example = 0)]
    pub after: Option<i64>,
    /// Most events to return (1–500, default 100).
    #[validate(range(min = 1, max = 500))]
    #[param(minimum = 1, maximum = 500, example = 100)]
    pub limit: Option<i64>,
}

/// Poll the events you may see, in order, after a cursor.
#[utoipa::path(
    tag = "events",
    params(EventParams),
    responses((status = 200, description = "Events after the cursor, oldest first", body = EventPage))
)]
#[get("/events")]
async fn list_events(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<EventParams>,
) -> Result<web::Json<EventPage>, ApiError> {
    let audience = match (user.role, user.partner_id, user.unit_id) {
        (Role::Partner, Some(partner), _) => Audience::Partner(partner),
        (Role::Officer, _, Some(unit)) => Audience::Unit(unit),
        (Role::SocialWorker | Role::Coordinator, _, _) => {
            Audience::Posts(user.readable_case_posts().to_vec())
        }
        (role, _, _) => {
            return Err(ApiError::Forbidden(format!(
                "the role {role} has no event feed"
            )));
        }
    };
    let after = params.after.unwrap_or(0);
    let limit = params.limit.unwrap_or(100);
    let rows = state
        .read(move |conn| Ok(events::feed(conn, &audience, after, limit)?))
        .await?;
    let next_after = rows.last().map_or(after, |e| e.seq);
    let items = rows
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(EventPage { items, next_after }))
}
