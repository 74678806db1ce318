//! Memberships and the posts they grant; the lookup that maps a token's identity to them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use relais_domain::ids::{MemberId, PostId};
use relais_domain::member::{Member, MemberAccess, NewMember};
use relais_domain::reference::{CodeList, MemberStatus};
use relais_domain::validation::Invalid;

use crate::convert::{meta, parse, parse_opt, stored};
use crate::error::stale_or_missing;
use crate::schema::{member_posts, members, partners, units};
use crate::{DbConnection, Page, PageRequest, StoreError, posts};

#[derive(Queryable, Selectable)]
#[diesel(table_name = members)]
struct MemberRow {
    id: String,
    display_name: String,
    role: String,
    unit_id: Option<String>,
    partner_id: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    email: Option<String>,
    bound_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i64,
    client_id: Option<String>,
    secret_set_at: Option<NaiveDateTime>,
}

impl MemberRow {
    fn into_member(self, post_ids: Vec<PostId>) -> Result<Member, StoreError> {
        let named = self.subject.is_some() || self.client_id.is_some();
        let status = match (&self.revoked_at, named) {
            (Some(_), _) => MemberStatus::Revoked,
            (None, true) => MemberStatus::Active,
            (None, false) => MemberStatus::Invited,
        };
        Ok(Member {
            id: parse("members.id", &self.id)?,
            access: MemberAccess {
                display_name: self.display_name,
                role: parse("members.role", &self.role)?,
                post_ids,
                unit_id: parse_opt("members.unit_id", self.unit_id.as_deref())?,
                partner_id: parse_opt("members.partner_id", self.partner_id.as_deref())?,
            },
            status,
            issuer: self.issuer,
            subject: self.subject,
            email: self.email,
            client_id: self.client_id,
            secret_set_at: self.secret_set_at.map(|at| at.and_utc()),
            bound_at: self.bound_at.map(|at| at.and_utc()),
            revoked_at: self.revoked_at.map(|at| at.and_utc()),
            meta: meta(self.created_at, self.updated_at, self.version),
        })
    }
}

/// An e-mail as stored and compared: providers differ in the case they send.
fn normalized_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Refuses a scope naming posts, a unit or a partner that do not exist, naming the field.
fn check_scope_exists(conn: &mut DbConnection, access: &MemberAccess) -> Result<(), StoreError> {
    let missing = posts::missing(conn, &access.post_ids)?;
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Err(Invalid::one(
            "post_ids",
            "unknown_post",
            format!("no such post: {}", list.join(", ")),
        )
        .into());
    }
    if let Some(unit) = access.unit_id {
        let found: i64 = units::table
            .filter(units::id.eq(unit.to_string()))
            .count()
            .get_result(conn)?;
        if found == 0 {
            return Err(Invalid::one("unit_id", "unknown", "no such unit").into());
        }
    }
    if let Some(partner) = access.partner_id {
        let found: i64 = partners::table
            .filter(partners::id.eq(partner.to_string()))
            .count()
            .get_result(conn)?;
        if found == 0 {
            return Err(Invalid::one(
                "partner_id",
                "unknown_partner",
                "no such partner in the directory",
            )
            .into());
        }
    }
    Ok(())
}

