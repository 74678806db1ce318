//! The published contract: `openapi/openapi.json` is what the code generates, and the
//! document describes every operation with its security and errors.
//!
//! `UPDATE_OPENAPI=1 cargo test -p relais-api --test openapi` rewrites the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;

fn published_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
}

fn generated() -> String {
    serde_json::to_string_pretty(&relais_api::openapi_document()).unwrap() + "\n"
}

#[test]
fn the_published_spec_matches_the_code() {
    let generated = generated();
    let path = published_path();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "openapi/openapi.json differs from the code: run `UPDATE_OPENAPI=1 cargo test -p relais-api --test openapi` and commit the file"
    );
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    found
}

#[test]
fn every_operation_is_named_tagged_secured_and_documents_its_errors() {
    let doc = serde_json::to_value(relais_api::openapi_document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "only {} operations", ops.len());
    for (path, method, op) in ops {
        let name = format!("{method} {path}");
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            id.contains('_') && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}: operationId {id:?}"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{name}: no tag"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.contains_key("500"), "{name}: no 500");
        let public = [
            "/health",
            "/health/live",
            "/health/ready",
            "/metrics",
            "/api/v1/reference",
        ]
        .contains(&path.as_str());
        if public {
            assert!(op.get("security").is_none(), "{name} is public");
        } else {
            assert_eq!(
                op["security"][0]["bearer"],
                Value::Array(vec![]),
                "{name}: not secured"
            );
            assert!(
                responses.contains_key("401") && responses.contains_key("403"),
                "{name}: no 401/403"
            );
        }
        if op.get("requestBody").is_some() {
            assert!(
                responses.contains_key("422") && responses.contains_key("400"),
                "{name}: no 400/422"
            );
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{name}: no 404");
        }
        if method == "put" || method == "patch" {
            assert!(responses.contains_key("412"), "{name}: no 412");
        }
    }
}

#[test]
fn every_schema_has_an_example_or_examples_on_its_fields() {
    let doc = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let mut missing = vec![];
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let text = schema.to_string();
        let is_enum = schema.get("enum").is_some() || schema.get("oneOf").is_some();
        if !is_enum && !text.contains("\"example") && !text.contains("\"$ref\"") {
            missing.push(name.clone());
        }
    }
    assert!(missing.is_empty(), "schemas without examples: {missing:?}");
}
