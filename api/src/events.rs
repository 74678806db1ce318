//! The event envelope: one shape, the same names, in the feed (`GET /api/v1/events`) and in the
//! body POSTed to a webhook. Its OpenAPI schema is written from the domain's catalogue
//! (`relais_domain::event`): a `oneOf` on `type`, one member per family of `data`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use relais_domain::event::{
    EventFamily, HandOffEventData, HandOffReminderData, LegalExceptionUsedData, MemberEventData,
    PersonalDataWithdrawnData, ReferralEventData,
};
use relais_domain::reference::{CodeList, EventType};
use relais_persistence::StoreError;
use relais_persistence::events::EventRow;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

/// One event, as the feed lists it and a webhook receives it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Position in the feed; pass the last one seen as `after`.
    pub seq: i64,
    /// Stable id of the event (the `webhook-id` of its deliveries).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub record_type: String,
    pub record_id: String,
    /// Ids and statuses, in the shape of its type's family; read the record for more.
    pub data: Value,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let kind = row
            .kind
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", row.seq)))?;
        let data = serde_json::from_str(&row.data)
            .map_err(|e| StoreError::Corrupt(format!("event {} data: {e}", row.seq)))?;
        Ok(Event {
            seq: row.seq,
            id: row.id,
            kind,
            occurred_at: row.occurred_at.and_utc(),
            record_type: row.record_type,
            record_id: row.record_id,
            data,
        })
    }
}

/// The whole example of an event of `family`, as the feed and a webhook carry it.
pub fn example(family: EventFamily) -> Value {
    let (kind, record_id, data) = match family {
        EventFamily::HandOff => (
            EventType::HandOffSent,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
            json!({"hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "status": "sent"}),
        ),
        EventFamily::LegalExceptionUsed => (
            EventType::HandOffLegalExceptionUsed,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
            json!({"hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
                   "legal_exception": "information_preoccupante",
                   "by": "sw-camille", "by_role": "social_worker"}),
        ),
        EventFamily::Reminder => (
            EventType::HandOffReminded,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
            json!({"hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c", "status": "sent",
                   "reminder": "answer", "waiting_since": "2026-03-04T10:02:00Z"}),
        ),
        EventFamily::Withdrawal => (
            EventType::HandOffPersonalDataWithdrawn,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
            json!({"hand_off_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c",
                   "reason": "consent_withdrawn"}),
        ),
        EventFamily::Referral => (
            EventType::ReferralTakenUp,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d",
            json!({"referral_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d", "status": "taken_up"}),
        ),
        EventFamily::Membership => (
            EventType::MemberGranted,
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7e",
            json!({"member_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7e", "role": "social_worker",
                   "status": "active"}),
        ),
    };
    json!({
        "seq": 42, "id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b", "type": kind.code(),
        "occurred_at": "2026-03-14T10:02:00Z", "record_type": family.record_type(),
        "record_id": record_id, "data": data,
    })
}

use crate::http::openapi::schema_from_json as schema_of;

/// The schema of the events of one family: the envelope, `type` among the family's types, `data`
/// of the family's shape.
fn family_schema(family: EventFamily) -> RefOr<Schema> {
    let types: Vec<&str> = family.types().map(CodeList::code).collect();
    let described: Vec<String> = family
        .types()
        .map(|t| format!("- `{}`: {}", t.code(), t.description()))
        .collect();
    schema_of(json!({
        "type": "object",
        "description": format!("An event about a {}.\n\n{}", family.record_type().replace('_', "-"), described.join("\n")),
        "required": ["seq", "id", "type", "occurred_at", "record_type", "record_id", "data"],
        "additionalProperties": false,
        "properties": {
            "seq": {"type": "integer", "format": "int64", "minimum": 1,
                    "description": "Position in the feed; pass the last one seen as `after`."},
            "id": {"type": "string", "format": "uuid",
                   "description": "Stable id of the event; the `webhook-id` of each delivery attempt."},
            "type": {"type": "string", "enum": types, "description": "What happened (see the list above)."},
            "occurred_at": {"type": "string", "format": "date-time"},
            "record_type": {"type": "string", "enum": [family.record_type()],
                            "description": "The kind of record the event is about."},
            "record_id": {"type": "string", "format": "uuid", "description": "The record's id."},
            "data": {"$ref": format!("#/components/schemas/{}", family.data_schema())},
        },
        "example": example(family),
    }))
}

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        let members: Vec<Value> = EventFamily::ALL
            .iter()
            .map(|f| json!({"$ref": format!("#/components/schemas/{}", f.event_schema())}))
            .collect();
        let mapping: serde_json::Map<String, Value> = EventType::ALL
            .iter()
            .map(|t| {
                let target = format!("#/components/schemas/{}", t.family().event_schema());
                (t.code().to_owned(), Value::from(target))
            })
            .collect();
        schema_of(json!({
            "description": "One event of the catalogue, as the feed lists it and a webhook receives \
        it: the same envelope and names in both. `type` says which member of the `oneOf` it is.",
            "oneOf": members,
            "discriminator": {"propertyName": "type", "mapping": mapping},
        }))
    }
}

impl ToSchema for Event {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Event")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for family in EventFamily::ALL {
            schemas.push((family.event_schema().to_owned(), family_schema(*family)));
        }
        schemas.push((HandOffEventData::name().into(), HandOffEventData::schema()));
        schemas.push((
            LegalExceptionUsedData::name().into(),
            LegalExceptionUsedData::schema(),
        ));
        schemas.push((
            ReferralEventData::name().into(),
            ReferralEventData::schema(),
        ));
        <HandOffEventData as ToSchema>::schemas(schemas);
        <LegalExceptionUsedData as ToSchema>::schemas(schemas);
        <ReferralEventData as ToSchema>::schemas(schemas);
        schemas.push((
            HandOffReminderData::name().into(),
            HandOffReminderData::schema(),
        ));
        <HandOffReminderData as ToSchema>::schemas(schemas);
        schemas.push((
            PersonalDataWithdrawnData::name().into(),
            PersonalDataWithdrawnData::schema(),
        ));
        <PersonalDataWithdrawnData as ToSchema>::schemas(schemas);
        schemas.push((MemberEventData::name().into(), MemberEventData::schema()));
        <MemberEventData as ToSchema>::schemas(schemas);
    }
}
