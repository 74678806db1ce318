//! `POST /api/v1/auth/token`: the OpenID Connect front door. A front-end that logged a person in
//! with an OpenID provider exchanges the ID token (RFC 8693 token exchange) for a short-lived
//! Relais access token built from the person's membership.
//!
//! A token endpoint speaks OAuth, not problem+json: its answers and errors are those of
//! RFC 6749 §5.1 and §5.2, which OAuth client libraries read.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use relais_domain::member::Member;
use relais_domain::reference::AuditedRecord;
use relais_persistence::audit::NewAuditEvent;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::FrontDoor;
use crate::http::current_user::{Recorder, member_of_identity};
use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(issue_token);
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const FORM: &str = "application/x-www-form-urlencoded";

/// The form of a token exchange (RFC 8693 §2.1), `application/x-www-form-urlencoded`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the handler reads it field by field (RFC 6749 §3.2).
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    #[schema(example = "urn:ietf:params:oauth:grant-type:token-exchange")]
    grant_type: String,
    /// The ID token the front-end received from its OpenID provider.
    #[schema(
        example = "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb3ZpZGVyLTEifQ.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5vcmcifQ.c2lnbmF0dXJl"
    )]
    subject_token: String,
    /// `urn:ietf:params:oauth:token-type:id_token`.
    #[schema(example = "urn:ietf:params:oauth:token-type:id_token")]
    subject_token_type: String,
    /// `urn:ietf:params:oauth:token-type:access_token` if given: the only kind issued.
    #[schema(example = "urn:ietf:params:oauth:token-type:access_token")]
    requested_token_type: Option<String>,
    /// The provider's **signed UserInfo** answer (a JWT, `application/jwt`), read by the front-end
    /// with the same login's access token: for providers that give the e-mail in UserInfo only
    /// (ProConnect), so that an invitation by e-mail is bound at the first login. Its signature,
    /// `iss`, `aud` (the front-end's client id) and `sub` (the ID token's) are checked. A
    /// Relais extension of the token exchange; leave it out when the ID token carries `email`.
    #[schema(
        example = "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb3ZpZGVyLTEifQ.eyJzdWIiOiI0ZjljMmQxZSIsImVtYWlsIjoiY2FtaWxsZS5tYXJ0aW5AZXhhbXBsZS5vcmcifQ.c2lnbmF0dXJl"
    )]
    userinfo: Option<String>,
    /// This service's audience (`RELAIS_JWT_AUDIENCE`) if given; any other is `invalid_target`.
    #[schema(example = "relais")]
    audience: Option<String>,
}

/// A successful answer (RFC 8693 §2.2.1, RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZW1iZXI6MDE5M2EzYzQifQ.c2lnbmF0dXJl",
    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    "token_type": "Bearer",
    "expires_in": 900
}))]
pub struct TokenResponse {
    /// A Relais bearer token naming the membership (`sub` = `member:<id>`) with its role and
    /// scope claims.
    access_token: String,
    /// Always `urn:ietf:params:oauth:token-type:access_token`.
    issued_token_type: &'static str,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires (`RELAIS_OIDC_TOKEN_TTL_MINUTES`).
    expires_in: i64,
}

/// An OAuth error (RFC 6749 §5.2), not a problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "error": "invalid_grant",
    "error_description": "the ID token has expired"
}))]
pub struct OAuthError {
    /// `invalid_request` (a parameter missing, repeated or unsupported), `invalid_grant` (the ID
    /// token is refused, or names a person with no membership), `unsupported_grant_type`,
    /// `invalid_target` (another audience asked for).
    #[schema(example = "invalid_grant")]
    error: &'static str,
    /// Why, for the front-end's developer.
    error_description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }

    fn answer(&self) -> HttpResponse {
        no_store(HttpResponse::build(StatusCode::BAD_REQUEST)).json(self)
    }
}

