//! The `CurrentUser` extractor: the caller the access middleware authenticated.

use std::future::{Ready, ready};
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use relais_domain::access::Principal;

use crate::auth::{Authorization, Identity, TokenVerifier};
use crate::http::audit::AuditTicket;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::workflows;
use relais_domain::member::Member;
use relais_domain::reference::MemberStatus;
use relais_persistence::DbConnection;
use relais_persistence::members;

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
///
/// With memberships (`RELAIS_AUTHORIZATION`), the token's identity is looked up at every request,
/// with no cache: a revocation or a move committed on any replica holds from the next request
/// on. The lookup is one read by a unique index, the same round trip a cache's version check
/// would cost.
pub async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = app_state(req)?;
    let (verifier, token) = bearer(req, state)?;
    let claims = verifier.claims_refreshing(token).await?;
    match state.authorization {
        Authorization::Claims => Ok(claims.into_principal()?),
        Authorization::Both if claims.carries_role() => Ok(claims.into_principal()?),
        Authorization::Memberships | Authorization::Both => {
            membership_principal(state, claims.identity()?).await
        }
    }
}

/// The principal of the identity's live membership; at an invitation's first login, the
/// invitation of its verified e-mail is bound to it first.
async fn membership_principal(state: &AppState, identity: Identity) -> Result<Principal, ApiError> {
    member_of_identity(state, identity, None)
        .await?
        .map(|m| m.principal())
        .ok_or_else(|| ApiError::Forbidden(NO_MEMBERSHIP.into()))
}

/// Why an identity without a live membership is refused.
pub const NO_MEMBERSHIP: &str = "this identity has no membership in Relais, or it was revoked: ask an administrator or your post's coordinator";

/// What a caller of [`member_of_identity`] writes with the membership found, in the transaction
/// of the binding if there is one (the token exchange records who got a token).
pub type Recorder = Box<dyn FnOnce(&mut DbConnection, &Member) -> Result<(), ApiError> + Send>;

/// The live membership of `identity`, if any: the one mapping of an identity to a membership,
/// shared by identity-only bearer tokens and the token exchange (`POST /api/v1/auth/token`).
///
/// One read finds the membership (by `iss` and `sub`; else, for a token naming its OAuth client
/// (`client_id`), the machine membership of `iss` and that client; or by its id, for a token of
/// this instance's token endpoint), or else whether the verified e-mail has an invitation waiting; only
/// then is a write transaction opened, to bind it (audited, told to the posts). A person with
/// neither costs one read per request and writes nothing. With `record`, what it writes goes in
/// one transaction with the binding, or in a transaction of its own.
pub async fn member_of_identity(
    state: &AppState,
    identity: Identity,
    record: Option<Recorder>,
) -> Result<Option<Member>, ApiError> {
    let Identity {
        issuer,
        subject,
        verified_email,
        client_id,
    } = identity;
    let named = state
        .front_door
        .as_ref()
        .and_then(|door| door.member_named(&issuer, &subject));
    let (iss, sub, email) = (issuer.clone(), subject.clone(), verified_email.clone());
    let found = state
        .read(move |conn| {
            if let Some(id) = named {
                return Ok(match members::get(conn, id) {
                    Ok(member) if member.status == MemberStatus::Active => {
                        Found::Member(Box::new(member))
                    }
                    Ok(_) | Err(relais_persistence::StoreError::NotFound) => Found::Nothing,
                    Err(e) => return Err(e.into()),
                });
            }
            if let Some(member) = members::active_for_identity(conn, &iss, &sub)? {
                return Ok(Found::Member(Box::new(member)));
            }
            // A machine: no membership names its subject, its client is mapped.
            if let Some(client_id) = &client_id
                && let Some(member) = members::active_for_client(conn, &iss, client_id)?
            {
                return Ok(Found::Member(Box::new(member)));
            }
            Ok(match email {
                Some(email) if members::invitation_pending(conn, &email)? => Found::Invitation,
                _ => Found::Nothing,
            })
        })
        .await?;
    match (found, verified_email) {
        (Found::Member(member), _) => match record {
            Some(record) => state
                .write_unaudited(move |conn| {
                    record(conn, &member)?;
                    Ok(*member)
                })
                .await
                .map(Some),
            None => Ok(Some(*member)),
        },
        (Found::Invitation, Some(email)) => {
            let now = state.clock.now();
            state
                .write_unaudited(move |conn| {
                    let bound = workflows::members::bind_at_first_login(
                        conn, &email, &issuer, &subject, now,
                    )?;
                    let member = match bound {
                        Some(member) => Some(member),
                        // Two first logins of one person at once: the other one bound it.
                        None => members::active_for_identity(conn, &issuer, &subject)?,
                    };
                    if let (Some(member), Some(record)) = (&member, record) {
                        record(conn, member)?;
                    }
                    Ok(member)
                })
                .await
        }
        _ => Ok(None),
    }
}

/// What the first read of `member_of_identity` found.
enum Found {
    Member(Box<Member>),
    Invitation,
    Nothing,
}

fn app_state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(web::Data::get_ref)
        .ok_or_else(|| ApiError::Internal("application state missing".into()))
}

/// The verifier and the bearer token of the request.
fn bearer(req: &HttpRequest, state: &AppState) -> Result<(Arc<TokenVerifier>, String), ApiError> {
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
