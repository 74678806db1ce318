//! The OpenAPI document: paths and schemas are collected from the handlers by utoipa-actix-web;
//! this module adds what is common to all of them — the security scheme and the standard errors.

use std::collections::BTreeMap;

use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::{Modify, OpenApi};

use relais_domain::reference::{CodeList, Role};

use crate::http::access::{Allowed, Grant, RULES, Rule, Scope};
use crate::http::problem::{PROBLEM_JSON, Problem};
use crate::http::protection::UNLIMITED_PATHS;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Relais",
        description = "Records of the social workers placed in police stations and gendarmerie units (ISCG): \
people received, situations, interventions, confidential evaluations, hand-offs to partners.\n\n\
Authenticate with a bearer JWT (`relais token --role social_worker --post <id>` on a development instance). \
Errors are RFC 9457 problem documents (`application/problem+json`) naming the fields at fault. \
Updates take `If-Match` with the `ETag` read; lists page with `limit` and `cursor`. \
Ids are UUIDs written in lower case with hyphens (the `pattern` of every id schema): another spelling of an \
id (upper case, without hyphens, `urn:uuid:`, braces) names no record, and is answered 404. \
Requests are rate-limited per token and per client address: answers carry `RateLimit-Limit`, \
`RateLimit-Remaining` and `RateLimit-Reset` (IETF draft headers), and past the limit a 429 problem \
with `Retry-After`. \
Every answer carries `X-Request-Id`: the caller's own when it sends a well-formed one (1 to 64 letters, \
digits or `-_.:`), else a new UUID v7. Problem documents repeat it as `request_id`, and the server's \
logs name it: quote it when reporting a problem.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    // The default when `servers` is absent, said explicitly so that clients generated from the
    // document (and linters) need not guess: the API is served from the document's own origin.
    servers((url = "/", description = "The instance serving this document")),
    tags(
        (name = "health", description = "Service health, the platform's liveness and readiness probes, and Prometheus metrics"),
        (name = "reference", description = "Reference lists with French labels"),
        (name = "auth", description = "The token endpoint: a front-end's ID token exchanged, or a partner or unit system's client credentials presented, for a Relais access token (OAuth answers and errors, not problem documents)"),
        (name = "posts", description = "ISCG posts (administrators manage them)"),
        (name = "units", description = "Police and gendarmerie units (administrators manage them)"),
        (name = "members", description = "Who works where: memberships granted by administrators, and by coordinators for their posts' social workers"),
        (name = "clients", description = "The OAuth clients Relais issues to partner and unit systems without an identity provider (client credentials at the token endpoint); administrators only"),
        (name = "beneficiaries", description = "People received, read and rectified by their post's social workers"),
        (name = "situations", description = "Situations: one episode of one person at one post"),
        (name = "interventions", description = "Dated acts within a situation"),
        (name = "evaluations", description = "The confidential social evaluation of a situation"),
        (name = "partners", description = "The directory of partner organisations"),
        (name = "hand-offs", description = "Hand-offs to partners, with consent; the partner-system API"),
        (name = "events", description = "The feed of changes, polled with a cursor"),
        (name = "worklist", description = "What waits on a post or a partner, oldest first"),
        (name = "referrals", description = "People referred to a post by officers and partners"),
        (name = "requisitions", description = "Judicial requisitions (CPP 60-1 / 77-1-1): recorded by a social worker, approved by a coordinator, then exported"),
        (name = "statistics", description = "The national statistics grid and the yearly activity report"),
        (name = "audit", description = "The audit trail of accesses to personal data, read by coordinators"),
        (name = "webhooks", description = "A partner's signed webhooks and their deliveries; `webhooks` below describes what is POSTed"),
    ),
    components(schemas(Problem)),
)]
pub struct ApiDoc;

/// Every operation of `item`, whatever its method.
pub fn operations_of(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// A schema written as JSON (for the schemas generated from the domain's lists). A malformed
/// one is a bug that the contract's tests catch: it comes out as the empty schema.
pub fn schema_from_json(value: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(value)
        .unwrap_or_else(|_| RefOr::T(Schema::Object(utoipa::openapi::schema::Object::default())))
}

/// Adds the bearer scheme and the error responses every operation can give.
/// Applied once the handlers' paths are collected, so that it sees all of them.
pub struct CommonContract;

/// Standard error responses: (status, component name, description).
const STANDARD_ERRORS: [(&str, &str, &str); 9] = [
    (
        "400",
        "BadRequest",
        "The request cannot be read: malformed JSON, query string or header",
    ),
    (
        "401",
        "Unauthorized",
        "No valid bearer token: missing, expired, badly signed or for another audience",
    ),
    ("403", "Forbidden", "Your role or scope does not allow this"),
    ("413", "PayloadTooLarge", "The body is larger than 128 KiB"),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not application/json",
    ),
    (
        "422",
        "ValidationFailed",
        "The request breaks a rule; `errors` names each field at fault",
    ),
    (
        "500",
        "InternalError",
        "An unexpected failure; the cause is logged, not sent",
    ),
    (
        "429",
        "TooManyRequests",
        "A rate limit (per token or per client address) is reached; retry after `Retry-After` seconds",
    ),
    ("503", "Unavailable", "The database does not answer"),
];

