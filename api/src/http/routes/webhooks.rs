//! `/api/v1/webhooks`: a partner system registers the URLs its events are POSTed to, and
//! follows how each delivery went. Only partner systems, and each for its own partner.

use actix_web::{HttpResponse, delete, get, post, web};
use relais_domain::ids::{PartnerId, WebhookId};
use relais_domain::reference::Role;
use relais_domain::webhook::{Delivery, MAX_URL_LENGTH, Webhook};
use relais_persistence::{DbConnection, webhooks};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::{PageParams, page_request, page_type, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{Json, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::jobs::webhooks::signing::generate_secret;
use crate::workflows;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(delete_webhook)
        .service(list_webhook_deliveries);
}

page_type!(WebhookPage, Webhook, "A page of webhooks, newest first.");
page_type!(
    DeliveryPage,
    Delivery,
    "A page of deliveries, newest first."
);

/// Where to POST the partner's events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An absolute `https` (or `http`) URL.
    #[schema(
        example = "https://si.ccas-privas.fr/relais/webhook",
        max_length = 2000
    )]
    pub url: String,
}

/// A new webhook, with the secret that signs its deliveries. The secret is shown in the first
/// answer only: keep it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and 32 random bytes in base64: the key of the `webhook-signature` HMAC is the
    /// base64-decoded part after `whsec_`. Absent when this answers a retry with the same
    /// `Idempotency-Key`: the secret is shown once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The caller's partner: webhooks are for partner systems only.
fn own_partner(user: &CurrentUser) -> Result<PartnerId, ApiError> {
    match (user.role, user.partner_id) {
        (Role::Partner, Some(partner)) => Ok(partner),
        (role, _) => Err(ApiError::Forbidden(format!(
            "the role {role} has no webhooks: only partner systems register them"
        ))),
    }
}

/// Register a webhook: each later event of your partner is POSTed to it, signed.
#[utoipa::path(
    tag = "webhooks",
    description = "The first answer shows the webhook's secret, once. A retry with the same `Idempotency-Key` answers the webhook without its secret, as `GET /api/v1/webhooks/{id}` shows it (201, the same `Location`); if the first answer was lost, delete the webhook and register another. A partner has at most `RELAIS_WEBHOOKS_PER_PARTNER` active webhooks (5 unless the instance says otherwise; deleted ones do not count): one more is a 409.",
    request_body(content = WebhookInput, example = json!({"url": "https://si.ccas-privas.fr/relais/webhook"})),
    responses(
        (status = 201, description = "The webhook and its secret (shown this once; not on a retry), with its `Location` and `ETag`", body = CreatedWebhook,
            headers(("Location" = String, description = "URL of the new webhook"), ("ETag" = String, description = "Version"))),
        (status = 409, description = "Your partner already has as many active webhooks as the instance allows (`RELAIS_WEBHOOKS_PER_PARTNER`): delete one first", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
async fn create_webhook(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    Json(input): Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let partner = own_partner(&user)?;
    let url = checked_url(&input.url)?;
    let secret = generate_secret();
    let max = state.webhooks_per_partner;
    let retryable = Retryable {
        fingerprint: fingerprint("create_webhook", None, &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            let webhook = workflows::webhooks::register(conn, partner, &url, &secret, max)?;
            registered(webhook, Some(secret))
        },
        // The secret is shown once: a retry answers the webhook as `GET /webhooks/{id}` does.
        view: move |conn: &mut DbConnection, id: &str| {
            registered(webhooks::get(conn, partner, stored_id(id)?)?, None)
        },
    };
    run_once(&state, &user, key, retryable).await
}

/// The answer to `create_webhook`: with its secret the first time, without on a retry.
fn registered(webhook: Webhook, secret: Option<String>) -> Result<Reply, ApiError> {
    let id = webhook.id;
    Reply::created(
        id,
        format!("/api/v1/webhooks/{id}"),
        &CreatedWebhook { webhook, secret },
    )
}

/// List your webhooks, deleted ones included (`active: false`), without their secrets.
#[utoipa::path(
    tag = "webhooks",
    params(PageParams),
    responses((status = 200, description = "A page of webhooks", body = WebhookPage))
)]
#[get("/webhooks")]
async fn list_webhooks(
    state: web::Data<AppState>,
    user: CurrentUser,
    Query(params): Query<PageParams>,
) -> Result<web::Json<WebhookPage>, ApiError> {
    let partner = own_partner(&user)?;
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(webhooks::list(conn, partner, &page)?))
        .await?;
    Ok(web::Json(found.into()))
}

/// Read one of your webhooks, without its secret.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = WebhookId, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The webhook, with its `ETag`", body = Webhook, headers(("ETag" = String))),
        (status = 404, description = "No such webhook of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}")]
async fn get_webhook(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, ApiError> {
    let partner = own_partner(&user)?;
    let id = id.into_inner();
    let webhook = state
        .read(move |conn| Ok(webhooks::get(conn, partner, id)?))
        .await?;
    Ok(versioned(webhook.meta.version, &webhook))
}

/// Delete one of your webhooks: nothing more is queued for it or sent to it, and its pending
/// deliveries are given up. It stays listed, inactive, with its deliveries.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = WebhookId, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted (or already deleted)"),
        (status = 404, description = "No such webhook of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, ApiError> {
    let partner = own_partner(&user)?;
    let id = id.into_inner();
    state
        .write(user.ticket(), move |conn, _| {
            Ok(webhooks::deactivate(conn, partner, id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the deliveries of one of your webhooks, newest first: where each event stands,
/// how many attempts were made and how the last one went.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = WebhookId, Path, description = "The webhook's id"), PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "No such webhook of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}/deliveries")]
async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<WebhookId>,
    Query(params): Query<PageParams>,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    let partner = own_partner(&user)?;
    let id = id.into_inner();
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| {
            webhooks::get(conn, partner, id)?;
            Ok(webhooks::deliveries(conn, id, &page)?)
        })
        .await?;
    Ok(web::Json(found.into()))
}

/// The URL of a new webhook, as stored: absolute, `http` or `https`, with a host, at most
/// [`MAX_URL_LENGTH`] characters. Anything else is refused, naming the field `url`.
pub fn checked_url(raw: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::invalid(
            "url",
            "invalid_url",
            format!("must be an absolute http or https URL of at most {MAX_URL_LENGTH} characters"),
        )
    };
    let parsed = url::Url::parse(raw.trim()).map_err(|_| refused())?;
    let acceptable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.as_str().chars().count() <= MAX_URL_LENGTH
        && raw.chars().count() <= MAX_URL_LENGTH;
    if acceptable {
        Ok(parsed.into())
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use relais_domain::webhook::MAX_URL_LENGTH;

    use super::checked_url;

    #[test]
    fn http_and_https_urls_are_accepted_as_parsed() {
        assert_eq!(
            checked_url("https://si.ccas-privas.fr/relais/webhook").unwrap(),
            "https://si.ccas-privas.fr/relais/webhook"
        );
        assert_eq!(
            checked_url(" http://127.0.0.1:8081 ").unwrap(),
            "http://127.0.0.1:8081/"
        );
    }

    #[test]
    fn other_urls_are_refused_naming_the_field() {
        let long = format!("https://example.fr/{}", "a".repeat(MAX_URL_LENGTH));
        for bad in [
            "",
            "si.ccas-privas.fr/webhook",
            "ftp://example.fr/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://",
            long.as_str(),
        ] {
            let err = checked_url(bad).unwrap_err();
            let fields: Vec<_> = err.problem().errors.into_iter().map(|e| e.field).collect();
            assert_eq!(fields, ["url"], "{bad}");
        }
    }
}
