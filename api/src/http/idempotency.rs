//! `Idempotency-Key`: a client may retry a write safely. The key is claimed with the work, in
//! one transaction, with what identifies the outcome (its status and the record it concerns);
//! a retry with the same key changes nothing and is answered with the record's **current** view
//! for its caller, through the same access rules as any read (so a retry after a consent
//! withdrawal, a cancellation or an erasure shows what the caller may see now), marked
//! `Idempotent-Replayed: true`. The same key with another request is refused (422 `reused`).
//!
//! A key belongs to the caller's whole grant (role, `sub` and scope): a token for another post
//! or partner never shares its key space.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use relais_domain::access::Principal;
use relais_persistence::idempotency::{self, StoredOutcome};
use relais_persistence::{DbConnection, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::audit::{REPLAYED, RetriedRecord, Written};
use crate::http::current_user::CurrentUser;
use crate::http::extract::etag;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The longest key accepted.
const MAX_KEY_CHARS: usize = 255;

/// A key as the contract writes it: 1 to 255 printable ASCII characters (spaces inside only).
fn well_formed(key: &str) -> bool {
    let printable = |b: u8| (0x20..=0x7e).contains(&b);
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.bytes().all(printable)
        && !key.starts_with(' ')
        && !key.ends_with(' ')
}

/// The request's `Idempotency-Key`, if any.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = match req.headers().get("Idempotency-Key") {
            None => Ok(None),
            Some(value) => match value.to_str() {
                Ok(text) if well_formed(text) => Ok(Some(text.to_owned())),
                _ => Err(ApiError::bad_field(
                    "Idempotency-Key",
                    format!(
                        "Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters, not starting nor ending with a space"
                    ),
                )),
            },
        };
        ready(key.map(IdempotencyKey))
    }
}

/// An answer to a write that may be retried: its status and body, and for a create the
/// record it created and its `Location`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// The created record's id, kept with the key (so that a retry reads it) and named by the
    /// audit event, unless the path names a record (a create under its parent, such as an
    /// intervention of a situation or the situation of a take-up): the event names the path's.
    pub created: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    pub fn ok(body: &impl serde::Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_value(body)
            .map_err(|e| ApiError::Internal(format!("serialise answer: {e}")))?;
        Ok(Reply {
            status: StatusCode::OK,
            body,
            created: None,
            location: None,
        })
    }

    /// 201 for the record `id`, at `location`.
    pub fn created(
        id: impl ToString,
        location: String,
        body: &impl serde::Serialize,
    ) -> Result<Self, ApiError> {
        Ok(Reply {
            status: StatusCode::CREATED,
            created: Some(id.to_string()),
            location: Some(location),
            ..Self::ok(body)?
        })
    }

    fn into_response(self, replayed: bool) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(location) = &self.location {
            response.insert_header((actix_web::http::header::LOCATION, location.as_str()));
        }
        if let Some(version) = self.body.get("version").and_then(Value::as_i64) {
            response.insert_header(etag(version));
        }
        if replayed {
            response.insert_header((REPLAYED, "true"));
        }
        response.json(self.body)
    }
}