/// Headers of rate-limited answers: (name, description).
const RATE_LIMIT_HEADERS: [(&str, &str); 4] = [
    (
        "RateLimit-Limit",
        "Requests allowed per minute by the tightest limit that applies (per token or per address)",
    ),
    (
        "RateLimit-Remaining",
        "Requests left before that limit is reached",
    ),
    (
        "RateLimit-Reset",
        "Seconds until the full allowance is available again",
    ),
    ("Retry-After", "Seconds to wait before retrying (429 only)"),
];

impl Modify for CommonContract {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (name, description) in RATE_LIMIT_HEADERS {
            let schema = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build();
            let mut header = Header::new(schema);
            header.description = Some(description.to_owned());
            components.headers.insert(name.to_owned(), RefOr::T(header));
        }
        let mut request_id = Header::new(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(64)),
        );
        request_id.description = Some(
            "The request's id: the caller's own `X-Request-Id` when well-formed (1 to 64 letters, \
digits or `-_.:`), else a new UUID v7. Problem documents repeat it as `request_id`; quote it when \
reporting a problem."
                .to_owned(),
        );
        components
            .headers
            .insert(REQUEST_ID.to_owned(), RefOr::T(request_id));
        for (status, name, description) in STANDARD_ERRORS {
            let mut content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem")));
            let mut response = ResponseBuilder::new().description(description);
            if status == "429" {
                content = content.example(Some(serde_json::json!({
                    "type": "/problems/too-many-requests",
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": "too many requests: retry in 6 s",
                    "request_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
                })));
                for (header, _) in RATE_LIMIT_HEADERS {
                    response = response
                        .header_ref(header, Ref::new(format!("#/components/headers/{header}")));
                }
            }
            let response = response.content(PROBLEM_JSON, content.build()).build();
            components
                .responses
                .insert(name.to_owned(), RefOr::T(response));
        }
        open_inputs_within_records(components);
        every_code_list_has_its_schema(components);
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Public (no security requirement) when the access matrix lets anyone call it.
            let public = RULES
                .iter()
                .any(|r| r.path == path.as_str() && r.allowed == Allowed::Anyone);
            // The probes and the metrics are not rate-limited (see `protection::rate_limit`).
            let limited = !UNLIMITED_PATHS.contains(&path.as_str());
            for (method, operation) in [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                optional_body_is_absent_not_null(operation);
                // The token endpoint speaks OAuth: no idempotency key (a token is never replayed),
                // and its own errors in place of the problem documents of a bad body.
                let oauth = OAUTH_PATHS.contains(&path.as_str());
                if method == "POST" && !oauth {
                    takes_an_idempotency_key(operation);
                }
                add_standard_errors(operation, public, limited, oauth);
                if let Some(rule) = RULES
                    .iter()
                    .find(|r| r.path == path.as_str() && r.method == method)
                {
                    describe_access(operation, rule);
                }
                describe_hand_off_move(operation);
                carries_the_request_id(operation, limited);
                if_match_is_one_string(operation);
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            for response in components.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response
                        .headers
                        .insert(REQUEST_ID.to_owned(), request_id_header());
                }
            }
        }
    }
}

/// What every `If-Match` says (see `http::extract::if_match`).
const IF_MATCH: &str = "The `ETag` of the version you read, such as `\"3\"`; or a list of them \
(`\"3\", \"4\"`: any of those versions); or `*` (whatever the current version). A weak tag \
(`W/\"3\"`) names the same version. When the record is at none of them, the write is a 412 naming \
its current version. Required on PUT and PATCH (428 without it), which replace what they do not \
see; optional on the moves of a state machine, which are checked against its state anyway.";

/// Every `If-Match` parameter is a string, described once (utoipa writes an optional one as
/// `string | null`, which no header can be).
fn if_match_is_one_string(operation: &mut Operation) {
    let Some(parameters) = operation.parameters.as_mut() else {
        return;
    };
    for parameter in parameters.iter_mut() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "If-Match"
        {
            parameter.description = Some(IF_MATCH.to_owned());
            parameter.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .into(),
            );
        }
    }
}

