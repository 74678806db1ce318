//! Whole examples for the contract: every JSON request body and every 2xx JSON answer carries an
//! example of the whole document at its media type, so that Swagger UI, generators and testers
//! show a complete request or answer, not field fragments.
//!
//! An example written by hand (on the operation, or on the schema) is kept; any other is put
//! together from the examples the fields give, then from each field's type. A test validates
//! every example against its schema (`api/tests/openapi.rs`).

use serde_json::{Map, Value, json};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi as Document, RefOr};

use crate::http::openapi::operations_of;

/// Gives every JSON body and 2xx JSON answer of `document` (paths and webhooks) a whole example.
pub fn complete(document: &mut Document) {
    let Ok(schemas) = serde_json::to_value(
        document
            .components
            .as_ref()
            .map(|c| c.schemas.clone())
            .unwrap_or_default(),
    ) else {
        return;
    };
    let mut items: Vec<_> = document.paths.paths.values_mut().collect();
    if let Some(webhooks) = document.webhooks.as_mut() {
        items.extend(webhooks.paths.values_mut());
    }
    for item in items {
        for operation in operations_of(item) {
            complete_operation(operation, &schemas);
        }
    }
}

fn complete_operation(operation: &mut Operation, schemas: &Value) {
    if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
        for (media, content) in body.content.iter_mut() {
            if let RefOr::T(content) = content
                && media == "application/json"
            {
                fill(content, schemas);
            }
        }
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('2') {
            continue;
        }
        for (media, content) in response.content.iter_mut() {
            if let RefOr::T(content) = content
                && media == "application/json"
            {
                fill(content, schemas);
            }
        }
    }
}

fn fill(content: &mut utoipa::openapi::Content, schemas: &Value) {
    if content.example.is_some() || !content.examples.is_empty() {
        return;
    }
    let Some(schema) = content.schema.as_ref() else {
        return;
    };
    let Ok(schema) = serde_json::to_value(schema) else {
        return;
    };
    content.example = Some(example_of(&schema, schemas, 0));
}

/// An example of `schema`: its own if it has one, else one put together from its parts.
pub fn example_of(schema: &Value, schemas: &Value, depth: usize) -> Value {
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    // Deep enough: a recursive schema ends here.
    if depth > 40 {
        return Value::Null;
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.rsplit('/').next().unwrap_or_default();
        return example_of(&schemas[name], schemas, depth + 1);
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = example_of(part, schemas, depth + 1) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    for alternatives in ["oneOf", "anyOf"] {
        if let Some(members) = schema.get(alternatives).and_then(Value::as_array) {
            let chosen = members
                .iter()
                .find(|m| m.get("type") != Some(&json!("null")))
                .or(members.first());
            return chosen.map_or(Value::Null, |m| example_of(m, schemas, depth + 1));
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .find(|k| k.as_str() != Some("null"))
            .and_then(Value::as_str)
            .unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => return json!({}),
    };
    match kind {
        "object" => {
            let mut fields = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    fields.insert(name.clone(), example_of(property, schemas, depth + 1));
                }
            }
            Value::Object(fields)
        }
        "array" => {
            let item = schema
                .get("items")
                .map_or(Value::Null, |items| example_of(items, schemas, depth + 1));
            json!([item])
        }
        "string" => string_example(schema),
        "integer" => json!(
            schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(0)
        ),
        "number" => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.0)),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

fn string_example(schema: &Value) -> Value {
    let text = match schema.get("format").and_then(Value::as_str) {
        Some("date") => "2026-03-14",
        Some("date-time") => "2026-03-14T10:02:00Z",
        Some("uuid") => "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        Some("uri") => "https://relais.example.org/",
        _ => "texte",
    };
    json!(text)
}
