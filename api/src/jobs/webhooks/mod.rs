//! Webhooks: what a subscriber receives, how it is signed, and the worker that sends it.
//!
//! Each event for a partner is written to an outbox (`webhook_deliveries`) in the transaction of
//! the change it reports; [`worker::WebhookWorker`] delivers it from there, signed the
//! Standard Webhooks way, and retries on the schedule of `relais_domain::webhook`.

pub mod addresses;
pub mod signing;
pub mod worker;

#[cfg(test)]
mod tests {
    use relais_persistence::events::EventRow;

    use crate::events::Event;

    /// A webhook's body is the event as the feed lists it: same envelope, same names.
    #[test]
    fn the_payload_is_the_feed_event() {
        let row = EventRow {
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
            data: r#"{"hand_off_id":"0193a3c4-0000-7000-8000-000000000001","status":"sent"}"#
                .into(),
        };
        let json = serde_json::to_value(Event::try_from(row).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "seq": 7, "id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b", "type": "hand_off.sent",
                "occurred_at": "2026-03-14T10:42:07Z", "record_type": "hand_off",
                "record_id": "0193a3c4-0000-7000-8000-000000000001",
                "data": {"hand_off_id": "0193a3c4-0000-7000-8000-000000000001", "status": "sent"}
            })
        );
    }
}
