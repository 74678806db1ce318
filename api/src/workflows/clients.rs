//! The clients Relais issues to partner and unit systems that have no identity provider of
//! their own (OAuth 2.0 client credentials): each one a machine membership (role `partner` or
//! `officer`) whose client id is the membership's id and whose secret is kept only as a hash.
//! Administrators issue, list, rotate and revoke them; a revocation or a rotation holds at once
//! at the token endpoint, and (with `RELAIS_AUTHORIZATION=memberships`) at the next request of
//! a token already issued.

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::member::{Member, NewClient};
use relais_domain::reference::{AuditedRecord, Role};
use relais_domain::version::Expected;
use relais_persistence::members::{self, ClientOwner};
use relais_persistence::{DbConnection, Page, PageRequest, StoreError, partners, units};

use super::{Outcome, WorkflowError, expect_version, found_within};
use crate::auth::client_secrets;

/// A client and the secret shown once, at its creation or rotation.
pub struct WithSecret {
    pub client: Member,
    pub secret: String,
}

fn refuse_non_admin(by: &Principal) -> Outcome<()> {
    match by.role {
        Role::Admin | Role::System => Ok(()),
        _ => Err(WorkflowError::Forbidden(
            "only an administrator manages the clients of partner and unit systems".into(),
        )),
    }
}

/// The partner or unit exists: a client of a missing one is a 404, as any record under it.
fn owner_exists(conn: &mut DbConnection, owner: ClientOwner) -> Outcome<()> {
    let found = match owner {
        ClientOwner::Partner(id) => partners::get(conn, id).map(|_| ()),
        ClientOwner::Unit(id) => units::get(conn, id).map(|_| ()),
    };
    match found {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(WorkflowError::NotFound(match owner {
            ClientOwner::Partner(_) => "no such partner".into(),
            ClientOwner::Unit(_) => "no such unit".into(),
        })),
        Err(e) => Err(e.into()),
    }
}

/// The client `client_id` of `owner`, live or revoked; the same 404 for another owner's.
pub fn visible(
    conn: &mut DbConnection,
    by: &Principal,
    owner: ClientOwner,
    client_id: &str,
) -> Outcome<Member> {
    refuse_non_admin(by)?;
    found_within(members::issued_client(conn, client_id), "client", |m| {
        owner.owns(m)
    })
}

/// `list_partner_clients`, `list_unit_clients`: the clients Relais issued to `owner`'s system,
/// revoked ones included.
pub fn list(
    conn: &mut DbConnection,
    by: &Principal,
    owner: ClientOwner,
    page: &PageRequest,
) -> Outcome<Page<Member>> {
    refuse_non_admin(by)?;
    owner_exists(conn, owner)?;
    Ok(members::clients(conn, owner, page)?)
}

/// `create_partner_client`, `create_unit_client`: a new client for `owner`'s system, its secret
/// returned once. `issuer` is the instance's own (`RELAIS_JWT_ISSUER`).
pub fn issue(
    conn: &mut DbConnection,
    by: &Principal,
    owner: ClientOwner,
    input: &NewClient,
    issuer: &str,
    now: DateTime<Utc>,
) -> Outcome<WithSecret> {
    input.validate()?;
    refuse_non_admin(by)?;
    owner_exists(conn, owner)?;
    let secret = client_secrets::new_secret();
    let client =
        members::insert_client(conn, owner, &input.display_name, issuer, &secret.hash, now)?;
    super::audit_job_act(
        conn,
        by,
        "create_client",
        (AuditedRecord::Member, client.id.to_string()),
        now,
    )?;
    Ok(WithSecret {
        client,
        secret: secret.secret,
    })
}

/// `rotate_partner_client_secret`, `rotate_unit_client_secret`: a new secret, shown once; the
/// old one is refused from the commit on.
pub fn rotate(
    conn: &mut DbConnection,
    by: &Principal,
    owner: ClientOwner,
    client_id: &str,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Outcome<WithSecret> {
    let before = visible(conn, by, owner, client_id)?;
    expect_version(expected, before.meta.version)?;
    let secret = client_secrets::new_secret();
    let client = members::set_secret(conn, before.id, before.meta.version, &secret.hash, now)?;
    Ok(WithSecret {
        client,
        secret: secret.secret,
    })
}

/// `revoke_partner_client`, `revoke_unit_client`: the client gets no token from now on, and a
/// token it holds is refused at its next request (`RELAIS_AUTHORIZATION=memberships`) or at its
/// expiry. It stays readable, `revoked`, for the trail.
pub fn revoke(
    conn: &mut DbConnection,
    by: &Principal,
    owner: ClientOwner,
    client_id: &str,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Outcome<Member> {
    let before = visible(conn, by, owner, client_id)?;
    expect_version(expected, before.meta.version)?;
    Ok(members::revoke(conn, before.id, before.meta.version, now)?)
}
