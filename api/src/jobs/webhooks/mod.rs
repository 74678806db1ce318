//! Webhooks: what a subscriber receives, how it is signed, and the worker that sends it.
//!
//! Each event for a partner is written to an outbox (`webhook_deliveries`) in the transaction of
//! the change it reports; [`worker::WebhookWorker`] delivers it from there, signed the
//! Standard Webhooks way, and retries on the schedule of `relais_domain::webhook`.

pub mod addresses;
pub mod signing;
pub mod worker;

use chrono::{DateTime, Utc};
use relais_persistence::events::EventRow;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

#[cfg(test)]
mod tests {
    use super::*;

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
