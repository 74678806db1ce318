//! `/api/v1/partners/{id}/clients` and `/api/v1/units/{id}/clients`: the OAuth clients Relais
//! issues to the systems of partners and units that have no identity provider of their own
//! (client credentials at `POST /api/v1/auth/token`). Administrators only. Each client is a
//! machine membership: its client id is the membership's id, its secret is shown once (at the
//! creation and at each rotation) and stored as a hash only.

use actix_web::{HttpResponse, delete, get, post, web};
use relais_domain::ids::{PartnerId, UnitId};
use relais_domain::member::{Member, NewClient};
use relais_persistence::DbConnection;
use relais_persistence::members::ClientOwner;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::common::{PageParams, listed, page_request, page_type, versioned};
use crate::http::current_user::CurrentUser;
use crate::http::extract::{IfMatch, Json, OptionalIfMatch, Query};
use crate::http::idempotency::{
    IdempotencyKey, Reply, Retryable, fingerprint, run_once, stored_id,
};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::workflows;
use crate::workflows::clients::WithSecret;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_partner_client)
        .service(list_partner_clients)
        .service(get_partner_client)
        .service(rotate_partner_client_secret)
        .service(revoke_partner_client)
        .service(create_unit_client)
        .service(list_unit_clients)
        .service(get_unit_client)
        .service(rotate_unit_client_secret)
        .service(revoke_unit_client);
}

page_type!(
    ClientPage,
    Member,
    "A page of clients (machine memberships), newest first."
);