/// Token answers must not be kept by any cache (RFC 6749 §5.1).
fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// Exchange a front-end's ID token for a Relais access token (RFC 8693).
///
/// The ID token is verified against its provider's keys (`RELAIS_OIDC_PROVIDERS`): signature,
/// `iss` (a configured provider), `aud` (the front-end's client id there), `exp` and `iat`. Its
/// identity (`iss`, `sub`, a verified `email`) is mapped to its membership as identity-only
/// bearer tokens are, binding an invitation at the first login; the exchange is audited. The
/// token answered names the membership and carries its role and scope; with
/// `RELAIS_AUTHORIZATION=memberships` the membership is read again at each request, so that a
/// revocation holds at the next one.
///
/// The answers and errors are OAuth's (RFC 6749 §5.1, §5.2), not problem documents, and are
/// never cached (`Cache-Control: no-store`).
#[utoipa::path(
    tag = "auth",
    operation_id = "issue_token",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded", examples(
        ("exchange" = (summary = "A ProConnect ID token exchanged", value = json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb3ZpZGVyLTEifQ.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5vcmcifQ.c2lnbmF0dXJl",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token"
        }))),
    )),
    responses(
        (status = 200, description = "A Relais access token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, description = "An OAuth error (RFC 6749 §5.2)", body = OAuthError, content_type = "application/json",
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`")),
            examples(
                ("expired" = (summary = "An expired ID token", value = json!({"error": "invalid_grant", "error_description": "the ID token has expired"}))),
                ("no_membership" = (summary = "A person with no membership", value = json!({"error": "invalid_grant", "error_description": "this identity has no membership in Relais, or it was revoked: ask an administrator or your post's coordinator"}))),
                ("unknown_provider" = (summary = "An ID token of a provider not configured", value = json!({"error": "invalid_grant", "error_description": "the ID token comes from https://idp.example.net, which is not a provider of this service"}))),
                ("grant" = (summary = "Another grant type", value = json!({"error": "unsupported_grant_type", "error_description": "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange"}))),
                ("missing" = (summary = "A parameter missing", value = json!({"error": "invalid_request", "error_description": "subject_token is missing"}))),
            )),
    )
)]
#[post("/auth/token")]
async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = match Form::read(&req, &body) {
        Ok(form) => form,
        Err(e) => return Ok(e.answer()),
    };
    match exchange(&state, &form).await? {
        Ok(answer) => Ok(no_store(HttpResponse::Ok()).json(answer)),
        Err(e) => {
            log::info!(
                "token exchange refused: {}: {}",
                e.error,
                e.error_description
            );
            Ok(e.answer())
        }
    }
}

/// The parameters of a token request: each at most once; one sent empty is taken as absent
/// (RFC 6749 §3.1).
struct Form(Vec<(String, String)>);

impl Form {
    fn read(req: &HttpRequest, body: &[u8]) -> Result<Self, OAuthError> {
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(FORM));
        if !form_type {
            return Err(OAuthError::new(
                "invalid_request",
                format!("send the parameters as {FORM}"),
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            OAuthError::new("invalid_request", format!("the form is unreadable: {e}"))
        })?;
        let pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(OAuthError::new(
                    "invalid_request",
                    format!("{name} is sent more than once"),
                ));
            }
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is missing")))
    }
}

/// The answer of a token exchange, or its OAuth error; `Err` outside for the failures of the
/// service itself (503 when the database does not answer).
async fn exchange(
    state: &AppState,
    form: &Form,
) -> Result<Result<TokenResponse, OAuthError>, ApiError> {
    let door = match check(state, form) {
        Ok(door) => door,
        Err(e) => return Ok(Err(e)),
    };
    let subject_token = form.get("subject_token").unwrap_or_default().to_owned();
    let mut verified = match door.providers.clone().verify(subject_token).await {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(OAuthError::new("invalid_grant", e.0))),
    };
    if let Some(userinfo) = form.get("userinfo") {
        let email = door
            .providers
            .clone()
            .verified_email_of_userinfo(userinfo.to_owned(), &verified)
            .await;
        match email {
            // The ID token's own verified e-mail, if it has one, is as good.
            Ok(email) => {
                verified.identity.verified_email = email.or(verified.identity.verified_email);
            }
            Err(e) => return Ok(Err(OAuthError::new("invalid_grant", e.0))),
        }
    }
    let now = state.clock.now();
    let record: Recorder = Box::new(move |conn, member: &Member| {
        let principal = member.principal();
        relais_persistence::audit::append(
            conn,
            &NewAuditEvent {
                at: now,
                subject: principal.subject.clone(),
                role: principal.role,
                action: "issue_token",
                record: Some((AuditedRecord::Member, member.id.to_string())),
                // Shown to the coordinators of the member's post in their trail.
                post_hint: match principal.post_ids.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                },
                status: 200,
                replayed: false,
            },
        )?;
        Ok(())
    });
    let Some(member) = member_of_identity(state, verified.identity, Some(record)).await? else {
        return Ok(Err(OAuthError::new(
            "invalid_grant",
            crate::http::current_user::NO_MEMBERSHIP,
        )));
    };
    let access_token = door
        .issuer
        .issue(&member.principal(), door.ttl)
        .map_err(|e| ApiError::Internal(format!("cannot sign the exchanged token: {e}")))?;
    Ok(Ok(TokenResponse {
        access_token,
        issued_token_type: ACCESS_TOKEN,
        token_type: "Bearer",
        expires_in: door.ttl.num_seconds(),
    }))
}

/// The front door, once the request is one it serves.
fn check<'a>(state: &'a AppState, form: &Form) -> Result<&'a FrontDoor, OAuthError> {
    let grant_type = form.required("grant_type")?;
    if grant_type != TOKEN_EXCHANGE {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type must be {TOKEN_EXCHANGE}"),
        ));
    }
    let Some(door) = state.front_door.as_deref() else {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "this service takes no ID token: no OpenID provider is configured (RELAIS_OIDC_PROVIDERS)",
        ));
    };
    form.required("subject_token")?;
    let token_type = form.required("subject_token_type")?;
    if token_type != ID_TOKEN {
        return Err(OAuthError::new(
            "invalid_request",
            format!("subject_token_type must be {ID_TOKEN}"),
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN)
    {
        return Err(OAuthError::new(
            "invalid_request",
            format!("requested_token_type, if given, must be {ACCESS_TOKEN}"),
        ));
    }
    if form.get("actor_token").is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "delegation (actor_token) is not supported",
        ));
    }
    for target in ["audience", "resource"] {
        if form
            .get(target)
            .is_some_and(|t| t != door.issuer.audience())
        {
            return Err(OAuthError::new(
                "invalid_target",
                format!(
                    "{target}: this service issues tokens for {} only",
                    door.issuer.audience()
                ),
            ));
        }
    }
    Ok(door)
}
