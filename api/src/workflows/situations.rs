//! Situations: opened by a post's social worker (or by a referral's take-up), updated, oriented
//! by a hand-off, closed and reopened through the domain's `SituationState` rules.

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::beneficiary::{Beneficiary, BeneficiaryInput};
use relais_domain::ids::{BeneficiaryId, PostId, SituationId};
use relais_domain::situation::{Situation, SituationDetails, SituationPatch};
use relais_domain::validation::{Invalid, Validation};
use relais_domain::version::Expected;
use relais_persistence::{
    DbConnection, StoreError, beneficiaries, interventions, posts, situations,
};

use super::{Outcome, WorkflowError, acts_for_post, expect_version, found_within, reads_post};
use crate::clock::today;

/// Who the situation is about.
#[derive(Debug, Clone, Copy)]
pub enum Person<'a> {
    /// A person already recorded at the post.
    Known(BeneficiaryId),
    /// A new person, recorded with the situation.
    New(&'a BeneficiaryInput),
}

/// A situation just opened, with its person.
#[derive(Debug, Clone)]
pub struct Opened {
    pub situation: Situation,
    pub beneficiary: Beneficiary,
}

/// The situation if `actor` may read it (its post's staff, or a job); `NotFound` otherwise.
pub fn readable(conn: &mut DbConnection, actor: &Principal, id: SituationId) -> Outcome<Situation> {
    found_within(situations::get(conn, id), "situation", |situation| {
        reads_post(actor, situation.post_id)
    })
}

/// The situation if `actor` may change it (a social worker of its post) and it was not
/// anonymised: nothing new is written about a person whose identity and free text were removed.
pub fn writable(conn: &mut DbConnection, actor: &Principal, id: SituationId) -> Outcome<Situation> {
    let situation = readable(conn, actor, id)?;
    if !acts_for_post(actor, situation.post_id) {
        return Err(WorkflowError::Forbidden(
            "only the post's social workers change its situations".into(),
        ));
    }
    if relais_persistence::retention::situation_is_anonymised(conn, id)? {
        return Err(WorkflowError::Conflict(
            "the situation was anonymised with its person (retention period over, or erasure): \
             it can no longer be changed; open a situation for a new person instead"
                .into(),
        ));
    }
    Ok(situation)
}

/// `Forbidden` unless `actor` may open situations at `post`.
pub fn may_open_at(actor: &Principal, post: PostId) -> Outcome<()> {
    if acts_for_post(actor, post) {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden(
            "that post is not one of yours".into(),
        ))
    }
}

/// `create_situation` (and the take-up of a referral): records the situation, and the person
/// if new, after checking the details against the person's birth.
pub fn open(
    conn: &mut DbConnection,
    by: &Principal,
    post: PostId,
    person: Person<'_>,
    details: &SituationDetails,
    now: DateTime<Utc>,
) -> Outcome<Opened> {
    may_open_at(by, post)?;
    let today = today(now);
    if let Person::New(identity) = person {
        // Everything a new person's situation says is checked at once, before any write.
        let mut v = Validation::new();
        v.nest("beneficiary", identity.validate(today));
        v.absorb(details.validate(today, identity.birth()));
        v.finish()?;
    }
    if let Err(StoreError::NotFound) = posts::get(conn, post) {
        return Err(Invalid::one("post_id", "unknown_post", "no such post").into());
    }
    let person = match person {
        Person::Known(id) => match beneficiaries::get(conn, id) {
            Ok(person) if person.post_id == post && person.anonymised_at.is_some() => {
                return Err(Invalid::one(
                    "beneficiary_id",
                    "anonymised_person",
                    "this person was anonymised: record them again as a new person",
                )
                .into());
            }
            Ok(person) if person.post_id == post => person,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(Invalid::one(
                    "beneficiary_id",
                    "unknown_person",
                    "no such person at this post",
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        },
        Person::New(identity) => beneficiaries::insert(conn, post, identity, now)?,
    };
    // A known person's birth is only known here, inside the transaction.
    details.validate(today, person.identity.birth())?;
    let situation = situations::insert(conn, post, person.id, details, now)?;
    Ok(Opened {
        situation,
        beneficiary: person,
    })
}

/// `update_situation`: what it says, its orientation, its closing (with a reason) or reopening,
/// at the version the actor read.
pub fn update(
    conn: &mut DbConnection,
    by: &Principal,
    id: SituationId,
    expected: &Expected,
    patch: &SituationPatch,
    now: DateTime<Utc>,
) -> Outcome<Situation> {
    let current = writable(conn, by, id)?;
    expect_version(expected, current.meta.version)?;
    let birth = beneficiaries::get(conn, current.beneficiary_id)?
        .identity
        .birth();
    let next = current.patched(patch, today(now), birth)?;
    if let Some(first) = interventions::earliest(conn, id)?
        && next.details.opened_on > first
    {
        return Err(Invalid::one(
            "opened_on",
            "after_intervention",
            format!("the situation has an intervention on {first}, before this day"),
        )
        .into());
    }
    Ok(situations::replace(conn, &next, current.meta.version, now)?)
}
