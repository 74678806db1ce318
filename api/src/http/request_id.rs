//! Request ids: every request gets one, echoed in `X-Request-Id`, written in the access log line,
//! added to every problem+json body as `request_id`, and named when an unexpected 500 is logged.
//!
//! A well-formed incoming `X-Request-Id` (from a load balancer or the client) is kept, so that one
//! id follows the request across systems; anything else is replaced by a new UUID v7.
//!
//! The problem bodies are completed here, after the fact, rather than by the problem renderer:
//! this middleware sees every problem+json answer whoever built it — handlers, extractors' error
//! handlers, the access and rate-limit middlewares and the 404 fallback. A task-local read by the renderer would need
//! every such place to run inside its scope, which responses built by actix outside the
//! handler's future do not; and passing the request to each `ApiError` would touch every
//! handler. The price is re-writing the few hundred bytes of an error body, on errors only.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};

use crate::http::problem::{InternalCause, PROBLEM_JSON};

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest incoming id kept.
pub const MAX_CHARS: usize = 64;

/// The id of the request being served, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// An incoming id is kept when it is 1 to 64 characters among letters, digits and `-_.:`
/// (UUIDs, ULIDs, hex trace ids…): nothing that could forge or break a log line.
pub fn well_formed(value: &str) -> bool {
    (1..=MAX_CHARS).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The middleware; see the module's documentation.
pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    // (The request cannot be kept aside to answer an `Err` here: a second reference to it
    // breaks routing. Handlers' and extractors' errors arrive as answers; an `Err` comes only
    // from a middleware that cannot run at all, and actix renders it without the id.)
    let response = next.call(req).await.inspect_err(|error| {
        log::error!("request {id}: failed before any answer: {error}");
    })?;
    let (request, mut response) = response.map_into_boxed_body().into_parts();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        let cause = response
            .extensions()
            .get::<InternalCause>()
            .map_or_else(|| "no cause recorded".to_owned(), |c| c.0.clone());
        log::error!(
            "request {id}: {} {} answered 500: {cause}",
            request.method(),
            request.path()
        );
    }
    let response = if is_problem(&response) {
        let (response, body) = response.into_parts();
        match body.try_into_bytes() {
            Ok(bytes) => response.set_body(BoxBody::new(with_request_id(bytes, &id))),
            Err(body) => response.set_body(body),
        }
    } else {
        response
    };
    Ok(ServiceResponse::new(request, response))
}

fn is_problem(response: &HttpResponse) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

/// The problem document with its `request_id` member; an unreadable body is left as it is.
fn with_request_id(body: Bytes, id: &str) -> Bytes {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body) {
        Ok(mut problem) => {
            problem.insert("request_id".to_owned(), id.into());
            serde_json::to_vec(&problem).map_or(body, Bytes::from)
        }
        Err(_) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        for good in [
            "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
            "01J9Z3K5T2",
            "abc_def.1:2",
            &"a".repeat(64),
        ] {
            assert!(well_formed(good), "{good}");
        }
        for bad in [
            "",
            &"a".repeat(65),
            "a b",
            "a\"b",
            "é",
            "a\nb",
            "a/b",
            "a;b",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_id_joins_the_problem_after_its_members() {
        let body = Bytes::from_static(br#"{"type":"/problems/x","status":404}"#);
        assert_eq!(
            with_request_id(body, "r1"),
            Bytes::from_static(br#"{"type":"/problems/x","status":404,"request_id":"r1"}"#)
        );
        let broken = Bytes::from_static(b"not json");
        assert_eq!(with_request_id(broken.clone(), "r1"), broken);
    }
}
