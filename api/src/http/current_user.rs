//! The `CurrentUser` extractor: the caller the access middleware authenticated.

use std::future::{Ready, ready};
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use relais_domain::access::Principal;

use crate::auth::TokenVerifier;
use crate::http::audit::AuditTicket;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The verified holder of the request's bearer token, with the request's audit ticket when
/// its endpoint is audited (a write records its event with it, in its own transaction).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    principal: Principal,
    ticket: Option<Arc<AuditTicket>>,
}

impl CurrentUser {
    /// A caller outside the gate (the load benchmark's baselines): nothing is audited.
    pub fn unaudited(principal: Principal) -> Self {
        Self {
            principal,
            ticket: None,
        }
    }

    /// The request's audit ticket, if its endpoint is audited.
    pub fn ticket(&self) -> Option<Arc<AuditTicket>> {
        self.ticket.clone()
    }
}

impl Deref for CurrentUser {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// The principal of the request's bearer token; used by the access middleware, once per request.
/// Verification may fetch the identity provider's keys (on an unknown `kid`), off the event loop.
pub async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let (verifier, token) = bearer(req)?;
    Ok(verifier.verify_refreshing(token).await?)
}

/// The verifier and the bearer token of the request.
fn bearer(req: &HttpRequest) -> Result<(Arc<TokenVerifier>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("send a bearer token in the Authorization header".into())
    })?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must read `Bearer <token>`".into())
        })?;
    Ok((Arc::clone(&state.verifier), token.to_owned()))
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The access middleware authenticated the caller and checked the matrix before any
        // extractor runs; a handler never authenticates on its own.
        let extensions = req.extensions();
        let ticket = extensions.get::<Arc<AuditTicket>>().cloned();
        ready(
            extensions
                .get::<Principal>()
                .cloned()
                .map(|principal| CurrentUser { principal, ticket })
                .ok_or_else(|| {
                    ApiError::Internal("the access middleware did not run for this route".into())
                }),
        )
    }
}
