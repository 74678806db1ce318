//! Where writes go. On SQLite, the one writer: every request's write and every audit event go
//! through one group-commit thread (see `group_commit`), since they would queue for the single
//! writing connection anyway. On PostgreSQL, requests write concurrently through the pool, and
//! only the audit events are grouped, many to a commit (and to one update of the audit chain's
//! head).

use actix_web::web;
use relais_domain::ids::AuditEventId;
use relais_persistence::audit::NewAuditEvent;
use relais_persistence::db::DieselError;
use relais_persistence::{Backend, Database, DbConnection, StoreError};

pub mod group_commit;

use group_commit::GroupCommit;

/// Group-commit threads for the audit events on PostgreSQL: one. Each batch holds the audit
/// chain's head from its insert to its commit (positions follow commits), so several threads
/// would commit one after the other anyway, each with a smaller batch: measured, three threads
/// gave about half the events per second of one at 8 requests in flight (BENCHMARKS.md).
const AUDIT_THREADS_POSTGRES: usize = 1;

/// Why a write was not committed, whatever the write itself said.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("commit failed: {}", .0.why)]
    CommitFailed(group_commit::CommitFailure),
    #[error("the writer thread has stopped")]
    Stopped,
    #[error("blocking pool: {0}")]
    BlockingPool(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DieselError> for WriteError {
    fn from(error: DieselError) -> Self {
        WriteError::Store(error.into())
    }
}

pub struct Writes {
    db: Database,
    /// Groups the audit events; on SQLite, the requests' writes too.
    grouped: GroupCommit,
    /// How many write transactions `run` opened: what lets a test tell that a request wrote
    /// nothing (an empty transaction leaves no row to see).
    runs: std::sync::atomic::AtomicU64,
}

impl Writes {
    /// Starts the group-commit thread on `db`.
    pub fn start(db: Database) -> Result<Self, String> {
        // SQLite: one writer, so one thread. PostgreSQL: one too (see AUDIT_THREADS_POSTGRES),
        // holding a pooled connection only while it commits.
        let (name, threads) = match db.backend() {
            Backend::Sqlite => ("relais-writer", 1),
            Backend::Postgres => ("relais-audit", AUDIT_THREADS_POSTGRES),
        };
        Ok(Self {
            grouped: GroupCommit::spawn(db.clone(), name, threads)?,
            db,
            runs: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Runs `write` in one transaction (on SQLite, a savepoint of a grouped one) and returns
    /// once it is committed.
    pub async fn run<T, E>(
        &self,
        write: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteError> + From<StoreError> + From<DieselError> + Send + 'static,
    {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.db.backend() {
            Backend::Sqlite => self.grouped.run(write).await,
            Backend::Postgres => {
                let db = self.db.clone();
                web::block(move || db.write(write))
                    .await
                    .map_err(|e| E::from(WriteError::BlockingPool(e.to_string())))?
            }
        }
    }

    /// How many write transactions were opened since the start (audit batches aside).
    pub fn transactions(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why grouped writes fail now (a full disk, a read-only filesystem, a lost file), if they do.
    pub fn failing(&self) -> Option<String> {
        self.grouped.health().failing()
    }

    /// Appends `events` to the audit trail (chained and inserted with the other audit events
    /// of the batch) and returns once they are committed.
    pub async fn audit_all(&self, events: Vec<NewAuditEvent>) -> Result<(), WriteError> {
        self.grouped.audit(events).await.map(drop)
    }

    /// Appends `event` to the audit trail and returns once it is committed.
    pub async fn audit(&self, event: NewAuditEvent) -> Result<AuditEventId, WriteError> {
        self.grouped
            .audit(vec![event])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("an audit event without an id".into()).into())
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use relais_domain::reference::Role;
    use relais_persistence::audit::NewAuditEvent;
    use relais_persistence::schema::audit_events;
    use relais_persistence::testing::TestDatabase;
    use relais_persistence::{Backend, Database, StoreError};

    use super::Writes;
    use crate::writes::group_commit::MAX_BATCH;

    fn event(subject: &str) -> NewAuditEvent {
        NewAuditEvent {
            at: chrono::DateTime::from_timestamp(1_773_484_927, 0).unwrap(),
            subject: subject.to_owned(),
            role: Role::SocialWorker,
            action: "get_situation",
            record: None,
            post_hint: None,
            status: 200,
            replayed: false,
        }
    }

    fn stored(db: &Database, subject: &str) -> i64 {
        db.read(|conn| {
            audit_events::table
                .filter(audit_events::subject.eq(subject))
                .count()
                .get_result::<i64>(conn)
                .map_err(StoreError::from)
        })
        .unwrap()
    }

    /// Many events at once (more than a batch): each is acknowledged with its own id, and each
    /// acknowledged event is in the table.
    #[test]
    fn concurrent_events_are_each_committed_before_they_are_acknowledged() {
        let database = TestDatabase::create();
        let db = Database::open(&database.url, 4).unwrap();
        let writes = Writes::start(db.clone()).unwrap();
        let n = MAX_BATCH * 2 + 7;
        let results = actix_web::rt::System::new().block_on(futures_util::future::join_all(
            (0..n).map(|_| writes.audit(event("many"))),
        ));
        let mut ids: Vec<String> = results
            .into_iter()
            .map(|r| r.unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(stored(&db, "many"), i64::try_from(n).unwrap());
    }

    /// An event the database refuses fails alone: the others of its batch are stored and
    /// acknowledged, and the refused one is reported (so its request is not served).
    #[test]
    fn a_refused_event_fails_alone() {
        let database = TestDatabase::create();
        let db = Database::open(&database.url, 4).unwrap();
        let refuse = match db.backend() {
            Backend::Sqlite => {
                "CREATE TRIGGER refuse_bad BEFORE INSERT ON audit_events WHEN NEW.subject = 'bad' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            }
            Backend::Postgres => {
                "CREATE FUNCTION refuse_bad() RETURNS trigger AS $$ BEGIN \
                 IF NEW.subject = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END \
                 $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER refuse_bad BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION refuse_bad();"
            }
        };
        db.write(|conn| conn.batch_execute(refuse).map_err(StoreError::from))
            .unwrap();
        let writes = Writes::start(db.clone()).unwrap();
        let subjects: Vec<&str> = (0..60)
            .map(|i| if i % 3 == 1 { "bad" } else { "good" })
            .collect();
        let results = actix_web::rt::System::new().block_on(futures_util::future::join_all(
            subjects.iter().map(|s| writes.audit(event(s))),
        ));
        for (subject, result) in subjects.iter().zip(&results) {
            assert_eq!(result.is_ok(), *subject == "good", "{subject}: {result:?}");
        }
        assert_eq!(stored(&db, "good"), 40);
        assert_eq!(stored(&db, "bad"), 0);
    }
}