/// The key space of a caller: its role, `sub` and scope, hashed (a coordinator's posts make a
/// long text).
fn grant_of(principal: &Principal) -> String {
    let mut posts: Vec<String> = principal.post_ids.iter().map(ToString::to_string).collect();
    posts.sort();
    let grant = format!(
        "{}\n{}\n{}\n{}\n{}",
        principal.role,
        principal.subject,
        posts.join(","),
        principal.unit_id.map(|u| u.to_string()).unwrap_or_default(),
        principal
            .partner_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    format!("grant:{}", hex(&Sha256::digest(grant.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a retry is: the work ran once already, at `stored`.
fn check_replay(stored: &StoredOutcome, fingerprint: &str) -> Result<StatusCode, ApiError> {
    if stored.fingerprint != fingerprint {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "reused",
            "this Idempotency-Key was used for another request; use a new key",
        ));
    }
    StatusCode::from_u16(stored.status).map_err(|e| ApiError::Internal(e.to_string()))
}

/// What identifies a request for its key: the operation, the record its path names (if any) and
/// its canonical body. A key sent again with another fingerprint is refused (`reused`).
pub fn fingerprint(operation: &str, record: Option<&str>, body: &impl serde::Serialize) -> String {
    format!(
        "{operation} {} {}",
        record.unwrap_or("-"),
        serde_json::to_string(body).unwrap_or_default()
    )
}

/// The id a key was kept with, as `Retryable::view` reads it.
pub fn stored_id<T>(id: &str) -> Result<T, ApiError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    id.parse()
        .map_err(|e| ApiError::Internal(format!("a record id kept with a key: {e}")))
}

/// One write that may be retried with an `Idempotency-Key`.
pub struct Retryable<W, V> {
    /// What identifies the request: operation, record and canonical body (hashed before storing).
    pub fingerprint: String,
    /// The record the path names, if any: the audit event names it, and the key is kept with
    /// it (so that erasure forgets the key and a retry reads it) unless the work creates a record
    /// (`Reply::created`, such as a hand-off created under its situation), which is kept instead.
    pub record: Option<String>,
    /// The write; it runs in one transaction with the key and the audit event.
    pub work: W,
    /// The record's current view for this caller, given the record's id: the answer to a retry.
    pub view: V,
}

/// Runs `retryable.work` at most once per (caller's grant, key); a retry is answered with
/// `retryable.view`, read now, with the first answer's status. Without a key, the work simply
/// runs.
pub async fn run_once<W, V>(
    state: &AppState,
    user: &CurrentUser,
    key: IdempotencyKey,
    retryable: Retryable<W, V>,
) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(&mut DbConnection) -> Result<Reply, ApiError> + Send + 'static,
    V: FnOnce(&mut DbConnection, &str) -> Result<Reply, ApiError> + Send + 'static,
{
    let Retryable {
        fingerprint,
        record,
        work,
        view,
    } = retryable;
    let path_names_record = record.is_some();
    let Some(key) = key.0 else {
        let reply = state
            .write(user.ticket(), move |conn, written| {
                let reply = work(conn)?;
                audit_names(written, path_names_record, &reply);
                Ok(reply)
            })
            .await?;
        return Ok(reply.into_response(false));
    };
    enum Attempt {
        Fresh(Reply),
        Retry(StoredOutcome),
    }
    let grant = grant_of(user);
    let fingerprint = hex(&Sha256::digest(fingerprint.as_bytes()));
    let (grant_w, key_w, fingerprint_w) = (grant.clone(), key.clone(), fingerprint.clone());
    let attempt = state
        .write(user.ticket(), move |conn, written| {
            if let Some(stored) = idempotency::find(conn, &grant_w, &key_w)? {
                // Nothing is written: the gate audits the retry as a replay.
                written.unchanged();
                return Ok(Attempt::Retry(stored));
            }
            idempotency::reserve(conn, &grant_w, &key_w, &fingerprint_w).map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ApiError::Conflict("idempotency key taken concurrently".into())
                }
                other => other.into(),
            })?;
            let reply = work(conn)?;
            audit_names(written, path_names_record, &reply);
            let concerned = reply.created.as_deref().or(record.as_deref());
            idempotency::complete(conn, &grant_w, &key_w, reply.status.as_u16(), concerned)?;
            Ok(Attempt::Fresh(reply))
        })
        .await;
    let stored = match attempt {
        Ok(Attempt::Fresh(reply)) => return Ok(reply.into_response(false)),
        Ok(Attempt::Retry(stored)) => stored,
        // A concurrent request with the same key committed first (PostgreSQL): a retry of it.
        Err(ApiError::Conflict(reason)) => state
            .read(move |conn| Ok(idempotency::find(conn, &grant, &key)?))
            .await?
            .ok_or(ApiError::Conflict(reason))?,
        Err(other) => return Err(other),
    };
    let status = check_replay(&stored, &fingerprint)?;
    let record = stored
        .record_id
        .ok_or_else(|| ApiError::Internal("an idempotency key without its record".into()))?;
    // A path that names a record gives the gate the record to audit; a create's path names none.
    let retried = (!path_names_record).then(|| RetriedRecord(record.clone()));
    let mut reply = state.read(move |conn| view(conn, &record)).await?;
    reply.status = status;
    let mut response = reply.into_response(true);
    if let Some(retried) = retried {
        response.extensions_mut().insert(retried);
    }
    Ok(response)
}

/// What the write's audit event names: the path's record when the path names one (a move, or a
/// create under its parent, answered 201), else the record the write created.
fn audit_names(written: &mut Written, path_names_record: bool, reply: &Reply) {
    match (&reply.created, path_names_record) {
        (Some(id), false) => written.created(id),
        (Some(_), true) => written.answered_created(),
        (None, _) => {}
    }
}

#[cfg(test)]
mod key_tests {
    use super::well_formed;

    #[test]
    fn a_key_is_printable_ascii_without_outer_spaces_and_at_most_255_long() {
        assert!(well_formed("0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"));
        assert!(well_formed("retry 1"));
        assert!(well_formed(&"k".repeat(255)));
        for refused in ["", " key", "key ", "clé", "a\tb", &"k".repeat(256)] {
            assert!(!well_formed(refused), "{refused:?}");
        }
    }
}