/// The header every answer carries (see `http::request_id`).
const REQUEST_ID: &str = "X-Request-Id";

fn request_id_header() -> RefOr<Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{REQUEST_ID}")))
}

/// Every answer of the operation declares `X-Request-Id`, and, when the operation is
/// rate-limited, the `RateLimit-*` headers the limits add (absent when the limits are off).
fn carries_the_request_id(operation: &mut Operation, limited: bool) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response
                .headers
                .insert(REQUEST_ID.to_owned(), request_id_header());
            if limited {
                for (header, _) in RATE_LIMIT_HEADERS {
                    if header != "Retry-After" {
                        response.headers.insert(
                            header.to_owned(),
                            RefOr::Ref(Ref::new(format!("#/components/headers/{header}"))),
                        );
                    }
                }
            }
        }
    }
}

/// What every POST says of `Idempotency-Key` (see `http::idempotency`).
const IDEMPOTENCY_KEY: &str = "Makes a retry safe: a request sent again with the same key \
changes and creates nothing more, and is answered with the first answer's status and the record \
as you may see it **now**, marked `Idempotent-Replayed: true` (so a retry after a consent \
withdrawal or an erasure shows what remains visible). The key is 1 to 255 visible ASCII \
characters, such as a UUID you draw per request; it belongs to your token's grant (role, subject \
and scope), so another token never shares it; the same key with another request (operation, \
record or body) is a 422 `reused`. Keys are kept as long as the records (`RELAIS_RETENTION_DAYS`) \
and forgotten with a person's erasure.";

/// Every POST takes `Idempotency-Key`, and its success answers say when they answer a retry.
fn takes_an_idempotency_key(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.retain(|p| !matches!(p, RefOr::T(p) if p.name == "Idempotency-Key"));
    parameters.push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(IDEMPOTENCY_KEY))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$")),
            ))
            .example(Some(serde_json::json!(
                "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
            )))
            .build()
            .into(),
    );
    // A key sent again with another request is a 422 `reused`, bodies or not.
    operation
        .responses
        .responses
        .entry("422".to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::new("#/components/responses/ValidationFailed")));
    for (status, response) in operation.responses.responses.iter_mut() {
        if !status.starts_with('2') {
            continue;
        }
        if let RefOr::T(response) = response {
            let mut header = Header::new(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["true"])),
            );
            header.description = Some(
                "`true` when this answers a retry with the same `Idempotency-Key`: nothing was changed or created".to_owned(),
            );
            response
                .headers
                .insert("Idempotent-Replayed".to_owned(), RefOr::T(header));
        }
    }
}

/// Who a role is, in a sentence of the spec.
fn role_words(role: Role) -> &'static str {
    match role {
        Role::SocialWorker => "social workers (`social_worker`)",
        Role::Coordinator => "coordinators (`coordinator`)",
        Role::Officer => "officers (`officer`)",
        Role::Partner => "partner systems (`partner`)",
        Role::Statistics => "the observatory (`statistics`)",
        Role::Admin => "administrators (`admin`)",
        Role::System => "Relais's own jobs (`system`)",
    }
}

fn scope_words(scope: Scope) -> &'static str {
    match scope {
        Scope::OwnPosts => "of the posts their token names",
        Scope::OwnUnit => "of the unit their token names",
        Scope::OwnPartner => "of the partner organisation their token names",
        Scope::All => "without a scope limit",
    }
}

/// The operation's access rule, written from the access matrix (`RULES`) that the server
/// enforces, so that the contract and the enforcement cannot drift.
fn describe_access(operation: &mut Operation, rule: &Rule) {
    let who = match rule.allowed {
        Allowed::Anyone => "**Who may call it:** anyone, without a token.".to_owned(),
        Allowed::Roles(grants) => {
            let granted: Vec<String> = grants
                .iter()
                .map(|Grant(role, scope)| format!("{} {}", role_words(*role), scope_words(*scope)))
                .collect();
            format!(
                "**Who may call it:** {}. Any other role gets 403; a record outside the caller's scope answers 404, as a missing one does.",
                granted.join("; ")
            )
        }
    };
    let audited = rule.audited.map(|kind| {
        format!(
            " **Audited:** every call, refusals included, leaves an event naming the record (`{}`), its post and its person.",
            kind.code()
        )
    });
    let text = format!("{who}{}", audited.unwrap_or_default());
    operation.description = Some(match operation.description.take() {
        Some(description) if !description.is_empty() => format!("{description}\n\n{text}"),
        _ => text,
    });
}

