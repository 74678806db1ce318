//! Who may read and write what. The API asks these questions and nothing else decides.
//!
//! Case content (people, situations, interventions, evaluations) belongs to a post:
//! its social workers read and write it, its coordinators read it, and no other role
//! sees it — administrators manage the directory, never the cases.

use crate::ids::{PartnerId, PostId, UnitId};
use crate::reference::Role;

/// The holder of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who, as named by the token's `sub`.
    pub subject: String,
    pub role: Role,
    /// The posts the holder works for (social workers: one; coordinators: several).
    pub post_ids: Vec<PostId>,
    pub unit_id: Option<UnitId>,
    pub partner_id: Option<PartnerId>,
}

impl Principal {
    /// Relais itself, acting in the background job `job` (`system:<job>`). It is never
    /// authenticated from a token: only jobs build it, and workflows let it act on any post.
    pub fn system(job: &str) -> Self {
        Self {
            subject: format!("system:{job}"),
            role: Role::System,
            post_ids: Vec::new(),
            unit_id: None,
            partner_id: None,
        }
    }

    /// Whether this is one of Relais's own jobs.
    pub fn is_system(&self) -> bool {
        self.role == Role::System
    }

    fn works_for(&self, post: PostId) -> bool {
        self.post_ids.contains(&post)
    }

    /// Whether the holder may read the cases of `post`.
    pub fn can_read_cases(&self, post: PostId) -> bool {
        matches!(self.role, Role::SocialWorker | Role::Coordinator) && self.works_for(post)
    }

    /// Whether the holder may record or change cases of `post`.
    pub fn can_write_cases(&self, post: PostId) -> bool {
        self.role == Role::SocialWorker && self.works_for(post)
    }

    /// The posts whose cases the holder may list; empty when it may list none.
    pub fn readable_case_posts(&self) -> &[PostId] {
        match self.role {
            Role::SocialWorker | Role::Coordinator => &self.post_ids,
            _ => &[],
        }
    }

    /// Whether the holder manages posts, units and the directory.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the holder may read the description of `post` (not its cases).
    pub fn can_read_post(&self, post: PostId) -> bool {
        self.is_admin() || self.can_read_cases(post)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, posts: &[PostId]) -> Principal {
        Principal {
            subject: "someone".into(),
            role,
            post_ids: posts.to_vec(),
            unit_id: None,
            partner_id: None,
        }
    }

    #[test]
    fn social_workers_read_and_write_their_posts_only() {
        let (mine, other) = (PostId::generate(), PostId::generate());
        let sw = principal(Role::SocialWorker, &[mine]);
        assert!(sw.can_read_cases(mine) && sw.can_write_cases(mine));
        assert!(!sw.can_read_cases(other) && !sw.can_write_cases(other));
        assert!(sw.can_read_post(mine) && !sw.can_read_post(other));
    }

    #[test]
    fn coordinators_read_their_posts_but_do_not_write() {
        let (a, b) = (PostId::generate(), PostId::generate());
        let coordinator = principal(Role::Coordinator, &[a, b]);
        assert!(coordinator.can_read_cases(a) && coordinator.can_read_cases(b));
        assert!(!coordinator.can_write_cases(a));
        assert_eq!(coordinator.readable_case_posts(), [a, b]);
    }

    #[test]
    fn no_other_role_reads_cases_even_with_posts_in_its_token() {
        let post = PostId::generate();
        for role in [Role::Admin, Role::Officer, Role::Partner, Role::Statistics] {
            let p = principal(role, &[post]);
            assert!(!p.can_read_cases(post), "{role}");
            assert!(!p.can_write_cases(post), "{role}");
            assert!(p.readable_case_posts().is_empty(), "{role}");
        }
        assert!(principal(Role::Admin, &[]).can_read_post(post));
        assert!(!principal(Role::Officer, &[post]).can_read_post(post));
    }
}
