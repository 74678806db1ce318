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

/// Every `$ref` in `value`, with where it stands.
fn refs<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push((at.clone(), target)),
                    _ => refs(inner, format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                refs(inner, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    // A type named only in a query parameter is not registered as a component by itself: its
    // `$ref` would point nowhere and generated clients would not build.
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty());
    for (at, target) in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {target}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: {target} resolves to nothing"
        );
    }
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
            "/api/v1/auth/token",
        ]
        .contains(&path.as_str());
        if public {
            assert_eq!(op["security"], Value::Array(vec![]), "{name} is public");
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
        if path == "/api/v1/auth/token" {
            // OAuth's token endpoint: its refusals are RFC 6749 errors, all 400.
            assert!(responses.contains_key("400"), "{name}: no 400");
        } else if op.get("requestBody").is_some() {
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

/// Responses must be able to validate: a record written as `allOf` of its input and more must not
/// take in the input's `additionalProperties: false`, which would refuse the record's own fields.
#[test]
fn no_record_schema_is_made_of_a_closed_input() {
    let doc = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let closed = |reference: &str| {
        let name = reference.trim_start_matches("#/components/schemas/");
        schemas[name]["additionalProperties"] == Value::Bool(false)
    };
    for name in ["Post", "Unit", "Partner", "Beneficiary", "Intervention"] {
        let parts = schemas[name]["allOf"].as_array().unwrap();
        for part in parts {
            assert_ne!(part["additionalProperties"], Value::Bool(false), "{name}");
            if let Some(reference) = part["$ref"].as_str() {
                assert!(
                    !closed(reference),
                    "{name} is made of the closed {reference}"
                );
            }
        }
    }
    // Requests keep refusing unknown fields.
    assert_eq!(schemas["PostInput"]["additionalProperties"], false);
}

/// `HandOffView` and `ReferralView` are `oneOf`s: the post's full record must not also pass as
/// the narrow view the partner or the sender gets.
#[test]
fn the_views_of_a_hand_off_or_a_referral_exclude_each_other() {
    let doc = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (record, narrow) in [
        ("HandOff", "PartnerHandOff"),
        ("Referral", "ReferralReceipt"),
    ] {
        let narrow_schema = &schemas[narrow];
        assert_eq!(narrow_schema["additionalProperties"], false, "{narrow}");
        let narrow_fields = narrow_schema["properties"].as_object().unwrap();
        let record_fields = schemas[record]["allOf"][1]["required"].as_array().unwrap();
        assert!(
            record_fields
                .iter()
                .any(|field| !narrow_fields.contains_key(field.as_str().unwrap())),
            "every field {record} requires is allowed in {narrow}"
        );
    }
}

/// Display names are the post's: no schema a partner or an officer reads (a partner's hand-off,
/// a referral's receipt) nor any event carries a name field.
#[test]
fn no_view_of_a_partner_or_an_officer_nor_any_event_carries_a_name() {
    let doc = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let fields = [
        "recorded_by_name",
        "created_by_name",
        "withdrawn_by_name",
        "written_by_name",
        "decided_by_name",
        "produced_by_name",
        "subject_name",
        "by_name",
    ];
    let outside: Vec<&String> = schemas
        .keys()
        .filter(|name| {
            [
                "PartnerHandOff",
                "PartnerTransition",
                "ReferralReceipt",
                "ReferralForSender",
                "SharedPerson",
            ]
            .contains(&name.as_str())
                || (!name.starts_with("Named")
                    && (name.ends_with("Event") || name.ends_with("Data")))
        })
        .collect();
    assert!(outside.len() >= 10, "{outside:?}");
    for name in outside {
        let text = schemas[name].to_string();
        for field in fields {
            assert!(
                !text.contains(&format!("\"{field}\"")),
                "{name} has {field}"
            );
        }
    }
    // The post's views do.
    assert!(
        schemas["NamedAuditEvent"]
            .to_string()
            .contains("\"subject_name\"")
    );
    assert!(
        schemas["NamedTransition"]
            .to_string()
            .contains("\"by_name\"")
    );
}

/// A code list's schema in the spec must list exactly the codes the API writes (a variant named
/// `Cpp60_1` with the code `cpp_60_1` once came out as `cpp60_1` in the spec), and
/// `/api/v1/reference` names every one of them, with the schema of its codes.
#[test]
fn every_code_list_is_in_the_reference_schema_with_the_codes_the_api_writes() {
    use relais_domain::reference::LISTS;
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let schemas = &document["components"]["schemas"];
    let reference = &schemas["Reference"];
    assert_eq!(reference["additionalProperties"], false);
    assert_eq!(
        reference["properties"].as_object().unwrap().len(),
        LISTS.len()
    );
    for list in LISTS {
        let listed: Vec<&str> = schemas[list.type_name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no enum in the spec", list.type_name))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let codes: Vec<&str> = (list.entries)().iter().map(|e| e.code).collect();
        assert_eq!(listed, codes, "{}", list.type_name);
        assert_eq!(
            reference["properties"][list.list]["items"]["properties"]["code"]["$ref"],
            format!("#/components/schemas/{}", list.type_name),
            "{}",
            list.list
        );
    }
    // Any other closed list of codes in the contract is not a reference list, and says why here.
    let not_code_lists = [
        // The statistics grid's own axes, each described in the grid's schema.
        "Counted",
        "Dimension",
        // How this instance verifies tokens, told by the readiness probe: a fact of the
        // deployment, which no record carries.
        "TokenSigning",
    ];
    for (name, schema) in schemas.as_object().unwrap() {
        if schema["type"] == "string" && schema["enum"].is_array() {
            assert!(
                LISTS.iter().any(|l| l.type_name == name)
                    || not_code_lists.contains(&name.as_str()),
                "{name} is a list of codes that /api/v1/reference does not serve"
            );
        }
    }
}

/// The event catalogue: `Event` is a `oneOf` whose discriminator maps every event type of the
/// domain to the schema of its family, each family's `type` lists exactly its types, and each
/// type is described.
#[test]
fn the_event_catalogue_names_every_event_type() {
    use relais_domain::event::EventFamily;
    use relais_domain::reference::{CodeList, EventType};
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let schemas = &document["components"]["schemas"];
    let mapping = schemas["Event"]["discriminator"]["mapping"]
        .as_object()
        .unwrap();
    assert_eq!(schemas["Event"]["discriminator"]["propertyName"], "type");
    assert_eq!(mapping.len(), EventType::ALL.len());
    for kind in EventType::ALL {
        let family = kind.family();
        assert_eq!(
            mapping[kind.code()],
            format!("#/components/schemas/{}", family.event_schema())
        );
        let member = &schemas[family.event_schema()];
        assert!(
            member["properties"]["type"]["enum"]
                .as_array()
                .unwrap()
                .contains(&Value::from(kind.code())),
            "{kind}"
        );
        assert!(
            member["description"]
                .as_str()
                .unwrap()
                .contains(kind.description()),
            "{kind} is not described"
        );
        assert_eq!(
            member["properties"]["data"]["$ref"],
            format!("#/components/schemas/{}", family.data_schema())
        );
    }
    assert_eq!(
        schemas["Event"]["oneOf"].as_array().unwrap().len(),
        EventFamily::ALL.len()
    );
    // The webhook body is the same schema as the feed's items.
    assert_eq!(
        document["webhooks"]["event"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/Event"
    );
    assert_eq!(
        schemas["EventPage"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/Event"
    );
}

/// Every id schema tells a client the one spelling the server accepts (another is a 404), and
/// says it with the pattern the server's parser applies.
#[test]
fn every_id_schema_gives_the_one_spelling_of_an_id() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let ids: Vec<(&String, &Value)> = schemas
        .iter()
        .filter(|(name, _)| name.ends_with("Id"))
        .collect();
    assert!(ids.len() >= 10, "{ids:?}");
    for (name, schema) in ids {
        assert_eq!(schema["format"], "uuid", "{name}");
        assert_eq!(
            schema["pattern"],
            relais_domain::ids::CANONICAL_PATTERN,
            "{name}"
        );
        let example = schema["example"].as_str().unwrap();
        assert!(relais_domain::ids::canonical(example).is_ok(), "{name}");
    }
}

/// Who may call an operation is in its description, written from the access matrix the server
/// enforces: each role the row grants is named, no other one is.
#[test]
fn every_operation_says_who_may_call_it_as_the_access_matrix_enforces() {
    use relais_api::http::access::{Allowed, rule_for};
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let roles = [
        "social_worker",
        "coordinator",
        "officer",
        "partner",
        "statistics",
        "admin",
    ];
    for (path, method, operation) in operations(&doc) {
        let description = operation["description"].as_str().unwrap_or_default();
        let rule = rule_for(&method.to_uppercase().parse().unwrap(), &path).unwrap();
        let said = description
            .split("**Who may call it:**")
            .nth(1)
            .unwrap_or_else(|| panic!("{method} {path} does not say who may call it"));
        let said = said.split("**Audited:**").next().unwrap();
        match rule.allowed {
            Allowed::Anyone => assert!(said.contains("anyone"), "{method} {path}"),
            Allowed::Roles(_) => {
                for role in roles {
                    let granted = rule.scope_of(role.parse().unwrap()).is_some();
                    assert_eq!(
                        said.contains(&format!("`{role}`")),
                        granted,
                        "{method} {path}: {role}"
                    );
                }
            }
        }
        assert_eq!(
            description.contains("**Audited:**"),
            rule.audited.is_some(),
            "{method} {path}"
        );
    }
}

/// Each media type of each operation (paths and webhooks), request or answer.
fn media_types(doc: &Value) -> Vec<(String, String, String, Value)> {
    let mut found = Vec::new();
    let mut items: Vec<(&String, &Value)> = doc["paths"].as_object().unwrap().iter().collect();
    items.extend(doc["webhooks"].as_object().unwrap().iter());
    for (path, item) in items {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                for (media, body) in content {
                    found.push((name.clone(), "request".into(), media.clone(), body.clone()));
                }
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let response = match response["$ref"].as_str() {
                    Some(target) => {
                        doc["components"]["responses"][target.rsplit('/').next().unwrap()].clone()
                    }
                    None => response.clone(),
                };
                if let Some(content) = response["content"].as_object() {
                    for (media, body) in content {
                        found.push((name.clone(), status.clone(), media.clone(), body.clone()));
                    }
                }
            }
        }
    }
    found
}

fn validator_for(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap()
}

/// Every JSON request body and every 2xx JSON answer shows a whole example at its media type,
/// and every example of the contract (errors included) is valid against its schema.
#[test]
fn every_body_and_answer_has_a_whole_example_valid_against_its_schema() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (operation, part, media, content) in media_types(&doc) {
        let example = content.get("example").cloned().or_else(|| {
            content["examples"]
                .as_object()
                .and_then(|e| e.values().next())
                .map(|e| e["value"].clone())
        });
        let json_success =
            media == "application/json" && (part == "request" || part.starts_with('2'));
        if json_success && example.is_none() {
            wrong.push(format!("{operation} {part} {media}: no example"));
        }
        let Some(example) = example else { continue };
        let validator = validator_for(&doc, &content["schema"]);
        let errors: Vec<String> = validator
            .iter_errors(&example)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            wrong.push(format!(
                "{operation} {part} {media}: the example does not match its schema: {errors:#?}\n{example}"
            ));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 70, "only {checked} examples");
}

/// Every schema with alternatives names them with a discriminator, each alternative a named
/// schema requiring the discriminating property with its one value: no client guesses.
#[test]
fn every_schema_with_alternatives_has_a_discriminator() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut unions = 0;
    for (name, schema) in schemas {
        let Some(members) = schema["oneOf"].as_array() else {
            continue;
        };
        unions += 1;
        let property = schema["discriminator"]["propertyName"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has alternatives and no discriminator"));
        let mapping = schema["discriminator"]["mapping"].as_object().unwrap();
        for member in members {
            let target = member["$ref"].as_str().unwrap();
            let member_name = target.rsplit('/').next().unwrap();
            let member_schema = &schemas[member_name];
            let tagged = |part: &Value| {
                part["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&Value::from(property)))
            };
            assert!(
                tagged(member_schema)
                    || member_schema["allOf"]
                        .as_array()
                        .is_some_and(|parts| parts.iter().any(tagged)),
                "{member_name} does not require {property}"
            );
            assert!(
                mapping.values().any(|v| v == target),
                "{name}: {member_name} is not in the mapping"
            );
        }
    }
    assert!(unions >= 3, "Event, HandOffView and ReferralView");
}

/// Every create links to the operations on what it created, and every link names an operation
/// of the contract that takes the record's id in its path, so a stateful tester chains real calls.
#[test]
fn every_create_links_to_the_operations_on_what_it_created() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let ops = operations(&doc);
    let takes_an_id = |id: &str| {
        ops.iter()
            .any(|(path, _, op)| op["operationId"] == id && path.contains("{id}"))
    };
    let mut links = 0;
    for (path, method, op) in &ops {
        let name = op["operationId"].as_str().unwrap();
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(found) = response["links"].as_object() else {
                continue;
            };
            for (link, target) in found {
                let target = target["operationId"].as_str().unwrap();
                assert!(
                    takes_an_id(target),
                    "{name} → {link}: {target} takes no path id"
                );
                links += 1;
            }
            assert!(status.starts_with('2'), "{method} {path} {status}");
        }
        if name.starts_with("create_") {
            assert!(
                op["responses"]["201"]["links"]
                    .as_object()
                    .is_some_and(|l| !l.is_empty()),
                "{name} links to nothing"
            );
        }
    }
    assert!(links >= 40, "{links} links");
}

