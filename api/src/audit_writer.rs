//! Group commit of the audit trail. Every audited request hands its event to one writer thread
//! and waits for it: the thread takes all the events waiting at that moment (up to
//! `MAX_BATCH`), appends them in **one** transaction, and only after the commit tells each
//! request that its event is stored. The guarantee is unchanged (an access that leaves no trace
//! is not served: a request gets its answer only once its own event is committed), but under
//! load one commit carries many events instead of one each, and no request holds a thread of
//! the blocking pool while it waits for the single SQLite writer.

use std::sync::mpsc;

use relais_domain::ids::AuditEventId;
use relais_persistence::audit::{self, NewAuditEvent};
use relais_persistence::{Database, StoreError};
use tokio::sync::oneshot;

use crate::problem::ApiError;

/// Most events in one transaction.
pub const MAX_BATCH: usize = 256;

struct Job {
    event: NewAuditEvent,
    stored: oneshot::Sender<Result<AuditEventId, String>>,
}

/// The handle of the writer thread; the thread ends when the handle is dropped.
pub struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer thread on `db`'s writing connection.
    pub fn spawn(db: Database) -> Result<Self, String> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("relais-audit".into())
            .spawn(move || run(&db, &queue))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Self { jobs })
    }

    /// Appends `event` and returns once it is committed.
    pub async fn append(&self, event: NewAuditEvent) -> Result<AuditEventId, ApiError> {
        let (stored, wait) = oneshot::channel();
        let stopped = || ApiError::Internal("the audit writer has stopped".into());
        self.jobs
            .send(Job { event, stored })
            .map_err(|_| stopped())?;
        wait.await
            .map_err(|_| stopped())?
            .map_err(ApiError::Internal)
    }
}

fn run(db: &Database, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let all = db.write(|conn| {
            batch
                .iter()
                .map(|job| audit::append(conn, &job.event))
                .collect::<Result<Vec<_>, StoreError>>()
        });
        match all {
            Ok(ids) => {
                for (job, id) in batch.into_iter().zip(ids) {
                    // A request that went away no longer waits: nothing to tell it.
                    let _ = job.stored.send(Ok(id));
                }
            }
            // One bad event must not fail the others: each alone, in its own transaction.
            Err(_) => {
                for job in batch {
                    let one = db
                        .write(|conn| audit::append(conn, &job.event))
                        .map_err(|e: StoreError| e.to_string());
                    let _ = job.stored.send(one);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use relais_domain::reference::Role;
    use relais_persistence::schema::audit_events;
    use relais_persistence::testing::TestDatabase;
    use relais_persistence::{Backend, Database, StoreError};

    use super::{AuditWriter, MAX_BATCH};
    use relais_persistence::audit::NewAuditEvent;

    fn event(subject: &str) -> NewAuditEvent {
        NewAuditEvent {
            subject: subject.to_owned(),
            role: Role::SocialWorker,
            action: "get_situation",
            record: None,
            post_hint: None,
            status: 200,
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
        let writer = AuditWriter::spawn(db.clone()).unwrap();
        let n = MAX_BATCH * 2 + 7;
        let results = actix_web::rt::System::new().block_on(futures_util::future::join_all(
            (0..n).map(|_| writer.append(event("many"))),
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
        let writer = AuditWriter::spawn(db.clone()).unwrap();
        let subjects: Vec<&str> = (0..60)
            .map(|i| if i % 3 == 1 { "bad" } else { "good" })
            .collect();
        let results = actix_web::rt::System::new().block_on(futures_util::future::join_all(
            subjects.iter().map(|s| writer.append(event(s))),
        ));
        for (subject, result) in subjects.iter().zip(&results) {
            assert_eq!(result.is_ok(), *subject == "good", "{subject}: {result:?}");
        }
        assert_eq!(stored(&db, "good"), 40);
        assert_eq!(stored(&db, "bad"), 0);
    }
}
