//! Request extractors that turn unreadable input into problem+json naming the field at fault.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use relais_domain::FieldError;
use relais_domain::version::Expected;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::http::problem::ApiError;

/// The largest request body accepted. An evaluation of 20,000 characters fits with room to spare.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// A JSON body, read strictly: JSON media type, size limit, unknown fields refused,
/// and every error tied to the path of the field at fault.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json_media_type = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json_media_type {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                ));
            }
            let bytes = body.await.map_err(body_error)?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Whether the request says its body is JSON (`application/json` or `…+json`).
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

fn body_error(e: actix_web::Error) -> ApiError {
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        }
    } else {
        ApiError::BadRequest {
            detail: format!("the body cannot be read: {e}"),
            errors: vec![],
        }
    }
}

/// A JSON body that may be left out entirely (then `T::default()`), for actions whose
/// body only carries optional details.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json_media_type = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(body_error)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Ok(OptionalJson(T::default()))
            } else if json_media_type {
                parse_json(&bytes).map(OptionalJson)
            } else {
                Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                ))
            }
        })
    }
}

/// Reads `bytes` as a `T`, naming the field at fault on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = without_position(&inner.to_string());
        if inner.is_data() {
            // A value of the wrong type or an unknown code or field: readable JSON that breaks the contract.
            let field = field_of(&path, &message);
            ApiError::Invalid(relais_domain::validation::Invalid(vec![FieldError::new(
                field,
                "invalid_value",
                message,
            )]))
        } else {
            ApiError::BadRequest {
                detail: format!(
                    "the body is not valid JSON (line {}, column {}): {message}",
                    inner.line(),
                    inner.column()
                ),
                errors: vec![],
            }
        }
    })?;
    deserializer.end().map_err(|e| ApiError::BadRequest {
        detail: format!(
            "the body has trailing characters after the JSON value: {}",
            without_position(&e.to_string())
        ),
        errors: vec![],
    })?;
    Ok(value)
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a serde error is about: its path, or for unknown and missing fields the named field under it.
fn field_of(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        // Query strings report an unknown key with the key itself as the path.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (path, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

/// Query parameters, read strictly (unknown parameters refused) and checked with `validator`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Validate> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = field_of(&path, &message);
        ApiError::bad_field(field.clone(), format!("query parameter {field}: {message}"))
    })?;
    value.validate().map_err(|errors| {
        let errors = flatten_validation("", &errors);
        ApiError::BadRequest {
            detail: errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        }
    })?;
    Ok(value)
}

fn flatten_validation(prefix: &str, errors: &ValidationErrors) -> Vec<FieldError> {
    let mut flat = Vec::new();
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => flat.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .as_ref()
                    .map_or_else(|| e.code.to_string(), ToString::to_string);
                FieldError::new(path.clone(), &e.code, message)
            })),
            ValidationErrorsKind::Struct(inner) => flat.extend(flatten_validation(&path, inner)),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flat.extend(flatten_validation(&format!("{path}[{index}]"), inner));
                }
            }
        }
    }
    flat
}

/// The versions named by a required `If-Match` (428 without it).
#[derive(Debug, Clone)]
pub struct IfMatch(pub Expected);

/// The versions named by `If-Match`, when the header is optional (`None` without it).
#[derive(Debug, Clone)]
pub struct OptionalIfMatch(pub Option<Expected>);

impl IfMatch {
    /// The version to write over: `current`, the stored one, if `If-Match` admits it; else the
    /// write is stale (412 naming the current version).
    pub fn admitted(&self, current: i64) -> Result<i64, ApiError> {
        if self.0.admits(current) {
            Ok(current)
        } else {
            Err(ApiError::StaleVersion { current })
        }
    }
}

impl OptionalIfMatch {
    /// What the write expects: without `If-Match`, any version.
    pub fn or_any(self) -> Expected {
        self.0.unwrap_or(Expected::Any)
    }
}

/// `If-Match` as RFC 9110 §13.1.1 writes it: `*`, or a list of entity tags. Our tags name
/// versions, not bytes, so a weak tag (`W/"3"`, as a compressing proxy may rewrite ours) names
/// the same version as the strong one.
fn if_match(req: &HttpRequest) -> Result<Option<Expected>, ApiError> {
    let values: Vec<&header::HeaderValue> = req.headers().get_all(header::IF_MATCH).collect();
    if values.is_empty() {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for value in values {
        let text = value.to_str().unwrap_or_default();
        for tag in text.split(',').map(str::trim) {
            if tag == "*" {
                return Ok(Some(Expected::Any));
            }
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            let version = opaque
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok());
            match version {
                Some(version) => versions.push(version),
                None => {
                    return Err(ApiError::bad_field(
                        "If-Match",
                        format!(
                            "If-Match must be `*` or entity tags from the ETag, such as \"1\" or \"1\", \"2\"; got {text:?}"
                        ),
                    ));
                }
            }
        }
    }
    Ok(Some(Expected::OneOf(versions)))
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if_match(req).and_then(|expected| {
            expected.map(IfMatch).ok_or_else(|| {
                ApiError::PreconditionRequired(
                    "send If-Match with the version from the ETag of the record you read (or `*`)"
                        .into(),
                )
            })
        }))
    }
}

impl FromRequest for OptionalIfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if_match(req).map(OptionalIfMatch))
    }
}

/// The `ETag` of a record at `version`.
pub fn etag(version: i64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        year: i32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    fn fields(err: ApiError) -> Vec<String> {
        err.problem().errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn wrong_types_name_the_nested_field() {
        let err = parse_json::<Outer>(br#"{"name":"x","inner":{"year":"1987"}}"#).unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)));
        assert_eq!(fields(err), ["inner.year"]);
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let unknown =
            parse_json::<Outer>(br#"{"name":"x","inner":{"year":1},"extra":1}"#).unwrap_err();
        assert_eq!(fields(unknown), ["extra"]);
        let missing = parse_json::<Outer>(br#"{"name":"x","inner":{}}"#).unwrap_err();
        assert_eq!(fields(missing), ["inner.year"]);
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"name\":"),
            Err(ApiError::BadRequest { .. })
        ));
        assert!(matches!(
            parse_json::<Outer>(br#"{"name":"x","inner":{"year":1}} trailing"#),
            Err(ApiError::BadRequest { .. })
        ));
    }
}
