//! `POST /api/v1/auth/token`: the token endpoint. A front-end that logged a person in with an
//! OpenID provider exchanges the ID token (RFC 8693 token exchange) for a short-lived Relais
//! access token built from the person's membership; a partner's or a unit's system presents the
//! client credentials Relais issued to it (RFC 6749 §4.4) for one built from its machine
//! membership.
//!
//! A token endpoint speaks OAuth, not problem+json: its answers and errors are those of
//! RFC 6749 §5.1 and §5.2, which OAuth client libraries read.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine as _;
use relais_domain::member::Member;
use relais_domain::reference::AuditedRecord;
use relais_persistence::audit::NewAuditEvent;
use relais_persistence::members;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{FrontDoor, client_secrets};
use crate::http::current_user::{Recorder, member_of_identity};
use crate::http::problem::ApiError;
use crate::http::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(issue_token);
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const CLIENT_CREDENTIALS: &str = "client_credentials";
/// The realm of the `WWW-Authenticate` of an `invalid_client` answer (RFC 6749 §5.2).
const CLIENT_REALM: &str = "Basic realm=\"relais\"";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const FORM: &str = "application/x-www-form-urlencoded";

/// The form of a token request, `application/x-www-form-urlencoded`: a token exchange
/// (RFC 8693 §2.1), or client credentials (RFC 6749 §4.4.2).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the handler reads it field by field (RFC 6749 §3.2).
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`, or `client_credentials`.
    #[schema(example = "urn:ietf:params:oauth:grant-type:token-exchange")]
    grant_type: String,
    /// Token exchange: the ID token the front-end received from its OpenID provider.
    #[schema(
        example = "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb3ZpZGVyLTEifQ.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5vcmcifQ.c2lnbmF0dXJl"
    )]
    subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:id_token` (a person's ID token), or
    /// `urn:ietf:params:oauth:token-type:access_token` (or `…:jwt`): the JWT access token a
    /// provider's client obtained by client credentials, mapped to a partner or a unit.
    #[schema(example = "urn:ietf:params:oauth:token-type:id_token")]
    subject_token_type: Option<String>,
    /// Client credentials sent in the form (`client_secret_post`): the client id Relais issued.
    /// Or send it with the secret by HTTP Basic (`client_secret_basic`), not both.
    #[schema(example = "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d")]
    client_id: Option<String>,
    /// Client credentials sent in the form (`client_secret_post`): the secret shown at the
    /// client's creation or last rotation.
    #[schema(example = "q2bVf0mK8xYtq1s3m0Zr7cJk9Wn4Hh6Ld2Pa5Ue8TgQ")]
    client_secret: Option<String>,
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

/// A successful answer (RFC 8693 §2.2.1, RFC 6749 §5.1; `issued_token_type` in a token
/// exchange's only).
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
    /// `urn:ietf:params:oauth:token-type:access_token`, in the answer to a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
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
    /// `invalid_request` (a parameter missing, repeated or unsupported), `invalid_client` (the
    /// client credentials are wrong, unknown or revoked: 401), `invalid_grant` (the ID token is
    /// refused, or names a person with no membership), `unsupported_grant_type`,
    /// `invalid_scope` (a `scope` sent with client credentials), `invalid_target` (another
    /// audience asked for).
    #[schema(example = "invalid_grant")]
    error: &'static str,
    /// Why, for the front-end's or the partner system's developer.
    error_description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }

    /// The client is not authenticated (RFC 6749 §5.2): 401 with a Basic challenge.
    fn client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    fn answer(&self) -> HttpResponse {
        if self.error == "invalid_client" {
            return no_store(HttpResponse::build(StatusCode::UNAUTHORIZED))
                .insert_header((header::WWW_AUTHENTICATE, CLIENT_REALM))
                .json(self);
        }
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

/// Issue a Relais access token: for a front-end's ID token (RFC 8693 token exchange), or for a
/// partner's or a unit's system presenting its client credentials (RFC 6749 §4.4).
///
/// **Client credentials** (`grant_type=client_credentials`): the client id and secret that an
/// administrator had Relais issue (`POST /api/v1/partners/{id}/clients`,
/// `POST /api/v1/units/{id}/clients`), sent by HTTP Basic (`client_secret_basic`: the id and the
/// secret each form-urlencoded, joined by `:`, in base64) or in the form (`client_secret_post`),
/// not both. A wrong, unknown or revoked client is answered 401 `invalid_client` with
/// `WWW-Authenticate: Basic realm="relais"`. A `scope` is refused (`invalid_scope`): the
/// client's role and scope are its membership's. The token names the client's membership; it is
/// audited (`issue_token`).
///
/// **Token exchange of a machine's access token** (`subject_token_type=…:access_token` or
/// `…:jwt`): the JWT access token that a client of a configured provider obtained by client
/// credentials, its `aud` naming this service (`RELAIS_JWT_AUDIENCE`) and its `client_id` mapped
/// to a partner or a unit by an administrator; a person's access token is refused.
///
/// **Token exchange**: the ID token is verified against its provider's keys (`RELAIS_OIDC_PROVIDERS`): signature,
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
        ("machine_exchange" = (summary = "A provider's client (mapped to a partner) exchanging its JWT access token", value = json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InByb3ZpZGVyLTEifQ.eyJjbGllbnRfaWQiOiJzaS1jZDkzIn0.c2lnbmF0dXJl",
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"
        }))),
        ("client_credentials" = (summary = "A partner's system with the client credentials Relais issued (client_secret_post; or send them by HTTP Basic)", value = json!({
            "grant_type": "client_credentials",
            "client_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d",
            "client_secret": "q2bVf0mK8xYtq1s3m0Zr7cJk9Wn4Hh6Ld2Pa5Ue8TgQ"
        }))),
    )),
    responses(
        (status = 200, description = "A Relais access token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`")),
            examples(
                ("exchange" = (summary = "The answer to a token exchange", value = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZW1iZXI6MDE5M2EzYzQifQ.c2lnbmF0dXJl", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 900}))),
                ("client_credentials" = (summary = "The answer to a client credentials grant", value = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZW1iZXI6MDE5M2EzYzQifQ.c2lnbmF0dXJl", "token_type": "Bearer", "expires_in": 900}))),
            )),
        (status = 401, description = "The client's authentication failed (RFC 6749 §5.2): wrong, unknown or revoked client credentials, or none", body = OAuthError, content_type = "application/json",
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"relais\"`"), ("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`")),
            examples(
                ("wrong_secret" = (summary = "A wrong, unknown or revoked client", value = json!({"error": "invalid_client", "error_description": "unknown client, wrong secret, or a revoked client"}))),
                ("none" = (summary = "No client authentication", value = json!({"error": "invalid_client", "error_description": "authenticate the client: HTTP Basic (client_secret_basic), or client_id and client_secret in the form (client_secret_post)"}))),
            )),
        (status = 400, description = "An OAuth error (RFC 6749 §5.2)", body = OAuthError, content_type = "application/json",
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`")),
            examples(
                ("expired" = (summary = "An expired ID token", value = json!({"error": "invalid_grant", "error_description": "the ID token has expired"}))),
                ("person_access_token" = (summary = "A person's access token exchanged", value = json!({"error": "invalid_grant", "error_description": "this access token names a person: a person exchanges its ID token"}))),
                ("no_membership" = (summary = "A person with no membership", value = json!({"error": "invalid_grant", "error_description": "this identity has no membership in Relais, or it was revoked: ask an administrator or your post's coordinator"}))),
                ("unknown_provider" = (summary = "An ID token of a provider not configured", value = json!({"error": "invalid_grant", "error_description": "the ID token comes from https://idp.example.net, which is not a provider of this service"}))),
                ("grant" = (summary = "Another grant type", value = json!({"error": "unsupported_grant_type", "error_description": "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange or client_credentials"}))),
                ("scope" = (summary = "A scope sent with client credentials", value = json!({"error": "invalid_scope", "error_description": "a client's role and scope are its membership's: send no scope"}))),
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
    let outcome = if form.get("grant_type") == Some(CLIENT_CREDENTIALS) {
        client_credentials(&state, &req, &form).await?
    } else {
        exchange(&state, &form).await?
    };
    match outcome {
        Ok(answer) => Ok(no_store(HttpResponse::Ok()).json(answer)),
        Err(e) => {
            log::info!(
                "token request refused: {}: {}",
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
    let Some(providers) = door.providers.clone() else {
        return Ok(Err(no_providers()));
    };
    if form.get("subject_token_type") != Some(ID_TOKEN) {
        return machine_exchange(state, door, providers, subject_token).await;
    }
    let mut verified = match providers.clone().verify(subject_token).await {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(OAuthError::new("invalid_grant", e.0))),
    };
    if let Some(userinfo) = form.get("userinfo") {
        let email = providers
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
        relais_persistence::audit::append(conn, &token_issued(member, now))?;
        Ok(())
    });
    let Some(member) = member_of_identity(state, verified.identity, Some(record)).await? else {
        return Ok(Err(OAuthError::new(
            "invalid_grant",
            crate::http::current_user::NO_MEMBERSHIP,
        )));
    };
    let mut answer = signed(door, &member)?;
    answer.issued_token_type = Some(ACCESS_TOKEN);
    Ok(Ok(answer))
}

/// The exchange of a provider's access token, issued to one of its OAuth clients: the machine
/// membership of that client (a membership naming the token's `sub` first, as for every token;
/// a person's is refused: a person exchanges its ID token).
async fn machine_exchange(
    state: &AppState,
    door: &FrontDoor,
    providers: std::sync::Arc<crate::auth::Providers>,
    subject_token: String,
) -> Result<Result<TokenResponse, OAuthError>, ApiError> {
    let identity = match providers.verify_access_token(subject_token).await {
        Ok(identity) => identity,
        Err(e) => return Ok(Err(OAuthError::new("invalid_grant", e.0))),
    };
    let member = member_of_identity(state, identity, None).await?;
    let member = match member {
        Some(member) if member.is_machine() => member,
        Some(_) => {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "this access token names a person: a person exchanges its ID token",
            )));
        }
        None => {
            return Ok(Err(OAuthError::new(
                "invalid_grant",
                "this client has no membership in Relais, or it was revoked: ask an administrator to map it (POST /api/v1/members with issuer and client_id)",
            )));
        }
    };
    let now = state.clock.now();
    let member = state
        .write_unaudited(move |conn| {
            relais_persistence::audit::append(conn, &token_issued(&member, now))?;
            Ok(member)
        })
        .await?;
    let mut answer = signed(door, &member)?;
    answer.issued_token_type = Some(ACCESS_TOKEN);
    Ok(Ok(answer))
}

/// The audit event of a token issued to `member`, by the member itself.
fn token_issued(member: &Member, now: chrono::DateTime<chrono::Utc>) -> NewAuditEvent {
    let principal = member.principal();
    NewAuditEvent {
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
    }
}

/// A Relais token naming `member`, signed by the instance.
fn signed(door: &FrontDoor, member: &Member) -> Result<TokenResponse, ApiError> {
    let access_token = door
        .issuer
        .issue(&member.principal(), door.ttl)
        .map_err(|e| ApiError::Internal(format!("cannot sign the issued token: {e}")))?;
    Ok(TokenResponse {
        access_token,
        issued_token_type: None,
        token_type: "Bearer",
        expires_in: door.ttl.num_seconds(),
    })
}

/// The answer to a client credentials grant (RFC 6749 §4.4), or its OAuth error.
async fn client_credentials(
    state: &AppState,
    req: &HttpRequest,
    form: &Form,
) -> Result<Result<TokenResponse, OAuthError>, ApiError> {
    let Some(door) = state.front_door.as_deref() else {
        return Ok(Err(OAuthError::new(
            "unsupported_grant_type",
            "this instance signs no token: it verifies an identity provider's public keys only",
        )));
    };
    let (client_id, secret) = match client_authentication(req, form) {
        Ok(credentials) => credentials,
        Err(e) => return Ok(Err(e)),
    };
    if !crate::auth::legible_client_id(&client_id) {
        return Ok(Err(OAuthError::client(UNKNOWN_CLIENT)));
    }
    if form.get("scope").is_some() {
        return Ok(Err(OAuthError::new(
            "invalid_scope",
            "a client's role and scope are its membership's: send no scope",
        )));
    }
    if let Err(e) = check_target(door, form) {
        return Ok(Err(e));
    }
    let wanted = client_id.clone();
    let found = state
        .read(move |conn| Ok(members::live_client_secret(conn, &wanted)?))
        .await?;
    let Some((member, hash)) = found.filter(|(_, hash)| client_secrets::matches(&secret, hash))
    else {
        return Ok(Err(OAuthError::client(UNKNOWN_CLIENT)));
    };
    // The grant is audited in a transaction that reads the client again: one revoked or
    // rotated since the read above gets no token.
    let now = state.clock.now();
    let id = member.id;
    let still = state
        .write_unaudited(move |conn| {
            let current = members::live_client_secret(conn, &client_id)?;
            match current {
                Some((member, current)) if member.id == id && current == hash => {
                    relais_persistence::audit::append(conn, &token_issued(&member, now))?;
                    Ok(Some(member))
                }
                _ => Ok(None),
            }
        })
        .await?;
    match still {
        Some(member) => Ok(Ok(signed(door, &member)?)),
        None => Ok(Err(OAuthError::client(UNKNOWN_CLIENT))),
    }
}

/// Why client credentials are refused, whichever of its reasons it is.
const UNKNOWN_CLIENT: &str = "unknown client, wrong secret, or a revoked client";

/// The client id and secret of the request: by HTTP Basic (RFC 6749 §2.3.1: each
/// form-urlencoded, then joined by `:` and base64-encoded) or in the form, not both.
fn client_authentication(req: &HttpRequest, form: &Form) -> Result<(String, String), OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
            _ => Err(OAuthError::client(
                "authenticate the client: HTTP Basic (client_secret_basic), or client_id and client_secret in the form (client_secret_post)",
            )),
        };
    };
    if form.get("client_secret").is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "authenticate the client one way: HTTP Basic or client_secret in the form, not both",
        ));
    }
    let basic = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim())
        .ok_or_else(|| {
            OAuthError::client(
                "the Authorization header of a client must read `Basic <credentials>`",
            )
        })?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            OAuthError::client("the Basic credentials are not base64 of client_id:client_secret")
        })?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| {
        OAuthError::client("the Basic credentials are not client_id:client_secret")
    })?;
    let (id, secret) = (form_decoded(id), form_decoded(secret));
    if form.get("client_id").is_some_and(|named| named != id) {
        return Err(OAuthError::new(
            "invalid_request",
            "the form's client_id is not the one of the Basic credentials",
        ));
    }
    if id.is_empty() || secret.is_empty() {
        return Err(OAuthError::client(
            "the Basic credentials lack the client id or the secret",
        ));
    }
    Ok((id, secret))
}

/// A component of Basic client credentials, decoded as `application/x-www-form-urlencoded`.
fn form_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Refuses an `audience` or `resource` other than this service's.
fn check_target(door: &FrontDoor, form: &Form) -> Result<(), OAuthError> {
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
    Ok(())
}

/// The front door, once the request is one it serves.
fn check<'a>(state: &'a AppState, form: &Form) -> Result<&'a FrontDoor, OAuthError> {
    let grant_type = form.required("grant_type")?;
    if grant_type != TOKEN_EXCHANGE {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type must be {TOKEN_EXCHANGE} or {CLIENT_CREDENTIALS}"),
        ));
    }
    let Some(door) = state
        .front_door
        .as_deref()
        .filter(|door| door.providers.is_some())
    else {
        return Err(no_providers());
    };
    form.required("subject_token")?;
    let token_type = form.required("subject_token_type")?;
    if ![ID_TOKEN, ACCESS_TOKEN, JWT].contains(&token_type) {
        return Err(OAuthError::new(
            "invalid_request",
            format!(
                "subject_token_type must be {ID_TOKEN} (a person's), or {ACCESS_TOKEN} or {JWT} (a provider's client's)"
            ),
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
    check_target(door, form)?;
    Ok(door)
}

fn no_providers() -> OAuthError {
    OAuthError::new(
        "unsupported_grant_type",
        "this service takes no ID token: no OpenID provider is configured (RELAIS_OIDC_PROVIDERS)",
    )
}
