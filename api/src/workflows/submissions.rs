//! Submitting a post's statistics: its coordinator freezes the post's grid for a period (whole
//! calendar months) as a new version; the figures are counted in the submission's own
//! transaction, so what is stored is exactly what the cases said at that instant.

use chrono::{DateTime, NaiveDate, Utc};
use relais_domain::access::Principal;
use relais_domain::grid::Grid;
use relais_domain::ids::{PostId, SubmissionId};
use relais_domain::reference::Role;
use relais_domain::statistics::{Statistics, assemble};
use relais_domain::submission::{Submission, check_period, differences};
use relais_persistence::statistics::{self, StatScope};
use relais_persistence::{DbConnection, StoreError, posts, submissions};

use super::{Outcome, WorkflowError, found_within, reads_post};

/// The live grid of a scope over a period, as `GET /statistics` answers it: the one place
/// where counted rows become a [`Statistics`] value, for the live answer and for a submission.
pub fn live(
    conn: &mut DbConnection,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    scope: &StatScope,
) -> Result<Statistics, StoreError> {
    let rows = statistics::compute(conn, grid, from, to, scope)?;
    let raw: Vec<_> = rows.into_iter().map(|r| (r.indicator, r.k, r.n)).collect();
    Ok(assemble(grid, from, to, scope.label(), &raw))
}

/// `submit_statistics`: the post's grid for `from..=to` (whole months, begun by `now`), counted
/// now and frozen as the next version (1 for the first), with the differences from the version
/// before.
pub fn submit(
    conn: &mut DbConnection,
    by: &Principal,
    post: PostId,
    grid: &Grid,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Outcome<Submission> {
    check_period(from, to, now.date_naive())?;
    found_within(posts::get(conn, post), "post", |p| reads_post(by, p.id))?;
    if by.role != Role::Coordinator {
        return Err(WorkflowError::Forbidden(
            "a post's statistics are submitted by its coordinator".into(),
        ));
    }
    let counted = live(conn, grid, from, to, &StatScope::Posts(vec![post]))?;
    let previous = submissions::latest(conn, post, &grid.version, from, to)?;
    let submission = Submission {
        id: SubmissionId::generate(),
        post_id: post,
        version: previous.as_ref().map_or(1, |p| p.version + 1),
        grid: grid.version.clone(),
        from,
        to,
        submitted_at: now,
        submitted_by: by.subject.clone(),
        differences: previous
            .as_ref()
            .map(|p| differences(&p.statistics, &counted))
            .unwrap_or_default(),
        statistics: counted,
    };
    match submissions::insert(conn, &submission) {
        // Read back: the answer is what is stored (timestamps at the database's precision).
        Ok(()) => Ok(submissions::get(conn, submission.id)?),
        // Another submission of the same period took this version number first.
        Err(StoreError::Conflict(_)) => Err(WorkflowError::Conflict(format!(
            "version {} of this period was submitted at the same time; submit again",
            submission.version
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The submissions of a post the actor reads (its staff; the observatory reads every post's).
pub fn of_post(conn: &mut DbConnection, by: &Principal, post: PostId) -> Outcome<Vec<Submission>> {
    found_within(posts::get(conn, post), "post", |p| reads(by, p.id))?;
    Ok(submissions::of_post(conn, post)?)
}

/// One submission of a post the actor reads.
pub fn one(
    conn: &mut DbConnection,
    by: &Principal,
    post: PostId,
    id: SubmissionId,
) -> Outcome<Submission> {
    found_within(submissions::get(conn, id), "submission", |s| {
        s.post_id == post && reads(by, s.post_id)
    })
}

/// The post's staff, or the observatory.
fn reads(by: &Principal, post: PostId) -> bool {
    by.role == Role::Statistics || reads_post(by, post)
}
