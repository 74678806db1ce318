//! `Idempotency-Key`: a partner system may retry a write safely. The first answer is stored
//! with the work, in one transaction; a retry with the same key gets that answer again and
//! changes nothing, and the same key with another request is refused.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use relais_persistence::idempotency::{self, StoredAnswer};
use relais_persistence::{DbConnection, StoreError};
use serde_json::Value;

use crate::http::extract::etag;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The longest key accepted.
const MAX_KEY_CHARS: usize = 255;

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
                Ok(text) if !text.trim().is_empty() && text.len() <= MAX_KEY_CHARS => {
                    Ok(Some(text.trim().to_owned()))
                }
                _ => Err(ApiError::bad_field(
                    "Idempotency-Key",
                    format!(
                        "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
                    ),
                )),
            },
        };
        ready(key.map(IdempotencyKey))
    }
}

/// A successful answer, kept so that it can be replayed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: &impl serde::Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_value(body)
            .map_err(|e| ApiError::Internal(format!("serialise answer: {e}")))?;
        Ok(Reply {
            status: StatusCode::OK,
            body,
        })
    }

    fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(version) = self.body.get("version").and_then(Value::as_i64) {
            response.insert_header(etag(version));
        }
        response.json(self.body)
    }
}

fn replay(stored: StoredAnswer, fingerprint: &str) -> Result<HttpResponse, ApiError> {
    if stored.fingerprint != fingerprint {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "reused",
            "this Idempotency-Key was used for another request; use a new key",
        ));
    }
    let body = serde_json::from_str(&stored.body)
        .map_err(|e| ApiError::Internal(format!("stored answer: {e}")))?;
    let status =
        StatusCode::from_u16(stored.status).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply { status, body }.into_response())
}

/// Runs `work` in one write transaction, at most once per (`subject`, key).
///
/// `fingerprint` identifies the request (method, path, canonical body) so that a key reused
/// for another request is caught. Without a key, `work` simply runs.
pub async fn run_once(
    state: &AppState,
    subject: String,
    key: IdempotencyKey,
    fingerprint: String,
    work: impl FnOnce(&mut DbConnection) -> Result<Reply, ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let Some(key) = key.0 else {
        return state.write(work).await.map(Reply::into_response);
    };
    enum Outcome {
        Fresh(Reply),
        Replay(StoredAnswer),
    }
    let (subject_w, key_w, fingerprint_w) = (subject.clone(), key.clone(), fingerprint.clone());
    let attempt = state
        .write(move |conn| {
            if let Some(stored) = idempotency::find(conn, &subject_w, &key_w)? {
                return Ok(Outcome::Replay(stored));
            }
            idempotency::reserve(conn, &subject_w, &key_w, &fingerprint_w).map_err(
                |e| match e {
                    StoreError::Conflict(_) => {
                        ApiError::Conflict("idempotency key taken concurrently".into())
                    }
                    other => other.into(),
                },
            )?;
            let answer = work(conn)?;
            idempotency::complete(
                conn,
                &subject_w,
                &key_w,
                answer.status.as_u16(),
                &answer.body.to_string(),
            )?;
            Ok(Outcome::Fresh(answer))
        })
        .await;
    match attempt {
        Ok(Outcome::Fresh(answer)) => Ok(answer.into_response()),
        Ok(Outcome::Replay(stored)) => replay(stored, &fingerprint),
        // A concurrent request with the same key committed first (PostgreSQL): replay its answer.
        Err(ApiError::Conflict(reason)) => {
            let stored = state
                .read(move |conn| Ok(idempotency::find(conn, &subject, &key)?))
                .await?
                .ok_or(ApiError::Conflict(reason))?;
            replay(stored, &fingerprint)
        }
        Err(other) => Err(other),
    }
}
