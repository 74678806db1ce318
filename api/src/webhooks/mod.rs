//! Webhooks: what a subscriber receives, how it is signed, and the worker that sends it.
//!
//! Each event for a partner is written to an outbox (`webhook_deliveries`) in the transaction of
//! the change it reports; [`worker::WebhookWorker`] delivers it from there, signed the
//! Standard Webhooks way, and retries on the schedule of `relais_domain::webhook`.

pub mod addresses;
pub mod signing;
pub mod worker;

use chrono::{DateTime, Utc};
use relais_domain::webhook::MAX_URL_LENGTH;
use relais_persistence::events::EventRow;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi as Document, PathItem, Paths, Ref, Required,
    ResponseBuilder,
};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::problem::ApiError;

/// The body POSTed to a webhook for each event. Like the event feed, it carries ids and
/// statuses only: the receiver reads the record through the API to learn more.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "hand_off.sent",
    "timestamp": "2026-03-14T10:42:07.512345Z",
    "data": {
        "hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        "status": "sent",
        "event_seq": 42,
        "record_type": "hand_off",
        "record_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
    }
}))]
pub struct WebhookPayload {
    /// The event's type, such as `hand_off.sent`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event occurred (UTC).
    pub timestamp: DateTime<Utc>,
    /// The event's ids and statuses, with its position in the feed (`event_seq`) and the
    /// record it is about (`record_type`, `record_id`).
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl WebhookPayload {
    /// The payload of a stored event.
    pub fn of(event: &EventRow) -> Self {
        let mut data = match serde_json::from_str(&event.data) {
            Ok(Value::Object(data)) => data,
            _ => Map::new(),
        };
        data.insert("event_seq".into(), event.seq.into());
        data.insert("record_type".into(), event.record_type.clone().into());
        data.insert("record_id".into(), event.record_id.clone().into());
        Self {
            kind: event.kind.clone(),
            timestamp: event.occurred_at.and_utc(),
            data,
        }
    }
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

/// Adds the top-level `webhooks` section of the OpenAPI document: the request a subscriber receives.
pub struct WebhookContract;

impl Modify for WebhookContract {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            WebhookPayload::name().into_owned(),
            WebhookPayload::schema(),
        );
        let header = |name: &str, description: &str, example: Value| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(String::schema()))
                .example(Some(example))
                .build()
        };
        let operation = OperationBuilder::new()
            .tag("webhooks")
            .operation_id(Some("receive_event"))
            .summary(Some("An event, POSTed to each active webhook of its partner"))
            .description(Some(
                "Sent by Relais to the URL registered with `POST /api/v1/webhooks`, once per event \
for the partner, signed the Standard Webhooks way: `webhook-signature` is `v1,` followed by \
the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded \
part of the secret after `whsec_`. Verify it in constant time and refuse old timestamps. \
Every attempt for one event carries the same `webhook-id`: use it to ignore repeats. \
Attempts that fail are retried with exponential back-off (doubling from a few seconds, at \
most an hour apart) for more than a day.",
            ))
            .parameter(header(
                "webhook-id",
                "The event's id; the same on every attempt of its delivery",
                Value::from("0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"),
            ))
            .parameter(header(
                "webhook-timestamp",
                "When this attempt was signed, in seconds since the Unix epoch",
                Value::from("1773484927"),
            ))
            .parameter(header(
                "webhook-signature",
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`",
                Value::from("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(WebhookPayload::name())))
                            .build(),
                    )
                    .build(),
            ))
            // No bearer token: the receiver authenticates the request by its signature headers.
            .securities(Some(Vec::<SecurityRequirement>::new()))
            .response(
                "2XX",
                ResponseBuilder::new()
                    .description("Acknowledged: the delivery is recorded as `delivered`"),
            )
            .response(
                "default",
                ResponseBuilder::new().description(
                    "Any other answer, or none within 10 seconds, is a failed attempt: it is retried",
                ),
            );
        openapi
            .webhooks
            .get_or_insert_with(Paths::new)
            .paths
            .insert("event".into(), PathItem::new(HttpMethod::Post, operation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_payload_adds_the_feed_position_and_record_to_the_data() {
        let event = EventRow {
            seq: 7,
            id: "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b".into(),
            kind: "hand_off.sent".into(),
            occurred_at: chrono::DateTime::from_timestamp(1_773_484_927, 0)
                .unwrap()
                .naive_utc(),
            post_id: None,
            partner_id: None,
            unit_id: None,
            record_type: "hand_off".into(),
            record_id: "0193a3c4-0000-7000-8000-000000000001".into(),
            data: r#"{"status":"sent"}"#.into(),
        };
        let json = serde_json::to_value(WebhookPayload::of(&event)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "hand_off.sent",
                "timestamp": "2026-03-14T10:42:07Z",
                "data": {"status": "sent", "event_seq": 7, "record_type": "hand_off",
                         "record_id": "0193a3c4-0000-7000-8000-000000000001"}
            })
        );
    }
}