fn link_posts(
    conn: &mut DbConnection,
    member: &str,
    post_ids: &[PostId],
) -> Result<(), StoreError> {
    for post in post_ids {
        diesel::insert_into(member_posts::table)
            .values((
                member_posts::member_id.eq(member),
                member_posts::post_id.eq(post.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn posts_of(
    conn: &mut DbConnection,
    member_keys: &[String],
) -> Result<HashMap<String, Vec<PostId>>, StoreError> {
    let links: Vec<(String, String)> = member_posts::table
        .filter(member_posts::member_id.eq_any(member_keys))
        .select((member_posts::member_id, member_posts::post_id))
        .order((member_posts::member_id, member_posts::post_id))
        .load(conn)?;
    let mut by_member: HashMap<String, Vec<PostId>> = HashMap::new();
    for (member, post) in links {
        by_member
            .entry(member)
            .or_default()
            .push(parse("member_posts.post_id", &post)?);
    }
    Ok(by_member)
}

fn with_posts(conn: &mut DbConnection, rows: Vec<MemberRow>) -> Result<Vec<Member>, StoreError> {
    let keys: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut posts = posts_of(conn, &keys)?;
    rows.into_iter()
        .map(|row| {
            let linked = posts.remove(&row.id).unwrap_or_default();
            row.into_member(linked)
        })
        .collect()
}

/// Refuses a second live membership of one identity, or a second pending invitation of one
/// e-mail, with the field named (the unique indexes stand behind this check).
fn check_unique(conn: &mut DbConnection, input: &NewMember) -> Result<(), StoreError> {
    if let (Some(issuer), Some(subject)) = (&input.issuer, &input.subject) {
        if find_live(conn, issuer, subject)?.is_some() {
            return Err(StoreError::Conflict(
                "this identity (issuer and subject) already has a membership: change it, or revoke it first".into(),
            ));
        }
    } else if let (Some(issuer), Some(client_id)) = (&input.issuer, &input.client_id) {
        if find_live_client(conn, issuer, client_id)?.is_some() {
            return Err(StoreError::Conflict(
                "this client (issuer and client_id) already has a membership: change it, or revoke it first".into(),
            ));
        }
    } else if let Some(email) = &input.email {
        let pending: i64 = members::table
            .filter(members::email.eq(normalized_email(email)))
            .filter(members::subject.is_null())
            .filter(members::revoked_at.is_null())
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Err(StoreError::Conflict(
                "an invitation to this e-mail is pending: change it, or revoke it first".into(),
            ));
        }
    }
    Ok(())
}

/// Grants a membership (bound to its identity at once when one is named).
pub fn insert(
    conn: &mut DbConnection,
    input: &NewMember,
    now: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let access = &input.access();
    check_scope_exists(conn, access)?;
    check_unique(conn, input)?;
    let id = MemberId::generate();
    let key = id.to_string();
    let at = stored(now);
    diesel::insert_into(members::table)
        .values((
            members::id.eq(&key),
            members::display_name.eq(access.display_name.trim()),
            members::role.eq(access.role.code()),
            members::unit_id.eq(access.unit_id.map(|u| u.to_string())),
            members::partner_id.eq(access.partner_id.map(|p| p.to_string())),
            members::issuer.eq(input.issuer.as_deref()),
            members::subject.eq(input.subject.as_deref()),
            members::email.eq(input.email.as_deref().map(normalized_email)),
            members::client_id.eq(input.client_id.as_deref()),
            members::bound_at
                .eq((input.subject.is_some() || input.client_id.is_some()).then_some(at)),
            members::created_at.eq(at),
            members::updated_at.eq(at),
            members::version.eq(1_i64),
        ))
        .execute(conn)?;
    link_posts(conn, &key, &access.post_ids)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: MemberId) -> Result<Member, StoreError> {
    let key = id.to_string();
    let row: MemberRow = members::table
        .find(&key)
        .select(MemberRow::as_select())
        .first(conn)?;
    let mut posts = posts_of(conn, std::slice::from_ref(&key))?;
    row.into_member(posts.remove(&key).unwrap_or_default())
}

/// The display names of these memberships as they are now, in one query: a renamed member's new
/// name, a revoked member's last one (the trail stays readable). Ids with no membership are left
/// out.
pub fn display_names(
    conn: &mut DbConnection,
    ids: &[MemberId],
) -> Result<HashMap<MemberId, String>, StoreError> {
    let mut keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = members::table
        .filter(members::id.eq_any(&keys))
        .select((members::id, members::display_name))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, name)| Ok((parse("members.id", &id)?, name)))
        .collect()
}

/// Memberships newest first; with `posts`, only those granting one of them.
pub fn list(
    conn: &mut DbConnection,
    posts: Option<&[PostId]>,
    page: &PageRequest,
) -> Result<Page<Member>, StoreError> {
    let mut query = members::table.select(MemberRow::as_select()).into_boxed();
    if let Some(posts) = posts {
        let keys: Vec<String> = posts.iter().map(ToString::to_string).collect();
        query = query.filter(
            members::id.eq_any(
                member_posts::table
                    .filter(member_posts::post_id.eq_any(keys))
                    .select(member_posts::member_id),
            ),
        );
    }
    if let Some(cursor) = &page.cursor {
        query = query.filter(members::id.lt(cursor));
    }
    let rows: Vec<MemberRow> = query
        .order(members::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let found = with_posts(conn, rows)?;
    Ok(Page::from_overfetch(found, page.limit, |m| {
        m.id.to_string()
    }))
}

/// Bumps the version of a live membership still at `expected_version`; stale, missing or
/// (for a revoked one) a conflict otherwise.
fn bump(
    conn: &mut DbConnection,
    key: &str,
    expected_version: i64,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let changed = diesel::update(
        members::table
            .find(key)
            .filter(members::version.eq(expected_version))
            .filter(members::revoked_at.is_null()),
    )
    .set((
        members::updated_at.eq(at),
        members::version.eq(expected_version + 1),
    ))
    .execute(conn)?;
    if changed == 1 {
        return Ok(());
    }
    let current: Option<(i64, Option<NaiveDateTime>)> = members::table
        .find(key)
        .select((members::version, members::revoked_at))
        .first(conn)
        .optional()?;
    match current {
        Some((_, Some(_))) => Err(StoreError::Conflict(
            "the membership is revoked: grant a new one".into(),
        )),
        other => Err(stale_or_missing(other.map(|(v, _)| v))),
    }
}

/// Replaces the role, scope and display name of a live membership at `expected_version`.
pub fn change(
    conn: &mut DbConnection,
    id: MemberId,
    expected_version: i64,
    access: &MemberAccess,
    now: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let key = id.to_string();
    bump(conn, &key, expected_version, stored(now))?;
    check_scope_exists(conn, access)?;
    diesel::update(members::table.find(&key))
        .set((
            members::display_name.eq(access.display_name.trim()),
            members::role.eq(access.role.code()),
            members::unit_id.eq(access.unit_id.map(|u| u.to_string())),
            members::partner_id.eq(access.partner_id.map(|p| p.to_string())),
        ))
        .execute(conn)?;
    diesel::delete(member_posts::table.filter(member_posts::member_id.eq(&key))).execute(conn)?;
    link_posts(conn, &key, &access.post_ids)?;
    get(conn, id)
}

/// Revokes a live membership at `expected_version`; its posts stay recorded, for the trail.
pub fn revoke(
    conn: &mut DbConnection,
    id: MemberId,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let key = id.to_string();
    let at = stored(now);
    bump(conn, &key, expected_version, at)?;
    diesel::update(members::table.find(&key))
        .set(members::revoked_at.eq(at))
        .execute(conn)?;
    get(conn, id)
}

fn find_live(
    conn: &mut DbConnection,
    issuer: &str,
    subject: &str,
) -> Result<Option<MemberRow>, StoreError> {
    Ok(members::table
        .filter(members::issuer.eq(issuer))
        .filter(members::subject.eq(subject))
        .filter(members::revoked_at.is_null())
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?)
}

/// The live membership of the identity (`iss`, `sub`), read at each request: a revocation or a
/// change committed by any replica holds from the next request on.
pub fn active_for_identity(
    conn: &mut DbConnection,
    issuer: &str,
    subject: &str,
) -> Result<Option<Member>, StoreError> {
    find_live(conn, issuer, subject)?
        .map(|row| member_of_row(conn, row))
        .transpose()
}

/// Whether `email` has an invitation waiting for its first login (not bound, not revoked).
/// Read before `bind_invitation`, so that the requests of a person with no membership and no
/// invitation read and never open a write transaction.
pub fn invitation_pending(conn: &mut DbConnection, email: &str) -> Result<bool, StoreError> {
    let pending: i64 = members::table
        .filter(members::email.eq(normalized_email(email)))
        .filter(members::subject.is_null())
        .filter(members::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(pending > 0)
}

/// Binds the identity (`iss`, `sub`) to the pending invitation of `email`, if there is one and
/// the identity has no live membership yet; the membership bound, or `None`.
pub fn bind_invitation(
    conn: &mut DbConnection,
    email: &str,
    issuer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Option<Member>, StoreError> {
    if find_live(conn, issuer, subject)?.is_some() {
        return Ok(None);
    }
    let at = stored(now);
    let pending: Option<(String, i64)> = members::table
        .filter(members::email.eq(normalized_email(email)))
        .filter(members::subject.is_null())
        .filter(members::revoked_at.is_null())
        .select((members::id, members::version))
        .first(conn)
        .optional()?;
    let Some((key, version)) = pending else {
        return Ok(None);
    };
    // Guarded by the version: two first logins at once bind one identity, the other finds none.
    let bound = diesel::update(
        members::table
            .find(&key)
            .filter(members::version.eq(version))
            .filter(members::subject.is_null()),
    )
    .set((
        members::issuer.eq(issuer),
        members::subject.eq(subject),
        members::bound_at.eq(at),
        members::updated_at.eq(at),
        members::version.eq(version + 1),
    ))
    .execute(conn)?;
    if bound == 0 {
        return Ok(None);
    }
    get(conn, parse("members.id", &key)?).map(Some)
}

fn find_live_client(
    conn: &mut DbConnection,
    issuer: &str,
    client_id: &str,
) -> Result<Option<MemberRow>, StoreError> {
    Ok(members::table
        .filter(members::issuer.eq(issuer))
        .filter(members::client_id.eq(client_id))
        .filter(members::revoked_at.is_null())
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?)
}

fn member_of_row(conn: &mut DbConnection, row: MemberRow) -> Result<Member, StoreError> {
    let key = row.id.clone();
    let mut posts = posts_of(conn, std::slice::from_ref(&key))?;
    row.into_member(posts.remove(&key).unwrap_or_default())
}

/// The live machine membership of the OAuth client `client_id` of `issuer` (a client of an
/// identity provider mapped by an administrator), read at each request as a person's is.
pub fn active_for_client(
    conn: &mut DbConnection,
    issuer: &str,
    client_id: &str,
) -> Result<Option<Member>, StoreError> {
    find_live_client(conn, issuer, client_id)?
        .map(|row| member_of_row(conn, row))
        .transpose()
}

/// Whose clients: a partner's system, or an officer unit's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOwner {
    Partner(relais_domain::ids::PartnerId),
    Unit(relais_domain::ids::UnitId),
}

impl ClientOwner {
    /// The role and scope of the owner's machines.
    pub fn access(self, display_name: &str) -> MemberAccess {
        let (role, unit_id, partner_id) = match self {
            Self::Partner(p) => (relais_domain::reference::Role::Partner, None, Some(p)),
            Self::Unit(u) => (relais_domain::reference::Role::Officer, Some(u), None),
        };
        MemberAccess {
            display_name: display_name.to_owned(),
            role,
            post_ids: Vec::new(),
            unit_id,
            partner_id,
        }
    }

    /// Whether `member` is one of the owner's machines.
    pub fn owns(self, member: &Member) -> bool {
        match self {
            Self::Partner(p) => member.access.partner_id == Some(p),
            Self::Unit(u) => member.access.unit_id == Some(u),
        }
    }
}

/// Issues a client to `owner`'s system: a machine membership of `issuer` (this instance's own)
/// whose client id is the membership's id, keeping only the hash of its secret.
pub fn insert_client(
    conn: &mut DbConnection,
    owner: ClientOwner,
    display_name: &str,
    issuer: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let access = owner.access(display_name);
    check_scope_exists(conn, &access)?;
    let id = MemberId::generate();
    let key = id.to_string();
    let at = stored(now);
    diesel::insert_into(members::table)
        .values((
            members::id.eq(&key),
            members::display_name.eq(access.display_name.trim()),
            members::role.eq(access.role.code()),
            members::unit_id.eq(access.unit_id.map(|u| u.to_string())),
            members::partner_id.eq(access.partner_id.map(|p| p.to_string())),
            members::issuer.eq(issuer),
            members::client_id.eq(&key),
            members::secret_hash.eq(secret_hash),
            members::secret_set_at.eq(at),
            members::bound_at.eq(at),
            members::created_at.eq(at),
            members::updated_at.eq(at),
            members::version.eq(1_i64),
        ))
        .execute(conn)?;
    get(conn, id)
}

/// The clients Relais issued to `owner`'s system (revoked ones included, for the trail), newest
/// first.
pub fn clients(
    conn: &mut DbConnection,
    owner: ClientOwner,
    page: &PageRequest,
) -> Result<Page<Member>, StoreError> {
    let mut query = members::table
        .select(MemberRow::as_select())
        .filter(members::secret_hash.is_not_null())
        .into_boxed();
    query = match owner {
        ClientOwner::Partner(p) => query.filter(members::partner_id.eq(p.to_string())),
        ClientOwner::Unit(u) => query.filter(members::unit_id.eq(u.to_string())),
    };
    if let Some(cursor) = &page.cursor {
        query = query.filter(members::id.lt(cursor));
    }
    let rows: Vec<MemberRow> = query
        .order(members::id.desc())
        .limit(page.limit + 1)
        .load(conn)?;
    let found = with_posts(conn, rows)?;
    Ok(Page::from_overfetch(found, page.limit, |m| {
        m.id.to_string()
    }))
}

/// The client Relais issued with the id `client_id` (live or revoked), if any.
pub fn issued_client(conn: &mut DbConnection, client_id: &str) -> Result<Member, StoreError> {
    let row: MemberRow = members::table
        .filter(members::client_id.eq(client_id))
        .filter(members::secret_hash.is_not_null())
        .select(MemberRow::as_select())
        .first(conn)?;
    member_of_row(conn, row)
}

/// The live client Relais issued with the id `client_id`, and the hash of its secret: what the
/// token endpoint checks a secret against.
pub fn live_client_secret(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Option<(Member, String)>, StoreError> {
    let found: Option<(MemberRow, Option<String>)> = members::table
        .filter(members::client_id.eq(client_id))
        .filter(members::secret_hash.is_not_null())
        .filter(members::revoked_at.is_null())
        .select((MemberRow::as_select(), members::secret_hash))
        .first(conn)
        .optional()?;
    match found {
        Some((row, Some(hash))) => Ok(Some((member_of_row(conn, row)?, hash))),
        _ => Ok(None),
    }
}

/// Replaces the secret of a live client at `expected_version`: the old one is refused from now.
pub fn set_secret(
    conn: &mut DbConnection,
    id: MemberId,
    expected_version: i64,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let key = id.to_string();
    let at = stored(now);
    bump(conn, &key, expected_version, at)?;
    diesel::update(members::table.find(&key))
        .set((
            members::secret_hash.eq(secret_hash),
            members::secret_set_at.eq(at),
        ))
        .execute(conn)?;
    get(conn, id)
}
