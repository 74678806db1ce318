//! Registering a partner's webhook, within the number a partner may have.

use relais_domain::ids::PartnerId;
use relais_domain::webhook::Webhook;
use relais_persistence::{DbConnection, StoreError, webhooks};

use super::{Outcome, WorkflowError};

/// Registers a webhook of `partner` (the partner system's own, which the caller checked) to
/// `url`, signed with `secret`, unless the partner already has `max_per_partner` active ones
/// (`RELAIS_WEBHOOKS_PER_PARTNER`): each event fans out to every webhook, and each delivery is
/// retried for a day. Deleted webhooks do not count. `Forbidden` when the partner is not in the
/// directory, `Conflict` at the limit.
///
/// The count and the insert are in the caller's transaction, with the partner's row locked
/// between them: two registrations at once for one partner cannot both pass the limit.
pub fn register(
    conn: &mut DbConnection,
    partner: PartnerId,
    url: &str,
    secret: &str,
    max_per_partner: u32,
) -> Outcome<Webhook> {
    let active = match webhooks::count_active_locking_partner(conn, partner) {
        Err(StoreError::NotFound) => {
            return Err(WorkflowError::Forbidden(format!(
                "the partner {partner} of your token is not in the directory"
            )));
        }
        counted => counted?,
    };
    if active >= i64::from(max_per_partner) {
        return Err(WorkflowError::Conflict(format!(
            "your partner has {active} active webhooks, the most this instance allows \
             ({max_per_partner}): delete one before registering another"
        )));
    }
    Ok(webhooks::create(conn, partner, url, secret)?)
}