/// The error vocabulary is closed: `Problem.type` lists every kind of problem the server
/// answers with; and every answer, errors included, declares `X-Request-Id`.
#[test]
fn problem_types_are_listed_and_every_answer_declares_its_request_id_and_rate_limits() {
    use relais_api::http::problem::ProblemType;
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let listed: Vec<&str> = doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let kinds: Vec<String> = ProblemType::ALL.iter().map(|t| t.uri()).collect();
    assert_eq!(listed, kinds);
    for (path, method, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = match response["$ref"].as_str() {
                Some(target) => &doc["components"]["responses"][target.rsplit('/').next().unwrap()],
                None => response,
            };
            assert_eq!(
                response["headers"]["X-Request-Id"]["$ref"], "#/components/headers/X-Request-Id",
                "{method} {path} {status}"
            );
        }
    }
}

/// Every list is paged the same way: an object with `items` and `next_cursor`, read with
/// `limit` and `cursor` (the feed pages by its own order, `after` and `next_after`); no answer is
/// a bare array but the HSDS export, whose format is an array.
#[test]
fn every_list_is_paged_the_same_way() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let mut lists = 0;
    for (path, method, op) in operations(&doc) {
        let Some(schema) = op["responses"]["200"]["content"]["application/json"].get("schema")
        else {
            continue;
        };
        let name = op["operationId"].as_str().unwrap();
        if name == "export_partners_hsds" {
            continue;
        }
        assert_ne!(
            schema["type"], "array",
            "{method} {path} answers a bare array"
        );
        let Some(target) = schema["$ref"].as_str() else {
            continue;
        };
        let page = target.rsplit('/').next().unwrap();
        if !page.ends_with("Page") {
            continue;
        }
        lists += 1;
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let (cursor, next) = if page == "EventPage" {
            ("after", "next_after")
        } else {
            ("cursor", "next_cursor")
        };
        assert!(
            params.contains(&"limit") && params.contains(&cursor),
            "{name}: {params:?}"
        );
        assert!(
            schemas[page]["properties"]["items"]["type"] == "array",
            "{page}"
        );
        assert!(
            schemas[page]["properties"].get(next).is_some(),
            "{page} has no {next}"
        );
    }
    assert!(lists >= 12, "{lists} lists");
}
