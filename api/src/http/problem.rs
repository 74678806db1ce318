//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every failure of the API passes through `ApiError`, whose status table is below:
//! a handler never builds an error response by hand.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use relais_domain::FieldError;
use relais_domain::validation::Invalid;
use relais_persistence::StoreError;
use relais_persistence::db::DieselError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::workflows::WorkflowError;
use crate::writes::WriteError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The cause of an internal error, which `ApiError` leaves in its response's extensions so that
/// it is logged by the request-id middleware, with the request id, and never sent.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

/// Every kind of problem the API answers with: its `type` is `/problems/{slug}`. The `Problem`
/// schema lists exactly these, since `ApiError::problem_type` maps every error to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    BadRequest,
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    StaleVersion,
    PreconditionRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl ProblemType {
    pub const ALL: &'static [Self] = &[
        Self::BadRequest,
        Self::Validation,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::StaleVersion,
        Self::PreconditionRequired,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::TooManyRequests,
        Self::Unavailable,
        Self::Internal,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Validation => "validation",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::StaleVersion => "stale-version",
            Self::PreconditionRequired => "precondition-required",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::TooManyRequests => "too-many-requests",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "The request cannot be read",
            Self::Validation => "The request is not valid",
            Self::Unauthorized => "Authentication is required",
            Self::Forbidden => "Access is not allowed",
            Self::NotFound => "No such resource",
            Self::MethodNotAllowed => "The method is not allowed here",
            Self::Conflict => "The request conflicts with the stored state",
            Self::StaleVersion => "The record has changed since it was read",
            Self::PreconditionRequired => "If-Match is required",
            Self::PayloadTooLarge => "The body is too large",
            Self::UnsupportedMediaType => "The body must be JSON",
            Self::TooManyRequests => "Too Many Requests",
            Self::Unavailable => "The service is unavailable",
            Self::Internal => "Internal error",
        }
    }

    /// The problem's `type`, a URI reference relative to the API's origin.
    pub fn uri(self) -> String {
        format!("/problems/{}", self.slug())
    }
}

