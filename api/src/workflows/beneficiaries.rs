//! The person's rights: rectification of their identity, and erasure (anonymisation now).

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::beneficiary::{Beneficiary, BeneficiaryInput};
use relais_domain::hand_off;
use relais_domain::ids::BeneficiaryId;
use relais_domain::reference::{HandOffStatus, WithdrawalReason};
use relais_domain::validation::Invalid;
use relais_domain::version::Expected;
use relais_persistence::retention::{self, Anonymisation};
use relais_persistence::{DbConnection, beneficiaries, events, hand_offs, situations};

use super::{
    Outcome, WorkflowError, acts_for_post, events as event, expect_version, found_within,
    reads_post,
};
use relais_persistence::stored;

use crate::clock::today;

/// The person if `actor` may read them (their post's staff, or a job); `NotFound` otherwise.
pub fn readable(
    conn: &mut DbConnection,
    actor: &Principal,
    id: BeneficiaryId,
) -> Outcome<Beneficiary> {
    found_within(beneficiaries::get(conn, id), "person", |person| {
        reads_post(actor, person.post_id)
    })
}

fn writable(conn: &mut DbConnection, actor: &Principal, id: BeneficiaryId) -> Outcome<Beneficiary> {
    let person = readable(conn, actor, id)?;
    if acts_for_post(actor, person.post_id) {
        Ok(person)
    } else {
        Err(WorkflowError::Forbidden(
            "only the social workers of the person's post change their record".into(),
        ))
    }
}

/// `replace_beneficiary`: the person's identity as rectified, at the version the actor read;
/// the birth must stay before their first situation.
pub fn rectify(
    conn: &mut DbConnection,
    by: &Principal,
    id: BeneficiaryId,
    expected: &Expected,
    input: &BeneficiaryInput,
    now: DateTime<Utc>,
) -> Outcome<Beneficiary> {
    input.validate(today(now))?;
    let current = writable(conn, by, id)?;
    expect_version(expected, current.meta.version)?;
    if current.anonymised_at.is_some() {
        return Err(WorkflowError::Conflict(
            "the person was anonymised: their identity cannot be recorded again".into(),
        ));
    }
    if let Some(first) = situations::earliest_opening(conn, id)?
        && !input.birth().is_not_after(first)
    {
        let field = if input.birth_date.is_some() {
            "birth_date"
        } else {
            "birth_year"
        };
        return Err(Invalid::one(
            field,
            "after_situation",
            format!("the person has a situation opened on {first}, before this birth"),
        )
        .into());
    }
    Ok(beneficiaries::replace(
        conn,
        id,
        current.meta.version,
        input,
        now,
    )?)
}

/// `erase_beneficiary` (right to erasure): anonymises the person now, at the version the actor
/// read; refused while a hand-off of theirs is in progress. Erasing again changes nothing.
pub fn erase(
    conn: &mut DbConnection,
    by: &Principal,
    id: BeneficiaryId,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Outcome<Beneficiary> {
    let current = writable(conn, by, id)?;
    expect_version(expected, current.meta.version)?;
    match retention::anonymise_beneficiary(conn, id, stored(now))? {
        Anonymisation::Done { .. } => {
            tell_partners_to_erase(conn, id, WithdrawalReason::Erasure, now)?;
        }
        Anonymisation::AlreadyAnonymised => {}
        Anonymisation::HandOffInProgress => {
            return Err(WorkflowError::Conflict(
                "the person cannot be erased while a hand-off of theirs is in progress \
                 (sent, received or accepted): the partner is working from the data the \
                 person agreed to share; cancel the hand-off or wait for its outcome, \
                 then erase"
                    .into(),
            ));
        }
    }
    Ok(beneficiaries::get(conn, id)?)
}

/// Tells each partner still holding the person's data from a hand-off (sent, and neither
/// cancelled, declined nor expired) to erase its copy, for `reason`: in the caller's
/// transaction, with the change that takes the data away (an erasure, the retention purge).
pub fn tell_partners_to_erase(
    conn: &mut DbConnection,
    person: BeneficiaryId,
    reason: WithdrawalReason,
    now: DateTime<Utc>,
) -> Result<(), relais_persistence::StoreError> {
    for hand_off in hand_offs::of_beneficiary(conn, person)? {
        if hand_off.status != HandOffStatus::Draft && hand_off::partner_holds(hand_off.status) {
            events::append(
                conn,
                &event::personal_data_withdrawn(&hand_off, reason, now),
            )?;
        }
    }
    Ok(())
}
