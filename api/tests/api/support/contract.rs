//! Answers checked against the published contract: a component schema of
//! `openapi/openapi.json`, as the code generates it, compiled to a JSON Schema validator.

use serde_json::{Value, json};

/// A validator for the component schema `name` (refs resolve within the whole document).
pub fn validator(name: &str) -> jsonschema::Validator {
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": document["components"],
    });
    jsonschema::validator_for(&root).unwrap()
}

/// Fails with every error when `value` does not match the schema `name`.
#[track_caller]
pub fn assert_matches(name: &str, value: &Value) {
    let validator = validator(name);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{value:#}");
}