/// A client with its secret, shown this once: at its creation, or at a rotation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d",
    "display_name": "SI du CD 93",
    "role": "partner",
    "post_ids": [],
    "partner_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7e",
    "status": "active",
    "issuer": "relais",
    "client_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d",
    "secret_set_at": "2026-03-14T09:30:00Z",
    "bound_at": "2026-03-14T09:30:00Z",
    "created_at": "2026-03-14T09:30:00Z",
    "updated_at": "2026-03-14T09:30:00Z",
    "version": 1,
    "client_secret": "q2bVf0mK8xYtq1s3m0Zr7cJk9Wn4Hh6Ld2Pa5Ue8TgQ"
}))]
pub struct IssuedClient {
    #[serde(flatten)]
    pub client: Member,
    /// The client's secret (256 random bits, base64url): keep it now, it is never shown again
    /// (Relais keeps only its SHA-256). Absent from the answer to a retry with the same
    /// `Idempotency-Key` (`Idempotent-Replayed: true`): rotate the secret if it was lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// The issuer of the clients Relais issues: its own (`RELAIS_JWT_ISSUER`), when it signs tokens.
fn own_issuer(state: &AppState) -> Result<String, ApiError> {
    state
        .front_door
        .as_ref()
        .map(|door| door.issuer.issuer().to_owned())
        .ok_or_else(|| {
            ApiError::Conflict(
                "this instance signs no token (it verifies an identity provider's public keys only): a client it issued could get none; map the provider's client with POST /api/v1/members instead".into(),
            )
        })
}

fn location(owner: ClientOwner, client: &Member) -> String {
    match owner {
        ClientOwner::Partner(p) => format!("/api/v1/partners/{p}/clients/{}", client.id),
        ClientOwner::Unit(u) => format!("/api/v1/units/{u}/clients/{}", client.id),
    }
}

fn created_client(
    owner: ClientOwner,
    client: Member,
    secret: Option<String>,
) -> Result<Reply, ApiError> {
    let location = location(owner, &client);
    let id = client.id;
    Reply::created(
        id,
        location,
        &IssuedClient {
            client,
            client_secret: secret,
        },
    )
}

/// Issues a client to `owner`'s system (the two create handlers).
async fn create(
    state: &AppState,
    user: &CurrentUser,
    key: IdempotencyKey,
    owner: ClientOwner,
    operation: &'static str,
    input: NewClient,
) -> Result<HttpResponse, ApiError> {
    input.validate()?;
    let issuer = own_issuer(state)?;
    let now = state.clock.now();
    let (by, reader) = (user.clone(), user.clone());
    let record = match owner {
        ClientOwner::Partner(p) => p.to_string(),
        ClientOwner::Unit(u) => u.to_string(),
    };
    let retryable = Retryable {
        fingerprint: fingerprint(operation, Some(&record), &input),
        record: None,
        work: move |conn: &mut DbConnection| {
            let WithSecret { client, secret } =
                workflows::clients::issue(conn, &by, owner, &input, &issuer, now)?;
            created_client(owner, client, Some(secret))
        },
        // A retry shows the client, never its secret again.
        view: move |conn: &mut DbConnection, id: &str| {
            let id: relais_domain::ids::MemberId = stored_id(id)?;
            let client = workflows::clients::visible(conn, &reader, owner, &id.to_string())?;
            created_client(owner, client, None)
        },
    };
    run_once(state, user, key, retryable).await
}

async fn list(
    state: &AppState,
    user: CurrentUser,
    owner: ClientOwner,
    params: PageParams,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(params.limit, params.cursor);
    let found = state
        .read(move |conn| Ok(workflows::clients::list(conn, &user, owner, &page)?))
        .await?;
    let shown = found.items.iter().map(|m| m.id.to_string()).collect();
    Ok(listed(&ClientPage::from(found), shown))
}

async fn read(
    state: &AppState,
    user: CurrentUser,
    owner: ClientOwner,
    client_id: String,
) -> Result<HttpResponse, ApiError> {
    let client = state
        .read(move |conn| Ok(workflows::clients::visible(conn, &user, owner, &client_id)?))
        .await?;
    Ok(versioned(client.meta.version, &client))
}

async fn rotate(
    state: &AppState,
    user: &CurrentUser,
    key: IdempotencyKey,
    owner: ClientOwner,
    client_id: String,
    expected: relais_domain::version::Expected,
    operation: &'static str,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (by, reader) = (user.clone(), user.clone());
    let (wanted, shown) = (client_id.clone(), client_id.clone());
    let retryable = Retryable {
        fingerprint: fingerprint(operation, Some(&client_id), &serde_json::Value::Null),
        record: Some(client_id),
        work: move |conn: &mut DbConnection| {
            let WithSecret { client, secret } =
                workflows::clients::rotate(conn, &by, owner, &wanted, &expected, now)?;
            Reply::ok(&IssuedClient {
                client,
                client_secret: Some(secret),
            })
        },
        // A retry shows the client, never the secret again.
        view: move |conn: &mut DbConnection, _: &str| {
            let client = workflows::clients::visible(conn, &reader, owner, &shown)?;
            Reply::ok(&IssuedClient {
                client,
                client_secret: None,
            })
        },
    };
    run_once(state, user, key, retryable).await
}

async fn revoke(
    state: &AppState,
    user: CurrentUser,
    owner: ClientOwner,
    client_id: String,
    expected: relais_domain::version::Expected,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let ticket = user.ticket();
    let client = state
        .write(ticket, move |conn, _| {
            Ok(workflows::clients::revoke(
                conn, &user, owner, &client_id, &expected, now,
            )?)
        })
        .await?;
    Ok(versioned(client.meta.version, &client))
}

/// Issue a client to a partner's system (OAuth 2.0 client credentials).
///
/// For a partner whose system has no identity provider of its own. The answer shows the
/// `client_id` and the `client_secret` **once**: Relais keeps only the secret's SHA-256. The
/// system then gets its tokens at `POST /api/v1/auth/token` with `grant_type=client_credentials`;
/// they carry the role `partner` and this partner. (A partner whose system has an identity
/// provider needs no client here: map the provider's client with `POST /api/v1/members`.)
#[utoipa::path(
    tag = "clients",
    params(("id" = PartnerId, Path, description = "The partner's id")),
    request_body(content = NewClient, example = json!({"display_name": "SI du CD 93"})),
    responses(
        (status = 201, description = "The client with its secret, shown this once; its `Location` and `ETag`", body = IssuedClient,
            headers(("Location" = String, description = "URL of the new client"), ("ETag" = String, description = "Version, for If-Match"))),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This instance signs no token (it verifies a provider's public keys only)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The display name is empty or too long", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/partners/{id}/clients")]
async fn create_partner_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    id: web::Path<PartnerId>,
    Json(input): Json<NewClient>,
) -> Result<HttpResponse, ApiError> {
    let owner = ClientOwner::Partner(id.into_inner());
    create(&state, &user, key, owner, "create_partner_client", input).await
}

/// List the clients Relais issued to a partner's system, revoked ones included; never a secret.
#[utoipa::path(
    tag = "clients",
    params(("id" = PartnerId, Path, description = "The partner's id"), PageParams),
    responses(
        (status = 200, description = "A page of clients", body = ClientPage),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/partners/{id}/clients")]
async fn list_partner_clients(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PartnerId>,
    Query(params): Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    list(&state, user, ClientOwner::Partner(id.into_inner()), params).await
}

/// Read a client of a partner's system; never its secret.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = PartnerId, Path, description = "The partner's id"),
        ("client_id" = String, Path, description = "The client's id"),
    ),
    responses(
        (status = 200, description = "The client, with its `ETag`", body = Member, headers(("ETag" = String))),
        (status = 404, description = "No such client of this partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/partners/{id}/clients/{client_id}")]
async fn get_partner_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PartnerId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (partner, client_id) = path.into_inner();
    read(&state, user, ClientOwner::Partner(partner), client_id).await
}

/// Rotate the secret of a partner's client: the new secret is shown this once, the old one is
/// refused from now on. Tokens already issued stay valid until their expiry: revoke the client
/// to cut them.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = PartnerId, Path, description = "The partner's id"),
        ("client_id" = String, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The client with its new secret, shown this once, and its new `ETag`", body = IssuedClient, headers(("ETag" = String))),
        (status = 404, description = "No such client of this partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/partners/{id}/clients/{client_id}/secret")]
async fn rotate_partner_client_secret(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    path: web::Path<(PartnerId, String)>,
    expected: OptionalIfMatch,
) -> Result<HttpResponse, ApiError> {
    let (partner, client_id) = path.into_inner();
    let expected = expected.or_any();
    let owner = ClientOwner::Partner(partner);
    rotate(
        &state,
        &user,
        key,
        owner,
        client_id,
        expected,
        "rotate_partner_client_secret",
    )
    .await
}

/// Revoke a partner's client: it gets no token from now on, and a token it holds is refused at
/// its next request (`RELAIS_AUTHORIZATION=memberships`) or at its expiry. It stays readable,
/// `revoked`, for the trail.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = PartnerId, Path, description = "The partner's id"),
        ("client_id" = String, Path, description = "The client's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The client, revoked", body = Member, headers(("ETag" = String))),
        (status = 404, description = "No such client of this partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is already revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/partners/{id}/clients/{client_id}")]
