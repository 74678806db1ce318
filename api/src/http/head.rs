//! `HEAD` (RFC 9110 §9.3.2: every general-purpose server supports GET and HEAD). A HEAD request
//! is served as the GET of the same resource: the same access check, audit event, status and
//! headers (`ETag` included, which clients use to check a record's version without reading it).
//! The connection layer knows the request was a HEAD and sends no body.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub async fn as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
