//! Referrals (*signalements entrants*): sent by an officer or a partner system, taken up by the
//! post (a situation opens), marked contacted, or closed without follow-up.

use chrono::{DateTime, Datelike, Utc};
use relais_domain::access::Principal;
use relais_domain::beneficiary::BeneficiaryInput;
use relais_domain::ids::{BeneficiaryId, ReferralId};
use relais_domain::reference::{NoFollowUpReason, ReferralStatus, Role};
use relais_domain::referral::{Referral, ReferralInput, ReferralSender, move_referral};
use relais_domain::situation::SituationDetails;
use relais_domain::validation::Invalid;
use relais_domain::version::Expected;
use relais_persistence::referrals::{self, ReferralScope};
use relais_persistence::{DbConnection, StoreError, events, partners, posts, units};

use super::situations::{Opened, Person};
use super::{Outcome, WorkflowError, acts_for_post, events as event, expect_version, found_within};
use crate::clock::today;

/// Which referrals `actor` sees: its posts' (staff), its unit's or its organisation's (senders).
pub fn scope_of(actor: &Principal) -> Outcome<ReferralScope> {
    match (actor.role, actor.unit_id, actor.partner_id) {
        (Role::Officer, Some(unit), _) => Ok(ReferralScope::Unit(unit)),
        (Role::Partner, _, Some(partner)) => Ok(ReferralScope::Partner(partner)),
        (Role::SocialWorker | Role::Coordinator, _, _) => {
            Ok(ReferralScope::Posts(actor.readable_case_posts().to_vec()))
        }
        (role, _, _) => Err(WorkflowError::Forbidden(format!(
            "the role {role} does not read referrals"
        ))),
    }
}

/// The referral if `actor` may see it (its post's staff, or its sender); `NotFound` otherwise.
pub fn visible(conn: &mut DbConnection, actor: &Principal, id: ReferralId) -> Outcome<Referral> {
    if actor.is_system() {
        return Ok(referrals::get(conn, id)?);
    }
    let scope = scope_of(actor)?;
    found_within(
        referrals::get(conn, id),
        "referral",
        |referral| match &scope {
            ReferralScope::Posts(posts) => posts.contains(&referral.post_id),
            ReferralScope::Unit(unit) => referral.sender.unit_id == Some(*unit),
            ReferralScope::Partner(partner) => referral.sender.partner_id == Some(*partner),
        },
    )
}

fn writable(
    conn: &mut DbConnection,
    actor: &Principal,
    id: ReferralId,
    expected: &Expected,
) -> Outcome<Referral> {
    let referral = visible(conn, actor, id)?;
    if !acts_for_post(actor, referral.post_id) {
        return Err(WorkflowError::Forbidden(
            "only the post's social workers act on its referrals".into(),
        ));
    }
    expect_version(expected, referral.meta.version)?;
    Ok(referral)
}

/// An illegal move of a referral, as a conflict naming why.
fn conflict(invalid: Invalid) -> WorkflowError {
    WorkflowError::Conflict(
        invalid
            .0
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// `create_referral`: an officer refers a person to a post its unit works with, or a partner
/// system to any post.
pub fn create(
    conn: &mut DbConnection,
    by: &Principal,
    input: &ReferralInput,
    now: DateTime<Utc>,
) -> Outcome<Referral> {
    if !matches!(by.role, Role::Officer | Role::Partner) {
        return Err(WorkflowError::Forbidden(
            "referrals are sent by officers and partner systems".into(),
        ));
    }
    input.validate(today(now).year())?;
    if let Err(StoreError::NotFound) = posts::get(conn, input.post_id) {
        return Err(Invalid::one("post_id", "unknown_post", "no such post").into());
    }
    match (by.unit_id, by.partner_id) {
        (Some(unit), _) if by.role == Role::Officer => {
            if !units::works_with(conn, unit, input.post_id)? {
                return Err(WorkflowError::Forbidden(
                    "your unit does not work with this post".into(),
                ));
            }
        }
        (_, Some(partner)) => {
            partners::get(conn, partner).map_err(|_| {
                WorkflowError::Forbidden("your partner organisation is not in the directory".into())
            })?;
        }
        _ => {
            return Err(WorkflowError::Forbidden(
                "the token names no unit or partner".into(),
            ));
        }
    }
    let sender = ReferralSender {
        role: by.role,
        subject: by.subject.clone(),
        unit_id: by.unit_id.filter(|_| by.role == Role::Officer),
        partner_id: by.partner_id.filter(|_| by.role == Role::Partner),
    };
    let referral = referrals::insert(conn, input, &sender, now)?;
    events::append(conn, &event::referral_moved(&referral, now))?;
    Ok(referral)
}

/// `take_up_referral`: opens a situation for the person (a known person of the post, or the
/// referral's person recorded anew), linked to the referral.
pub fn take_up(
    conn: &mut DbConnection,
    by: &Principal,
    id: ReferralId,
    expected: &Expected,
    known_person: Option<BeneficiaryId>,
    details: &SituationDetails,
    now: DateTime<Utc>,
) -> Outcome<Opened> {
    let referral = writable(conn, by, id, expected)?;
    let status = move_referral(referral.status, ReferralStatus::TakenUp).map_err(conflict)?;
    let referred = &referral.person;
    let identity = BeneficiaryInput {
        first_name: referred.first_name.clone(),
        last_name: referred.last_name.clone(),
        birth_year: referred.birth_year,
        sex: referred.sex,
        commune_code: referred.commune_code.clone(),
        phone: referred.phone.clone(),
        ..BeneficiaryInput::default()
    };
    let person = match known_person {
        Some(known) => Person::Known(known),
        None => Person::New(&identity),
    };
    let opened = super::situations::open(conn, by, referral.post_id, person, details, now)?;
    let referral = referrals::set_status(
        conn,
        id,
        referral.meta.version,
        status,
        None,
        Some(opened.situation.id),
        now,
    )?;
    events::append(conn, &event::referral_moved(&referral, now))?;
    Ok(opened)
}

/// `mark_referral_contacted`: the person was contacted.
pub fn mark_contacted(
    conn: &mut DbConnection,
    by: &Principal,
    id: ReferralId,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Outcome<Referral> {
    let referral = writable(conn, by, id, expected)?;
    let status =
        move_referral(referral.status, ReferralStatus::PersonContacted).map_err(conflict)?;
    let referral = referrals::set_status(conn, id, referral.meta.version, status, None, None, now)?;
    events::append(conn, &event::referral_moved(&referral, now))?;
    Ok(referral)
}

/// `close_referral`: no follow-up, with a reason shown to the sender.
pub fn close(
    conn: &mut DbConnection,
    by: &Principal,
    id: ReferralId,
    expected: &Expected,
    reason: NoFollowUpReason,
    now: DateTime<Utc>,
) -> Outcome<Referral> {
    let referral = writable(conn, by, id, expected)?;
    let status = move_referral(referral.status, ReferralStatus::NoFollowUp).map_err(conflict)?;
    let referral = referrals::set_status(
        conn,
        id,
        referral.meta.version,
        status,
        Some(reason),
        None,
        now,
    )?;
    events::append(conn, &event::referral_moved(&referral, now))?;
    Ok(referral)
}