/// A hand-off move says, from the domain's state machine, which statuses it leads from and to.
fn describe_hand_off_move(operation: &mut Operation) {
    use relais_domain::hand_off::{HandOffAction, transition};
    use relais_domain::reference::HandOffStatus;
    let Some(id) = operation.operation_id.as_deref() else {
        return;
    };
    let Some(action) = [
        HandOffAction::Send,
        HandOffAction::Cancel,
        HandOffAction::Acknowledge,
        HandOffAction::Accept,
        HandOffAction::Decline,
        HandOffAction::Complete,
    ]
    .into_iter()
    .find(|a| crate::workflows::hand_offs::operation_of(*a) == id) else {
        return;
    };
    let moves: Vec<String> = HandOffStatus::ALL
        .iter()
        .filter_map(|from| {
            transition(*from, action)
                .ok()
                .map(|to| format!("`{}` → `{}`", from.code(), to.code()))
        })
        .collect();
    let text = format!(
        "**Legal from:** {}; from any other status the move is a 409 naming both.",
        moves.join(", ")
    );
    operation.description = Some(match operation.description.take() {
        Some(description) if !description.is_empty() => format!("{description}\n\n{text}"),
        _ => text,
    });
}

/// `/api/v1/reference` names each code list's schema; a list that no other schema uses (so that
/// utoipa did not collect it) gets its schema here, from the domain's codes.
fn every_code_list_has_its_schema(components: &mut Components) {
    for list in relais_domain::reference::LISTS {
        if components.schemas.contains_key(list.type_name) {
            continue;
        }
        let codes: Vec<&str> = (list.entries)().iter().map(|e| e.code).collect();
        let schema = serde_json::json!({
            "type": "string",
            "enum": codes,
            "description": format!("A code of the list `{}` of `GET /api/v1/reference`.", list.list),
        });
        if let Ok(schema) = serde_json::from_value(schema) {
            components.schemas.insert(list.type_name.to_owned(), schema);
        }
    }
}

/// A stored record is written as its input plus what the server adds (`allOf` of the input's
/// schema and more). Inputs refuse unknown fields (`additionalProperties: false`), which inside an
/// `allOf` would refuse the server's own fields too (`id`, `version`…) and so every record: the
/// records get an open copy of the input's schema instead; requests keep the closed one.
fn open_inputs_within_records(components: &mut Components) {
    let open_copies: BTreeMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object))
                if matches!(
                    object.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) =>
            {
                let mut open = object.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::AllOf(all_of)) = schema {
            for item in &mut all_of.items {
                if let RefOr::Ref(reference) = item
                    && let Some(open) = open_copies.get(&reference.ref_location)
                {
                    *item = RefOr::T(open.clone());
                }
            }
        }
    }
}

/// An optional body (`request_body(content = Option<T>)`, read by `OptionalJson`) may be left
/// out, which `required: false` says; utoipa also makes its schema `oneOf: [T, null]`, but a
/// literal `null` body is refused (422). The schema is `T` alone, as the server reads it.
fn optional_body_is_absent_not_null(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    if matches!(body.required, Some(Required::True)) {
        return;
    }
    let is_null = |item: &RefOr<Schema>| {
        matches!(item, RefOr::T(Schema::Object(object))
            if matches!(object.schema_type, SchemaType::Type(Type::Null)))
    };
    for content in body.content.values_mut() {
        if let RefOr::T(content) = content
            && let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
            && one_of.items.len() == 2
            && let Some(null_at) = one_of.items.iter().position(is_null)
        {
            content.schema = Some(one_of.items[1 - null_at].clone());
        }
    }
}

/// The paths that answer OAuth errors (RFC 6749 §5.2) rather than problem documents.
const OAUTH_PATHS: &[&str] = &["/api/v1/auth/token"];

fn add_standard_errors(operation: &mut Operation, public: bool, limited: bool, oauth: bool) {
    let has_body = operation.request_body.is_some();
    let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    // Public operations say so with an empty list, rather than by leaving security unsaid.
    operation.security = Some(if public {
        vec![]
    } else {
        vec![SecurityRequirement::new("bearer", Vec::<String>::new())]
    });
    for (status, name, _) in STANDARD_ERRORS {
        let applies = match status {
            "400" => has_body || has_params,
            "401" | "403" => !public,
            "415" | "422" => has_body && !oauth,
            "413" => has_body,
            "429" => limited,
            _ => true,
        };
        if applies {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
        }
    }
}
