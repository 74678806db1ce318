//! Memberships: granted, changed and revoked by an administrator, or by a post's coordinator for
//! the post's social workers; bound to its identity at an invitation's first login. Each change
//! is told to the feed of every post it concerns (those it leaves and those it joins).

use chrono::{DateTime, Utc};
use relais_domain::access::Principal;
use relais_domain::event::MemberEventData;
use relais_domain::ids::{MemberId, PostId};
use relais_domain::member::{Member, MemberAccess, NewMember, is_machine_role, manages};
use relais_domain::reference::{AuditedRecord, EventType, Role};
use relais_domain::version::Expected;
use relais_persistence::audit::{self, NewAuditEvent};
use relais_persistence::events::{self, NewEvent};
use relais_persistence::{DbConnection, members};

use super::{Outcome, WorkflowError, expect_version, found_within};

/// Whether `actor` sees the membership: an administrator every one; a coordinator those granting
/// one of its posts.
pub fn sees(actor: &Principal, member: &Member) -> bool {
    match actor.role {
        Role::Admin => true,
        Role::Coordinator => member
            .access
            .post_ids
            .iter()
            .any(|p| actor.post_ids.contains(p)),
        _ => false,
    }
}

/// The membership if `actor` sees it; the same 404 otherwise.
pub fn visible(conn: &mut DbConnection, actor: &Principal, id: MemberId) -> Outcome<Member> {
    found_within(members::get(conn, id), "membership", |m| sees(actor, m))
}

fn refuse_unmanaged(actor: &Principal, access: &MemberAccess) -> Outcome<()> {
    if manages(actor, access) {
        Ok(())
    } else {
        Err(WorkflowError::Forbidden(
            "a coordinator grants, changes and revokes only the memberships of social workers of its own posts".into(),
        ))
    }
}

/// Tells each of `posts` (once each) what became of the membership.
fn tell_posts(
    conn: &mut DbConnection,
    kind: EventType,
    member: &Member,
    posts: &[PostId],
    now: DateTime<Utc>,
) -> Outcome<()> {
    let mut told: Vec<PostId> = Vec::new();
    for post in posts {
        if told.contains(post) {
            continue;
        }
        told.push(*post);
        let data = MemberEventData {
            member_id: member.id,
            role: member.access.role,
            status: member.status,
        };
        events::append(
            conn,
            &NewEvent {
                kind,
                occurred_at: now,
                post: Some(*post),
                partner: None,
                unit: None,
                record_type: kind.family().record_type(),
                record_id: member.id.to_string(),
                data: serde_json::to_string(&data).unwrap_or_default(),
            },
        )?;
    }
    Ok(())
}

/// `create_member`: grants a membership to an identity, or invites an e-mail.
pub fn grant(
    conn: &mut DbConnection,
    by: &Principal,
    input: &NewMember,
    now: DateTime<Utc>,
) -> Outcome<Member> {
    input.validate()?;
    refuse_unmanaged(by, &input.access())?;
    let member = members::insert(conn, input, now)?;
    super::audit_job_act(
        conn,
        by,
        "create_member",
        (AuditedRecord::Member, member.id.to_string()),
        now,
    )?;
    tell_posts(
        conn,
        EventType::MemberGranted,
        &member,
        &member.access.post_ids,
        now,
    )?;
    Ok(member)
}

/// `replace_member`: another role, scope or display name. A coordinator changes only its posts'
/// social workers, and keeps them social workers of its posts.
pub fn change(
    conn: &mut DbConnection,
    by: &Principal,
    id: MemberId,
    expected: &Expected,
    access: &MemberAccess,
    now: DateTime<Utc>,
) -> Outcome<Member> {
    access.validate()?;
    let before = visible(conn, by, id)?;
    refuse_unmanaged(by, &before.access)?;
    refuse_unmanaged(by, access)?;
    if before.is_machine() && !is_machine_role(access.role) {
        return Err(relais_domain::validation::Invalid::one(
            "role",
            "not_applicable",
            "a machine (client_id) stays a partner's or an officer unit's system: role partner or officer",
        )
        .into());
    }
    expect_version(expected, before.meta.version)?;
    let after = members::change(conn, id, before.meta.version, access, now)?;
    let mut posts = before.access.post_ids.clone();
    posts.extend(after.access.post_ids.iter().copied());
    tell_posts(conn, EventType::MemberChanged, &after, &posts, now)?;
    Ok(after)
}

/// `revoke_member`: the holder is refused from its next request on.
pub fn revoke(
    conn: &mut DbConnection,
    by: &Principal,
    id: MemberId,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Outcome<Member> {
    let before = visible(conn, by, id)?;
    refuse_unmanaged(by, &before.access)?;
    expect_version(expected, before.meta.version)?;
    let member = members::revoke(conn, id, before.meta.version, now)?;
    tell_posts(
        conn,
        EventType::MemberRevoked,
        &member,
        &member.access.post_ids,
        now,
    )?;
    Ok(member)
}

/// The first login of an invitation: binds the identity (`issuer`, `subject`) to the pending
/// invitation of the verified `email`, audited as the member's own act, and told to its posts.
/// `None` when no invitation waits for that e-mail.
pub fn bind_at_first_login(
    conn: &mut DbConnection,
    email: &str,
    issuer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Outcome<Option<Member>> {
    let Some(member) = members::bind_invitation(conn, email, issuer, subject, now)? else {
        return Ok(None);
    };
    let principal = member.principal();
    audit::append(
        conn,
        &NewAuditEvent {
            at: now,
            subject: principal.subject.clone(),
            role: principal.role,
            action: "bind_member",
            record: Some((AuditedRecord::Member, member.id.to_string())),
            post_hint: None,
            status: 200,
            replayed: false,
        },
    )?;
    tell_posts(
        conn,
        EventType::MemberBound,
        &member,
        &member.access.post_ids,
        now,
    )?;
    Ok(Some(member))
}