async fn revoke_partner_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(PartnerId, String)>,
    IfMatch(expected): IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (partner, client_id) = path.into_inner();
    revoke(
        &state,
        user,
        ClientOwner::Partner(partner),
        client_id,
        expected,
    )
    .await
}

/// Issue a client to an officer unit's system (OAuth 2.0 client credentials), which pushes
/// referrals.
///
/// As for a partner's: the `client_secret` is shown **once**; the system's tokens carry the role
/// `officer` and this unit.
#[utoipa::path(
    tag = "clients",
    params(("id" = UnitId, Path, description = "The unit's id")),
    request_body(content = NewClient, example = json!({"display_name": "LRPGN du commissariat de Privas"})),
    responses(
        (status = 201, description = "The client with its secret, shown this once; its `Location` and `ETag`", body = IssuedClient,
            headers(("Location" = String, description = "URL of the new client"), ("ETag" = String, description = "Version, for If-Match"))),
        (status = 404, description = "No such unit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This instance signs no token (it verifies a provider's public keys only)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The display name is empty or too long", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/units/{id}/clients")]
async fn create_unit_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    id: web::Path<UnitId>,
    Json(input): Json<NewClient>,
) -> Result<HttpResponse, ApiError> {
    let owner = ClientOwner::Unit(id.into_inner());
    create(&state, &user, key, owner, "create_unit_client", input).await
}

/// List the clients Relais issued to a unit's system, revoked ones included; never a secret.
#[utoipa::path(
    tag = "clients",
    params(("id" = UnitId, Path, description = "The unit's id"), PageParams),
    responses(
        (status = 200, description = "A page of clients", body = ClientPage),
        (status = 404, description = "No such unit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{id}/clients")]
async fn list_unit_clients(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<UnitId>,
    Query(params): Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    list(&state, user, ClientOwner::Unit(id.into_inner()), params).await
}

/// Read a client of a unit's system; never its secret.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = UnitId, Path, description = "The unit's id"),
        ("client_id" = String, Path, description = "The client's id"),
    ),
    responses(
        (status = 200, description = "The client, with its `ETag`", body = Member, headers(("ETag" = String))),
        (status = 404, description = "No such client of this unit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{id}/clients/{client_id}")]
async fn get_unit_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(UnitId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (unit, client_id) = path.into_inner();
    read(&state, user, ClientOwner::Unit(unit), client_id).await
}

/// Rotate the secret of a unit's client: the new secret is shown this once, the old one is
/// refused from now on.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = UnitId, Path, description = "The unit's id"),
        ("client_id" = String, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The client with its new secret, shown this once, and its new `ETag`", body = IssuedClient, headers(("ETag" = String))),
        (status = 404, description = "No such client of this unit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/units/{id}/clients/{client_id}/secret")]
async fn rotate_unit_client_secret(
    state: web::Data<AppState>,
    user: CurrentUser,
    key: IdempotencyKey,
    path: web::Path<(UnitId, String)>,
    expected: OptionalIfMatch,
) -> Result<HttpResponse, ApiError> {
    let (unit, client_id) = path.into_inner();
    let expected = expected.or_any();
    let owner = ClientOwner::Unit(unit);
    rotate(
        &state,
        &user,
        key,
        owner,
        client_id,
        expected,
        "rotate_unit_client_secret",
    )
    .await
}

/// Revoke a unit's client: it gets no token from now on, and a token it holds is refused at its
/// next request (`RELAIS_AUTHORIZATION=memberships`) or at its expiry.
#[utoipa::path(
    tag = "clients",
    params(
        ("id" = UnitId, Path, description = "The unit's id"),
        ("client_id" = String, Path, description = "The client's id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version read, e.g. `\"1\"`"),
    ),
    responses(
        (status = 200, description = "The client, revoked", body = Member, headers(("ETag" = String))),
        (status = 404, description = "No such client of this unit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is already revoked", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/units/{id}/clients/{client_id}")]
async fn revoke_unit_client(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(UnitId, String)>,
    IfMatch(expected): IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (unit, client_id) = path.into_inner();
    revoke(&state, user, ClientOwner::Unit(unit), client_id, expected).await
}
