//! Views with alternatives carry their alternative's name in `view`, and the contract says so
//! with a discriminator: a client tells a post's hand-off from a partner's by one field, and
//! generators for typed languages make one class per alternative instead of a wrapper.
//!
//! Each alternative's schema is its record's schema with `view` added (a copy, not an `allOf`,
//! because the narrow views are closed: `additionalProperties: false`).

use serde_json::{Value, json};
use utoipa::openapi::OpenApi as Document;

/// A union of views: its schema's name, and for each alternative the value of `view`, the
/// schema of the record it shows, and the name of the alternative's schema.
struct Union {
    name: &'static str,
    description: &'static str,
    alternatives: &'static [(&'static str, &'static str, &'static str)],
}

/// The serde tag of every union below (`#[serde(tag = "view")]`).
pub const TAG: &str = "view";

const UNIONS: &[Union] = &[
    Union {
        name: "HandOffView",
        description: "A hand-off as its reader may see it: `view` says which. The post's staff \
get the whole record (`post`); a partner system its consented view (`partner`).",
        alternatives: &[
            ("post", "HandOffDetail", "HandOffForPost"),
            ("partner", "PartnerHandOff", "HandOffForPartner"),
        ],
    },
    Union {
        name: "ReferralView",
        description: "A referral as its reader may see it: `view` says which. The post's staff \
get the whole record (`post`); its sender the receipt (`sender`).",
        alternatives: &[
            ("post", "Referral", "ReferralForPost"),
            ("sender", "ReferralReceipt", "ReferralForSender"),
        ],
    },
];

/// Writes the schema of each union and of its alternatives.
pub fn complete(document: &mut Document) {
    for union in UNIONS {
        // A record shown only through the union is tagged in place; one also answered on its
        // own (without `view`) is copied under the alternative's name.
        let used_elsewhere: Vec<bool> = {
            let mut without_union = document.clone();
            if let Some(components) = without_union.components.as_mut() {
                components.schemas.remove(union.name);
            }
            let text = serde_json::to_string(&without_union).unwrap_or_default();
            union
                .alternatives
                .iter()
                .map(|(_, record, _)| text.contains(&format!("\"#/components/schemas/{record}\"")))
                .collect()
        };
        let Some(components) = document.components.as_mut() else {
            return;
        };
        let mut members = Vec::new();
        let mut mapping = serde_json::Map::new();
        for ((value, record, copy), elsewhere) in union.alternatives.iter().zip(used_elsewhere) {
            let Some(source) = components.schemas.get(*record) else {
                continue;
            };
            let Ok(mut schema) = serde_json::to_value(source) else {
                continue;
            };
            with_tag(&mut schema, value);
            let member = if elsewhere { *copy } else { *record };
            if let Ok(schema) = serde_json::from_value(schema) {
                components.schemas.insert(member.to_owned(), schema);
            }
            let target = format!("#/components/schemas/{member}");
            members.push(json!({"$ref": target}));
            mapping.insert((*value).to_owned(), Value::from(target));
        }
        let schema = json!({
            "description": union.description,
            "oneOf": members,
            "discriminator": {"propertyName": TAG, "mapping": mapping},
        });
        if let Ok(schema) = serde_json::from_value(schema) {
            components.schemas.insert(union.name.to_owned(), schema);
        }
    }
}

/// Adds the required `view` property, with its one value, to an object schema (or to the last
/// part of an `allOf`).
fn with_tag(schema: &mut Value, value: &str) {
    let property = json!({"type": "string", "enum": [value], "description": "Which view this is."});
    if let Some(example) = schema.get_mut("example").and_then(Value::as_object_mut) {
        example.insert(TAG.to_owned(), Value::from(value));
    }
    let target = match schema.get_mut("allOf").and_then(Value::as_array_mut) {
        Some(parts) => {
            parts.push(json!({"type": "object"}));
            parts.last_mut()
        }
        None => Some(schema),
    };
    let Some(target) = target.and_then(Value::as_object_mut) else {
        return;
    };
    target
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(|p| p.insert(TAG.to_owned(), property));
    let required = target.entry("required").or_insert_with(|| json!([]));
    if let Some(required) = required.as_array_mut() {
        required.insert(0, Value::from(TAG));
    }
}
