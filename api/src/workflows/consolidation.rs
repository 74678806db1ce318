//! National consolidation, the observatory's side: registering the instances whose documents it
//! accepts, and importing a signed document once it verifies.

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::consolidation::{ExportPayload, Instance, SignedDocument, is_instance_id};
use relais_domain::ids::PostId;
use relais_domain::reference::AuditedRecord;
use relais_domain::validation::{Invalid, Validation};
use relais_persistence::consolidation::{self, Imported};
use relais_persistence::{DbConnection, StoreError};
use serde::{Deserialize, Serialize};

use super::{Outcome, WorkflowError, audit_job_act};
use crate::signing;

/// A sending instance to register.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "relais-ardeche", "name": "Relais de l'Ardèche", "public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}))]
pub struct InstanceInput {
    /// The id its documents carry (its `RELAIS_INSTANCE_ID`): 1 to 64 of a-z, 0-9, '-', '_'.
    #[schema(example = "relais-ardeche")]
    pub id: String,
    #[schema(example = "Relais de l'Ardèche", min_length = 1, max_length = 200)]
    pub name: String,
    /// Its Ed25519 public key, base64 (`relais statistics public-key` there).
    #[schema(example = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=")]
    pub public_key: String,
}

/// `register_statistics_instance`: documents signed by this key under this id are accepted.
pub fn register(
    conn: &mut DbConnection,
    by: &Principal,
    input: &InstanceInput,
    now: DateTime<Utc>,
) -> Outcome<Instance> {
    let mut check = Validation::new();
    check.require(
        is_instance_id(&input.id),
        "id",
        "invalid_instance_id",
        "1 to 64 of a-z, 0-9, '-' and '_'",
    );
    check.line("name", &input.name, 200);
    check.require(
        signing::public_key(&input.public_key).is_some(),
        "public_key",
        "invalid_public_key",
        "not an Ed25519 public key (32 bytes, base64)",
    );
    check.finish()?;
    let instance = Instance {
        id: input.id.clone(),
        name: input.name.trim().to_owned(),
        public_key: input.public_key.trim().to_owned(),
        registered_at: now,
        registered_by: by.subject.clone(),
    };
    match consolidation::register(conn, &instance) {
        Ok(registered) => Ok(registered),
        Err(StoreError::Conflict(_)) => Err(WorkflowError::Conflict(format!(
            "the instance {} is registered already",
            input.id
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    #[schema(example = "relais-ardeche")]
    pub instance: String,
    #[schema(example = "2026")]
    pub grid: String,
    #[schema(example = "2026-01-01")]
    pub from: chrono::NaiveDate,
    #[schema(example = "2026-12-31")]
    pub to: chrono::NaiveDate,
    /// The posts whose figures were stored now.
    pub imported: Vec<PostId>,
    /// The posts whose same version was imported before (nothing changed).
    pub unchanged: Vec<PostId>,
}

/// `import_statistics_submissions`: verifies the document with the registered key of the
/// instance it names, then stores each post's figures (a version once). Refused whole, naming
/// why: an unreadable payload, an unknown instance, a signature that does not verify (altered,
/// or signed by another key), a payload that contradicts itself, or a version already imported
/// with other figures (409).
pub fn import(
    conn: &mut DbConnection,
    by: &Principal,
    document: &SignedDocument,
    now: DateTime<Utc>,
) -> Outcome<ImportReport> {
    // The payload names its instance, whose key then checks it: nothing of it is trusted or
    // stored before the signature verifies.
    let payload: ExportPayload = serde_json::from_str(&document.payload).map_err(|e| {
        Invalid::one(
            "payload",
            "unreadable",
            format!("not a statistics export payload: {e}"),
        )
    })?;
    let instance = match consolidation::instance_of(conn, &payload.instance) {
        Ok(instance) => instance,
        Err(StoreError::NotFound) => {
            return Err(Invalid::one(
                "payload.instance",
                "unknown_instance",
                format!(
                    "no instance {:?} is registered here: register its public key first",
                    payload.instance
                ),
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let key = signing::public_key(&instance.public_key).ok_or_else(|| {
        WorkflowError::Store(StoreError::Corrupt(format!(
            "statistics_instances.public_key of {}",
            instance.id
        )))
    })?;
    if !signing::verifies(&key, document) {
        return Err(Invalid::one(
            "signature",
            "bad_signature",
            format!(
                "the signature does not verify with the key registered for {}: the document was altered, or signed by another key",
                instance.id
            ),
        )
        .into());
    }
    payload.validate()?;
    let outcomes = match consolidation::import(conn, &payload, now) {
        Ok(outcomes) => outcomes,
        Err(StoreError::Conflict(why)) => return Err(WorkflowError::Conflict(why)),
        Err(e) => return Err(e.into()),
    };
    audit_job_act(
        conn,
        by,
        "import_statistics_submissions",
        (AuditedRecord::StatisticsInstance, instance.id.clone()),
        now,
    )?;
    let pick = |wanted: Imported| {
        outcomes
            .iter()
            .filter(|(_, outcome)| *outcome == wanted)
            .map(|(post, _)| *post)
            .collect()
    };
    Ok(ImportReport {
        instance: instance.id,
        grid: payload.grid,
        from: payload.from,
        to: payload.to,
        imported: pick(Imported::New),
        unchanged: pick(Imported::Unchanged),
    })
}