/// The `type` of a problem: one of [`ProblemType::ALL`] (the schema of `Problem.type`).
fn problem_type_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let uris: Vec<String> = ProblemType::ALL.iter().map(|t| t.uri()).collect();
    let described: Vec<String> = ProblemType::ALL
        .iter()
        .map(|t| format!("`{}`: {}", t.uri(), t.title()))
        .collect();
    crate::http::openapi::schema_from_json(serde_json::json!({
        "type": "string",
        "enum": uris,
        "description": format!("URI reference naming the kind of problem: {}.", described.join("; ")),
        "example": "/problems/validation",
    }))
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation",
    "title": "The request is not valid",
    "status": 422,
    "detail": "1 field is not valid",
    "errors": [{"field": "principal_problem", "code": "not_among_problems", "message": "must be one of the problems"}],
    "request_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
}))]
pub struct Problem {
    /// URI reference naming the kind of problem.
    #[serde(rename = "type")]
    #[schema(schema_with = problem_type_schema)]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The fields at fault, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request's id (RFC 9457 extension member), also sent as the `X-Request-Id` header and
    /// written in the server's logs: quote it when reporting a problem. Always present in answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        value_type = String,
        required = true,
        example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        max_length = 64
    )]
    pub request_id: Option<String>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read: malformed JSON, bad query string or header.
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The request was read but breaks the rules.
    #[error("{}", .0)]
    Invalid(Invalid),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The path exists but does not answer this method; `allow` lists those it answers.
    #[error("{method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
    #[error("{0}")]
    Conflict(String),
    #[error("the record is at version {current}; read it again and retry with that version")]
    StaleVersion { current: i64 },
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("the body is larger than the {limit} bytes accepted")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A rate limit is reached; `Retry-After` says when to try again.
    #[error("too many requests: retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected. The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let field = field.into();
        ApiError::BadRequest {
            errors: vec![FieldError::new(field, "unreadable", detail.clone())],
            detail,
        }
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(Invalid::one(field, code, message))
    }

    /// The kind of problem, which names its `type` and `title`.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::BadRequest { .. } => ProblemType::BadRequest,
            ApiError::Invalid(_) => ProblemType::Validation,
            ApiError::Unauthorized(_) => ProblemType::Unauthorized,
            ApiError::Forbidden(_) => ProblemType::Forbidden,
            ApiError::NotFound(_) => ProblemType::NotFound,
            ApiError::MethodNotAllowed { .. } => ProblemType::MethodNotAllowed,
            ApiError::Conflict(_) => ProblemType::Conflict,
            ApiError::StaleVersion { .. } => ProblemType::StaleVersion,
            ApiError::PreconditionRequired(_) => ProblemType::PreconditionRequired,
            ApiError::PayloadTooLarge { .. } => ProblemType::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ProblemType::UnsupportedMediaType,
            ApiError::TooManyRequests { .. } => ProblemType::TooManyRequests,
            ApiError::Unavailable(_) => ProblemType::Unavailable,
            ApiError::Internal(_) => ProblemType::Internal,
        }
    }

    pub fn problem(&self) -> Problem {
        let kind = self.problem_type();
        let errors = match self {
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::Invalid(Invalid(errors)) => errors.clone(),
            _ => Vec::new(),
        };
        let detail = match self {
            ApiError::Invalid(Invalid(errors)) if errors.len() == 1 => {
                format!("{}: {}", errors[0].field, errors[0].message)
            }
            ApiError::Invalid(Invalid(errors)) => format!("{} fields are not valid", errors.len()),
            other => other.to_string(),
        };
        Problem {
            kind: kind.uri(),
            title: kind.title().to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            // Filled by the request-id middleware, which sees every answer (see `request_id`).
            request_id: None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::StaleVersion { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::Internal(cause) = self {
            // Logged with the request id by the request-id middleware; never sent.
            response
                .extensions_mut()
                .insert(InternalCause(cause.clone()));
        }
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let ApiError::TooManyRequests { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            // The database is out of reach for now; a balancer or a client may try again soon.
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(1)));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self
            && let Ok(allow) = HeaderValue::from_str(allow)
        {
            response.insert_header((header::ALLOW, allow));
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::Invalid(invalid)
    }
}

pub use crate::causes::chain as cause_chain;

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Refused(why) => ApiError::Unauthorized(why),
            AuthError::Invalid(invalid) => ApiError::Invalid(invalid),
            AuthError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> Self {
        match error {
            WorkflowError::NotFound(detail) => ApiError::NotFound(detail),
            WorkflowError::Forbidden(detail) => ApiError::Forbidden(detail),
            WorkflowError::Conflict(detail) => ApiError::Conflict(detail),
            WorkflowError::Stale { current } => ApiError::StaleVersion { current },
            WorkflowError::PreconditionRequired(detail) => ApiError::PreconditionRequired(detail),
            WorkflowError::Invalid(invalid) => ApiError::Invalid(invalid),
            WorkflowError::Store(error) => error.into(),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Store(error) => error.into(),
            WriteError::CommitFailed(failure) if failure.unavailable => {
                ApiError::Unavailable(failure.why)
            }
            other => ApiError::Internal(cause_chain(&other)),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("no such record".into()),
            StoreError::StaleVersion { current } => ApiError::StaleVersion { current },
            StoreError::PreconditionRequired => ApiError::PreconditionRequired(
                "the record exists: send If-Match with its version".into(),
            ),
            StoreError::Invalid(invalid) => ApiError::Invalid(invalid),
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::Pool(e) => {
                ApiError::Unavailable(format!("no database connection available: {e}"))
            }
            StoreError::Unavailable(why) => ApiError::Unavailable(why),
            other => ApiError::Internal(cause_chain(&other)),
        }
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        StoreError::from(error).into()
    }
}
