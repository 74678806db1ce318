//! Group commit: one thread runs the writes waiting at a moment in **one** transaction, each in
//! a savepoint of its own, and answers each of them only after that transaction commits.
//!
//! Why: SQLite admits one writer, and each commit writes every page it touched to the WAL. A
//! create touches a dozen pages (tables and indexes) that the next create touches again, so
//! sixty-four creates in one commit write those pages once instead of sixty-four times. The
//! audit trail's events take the same road. The guarantees of one transaction per write are
//! kept: a write that fails rolls back to its savepoint and fails alone; a write is answered
//! only once it is durable, and if the commit fails, every write of the batch fails.
//!
//! Audit events take a shorter road still: the events of the audit jobs that follow one another
//! in a batch (the reads of a busy server) are chained and inserted together, in one savepoint,
//! with one update of the chain's head (`relais_persistence::audit_chain`); only if that fails
//! is each job's insert retried alone, so that an event the database refuses fails alone.
//! On PostgreSQL the head stays locked from that insert to the commit, so that positions follow
//! commits: the batches of several threads would commit one after the other (the API runs one).
//!
//! Nothing waits to fill a batch: a thread takes what is queued when it is free, so one
//! write on an idle server is committed at once. Several threads may share the queue, where
//! the database admits concurrent writers and the writes do not serialise on a lock of their own.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use relais_domain::ids::AuditEventId;
use relais_persistence::audit::{self, NewAuditEvent};
use relais_persistence::db::{DieselError, savepoint};
use relais_persistence::{Database, DbConnection, StoreError};
use tokio::sync::oneshot;

use super::WriteError;

/// Most writes in one transaction.
pub const MAX_BATCH: usize = 256;

/// Why a batch did not commit.
#[derive(Debug, Clone)]
pub struct CommitFailure {
    pub why: String,
    /// The database cannot take writes now (its file is lost, the disk full or read-only),
    /// rather than a fault of Relais.
    pub unavailable: bool,
}

/// Told whether the batch's transaction committed (`Err` carries why it did not).
type Delivery = Box<dyn FnOnce(Result<(), &CommitFailure>) + Send>;
/// A write, run inside the batch's transaction (`None`: the transaction could not even start);
/// returns how to deliver its result.
type Write = Box<dyn FnOnce(Option<&mut DbConnection>) -> Delivery + Send>;
/// Where an audit job's event ids go once the batch committed.
type AuditAnswer = oneshot::Sender<Result<Vec<AuditEventId>, WriteError>>;

/// What the threads run.
enum Job {
    Write(Write),
    /// Audit events, chained and inserted with those of the audit jobs next to it.
    Audit(Vec<NewAuditEvent>, AuditAnswer),
}

/// The last batch that failed because the database could not take writes (a full disk, a
/// read-only filesystem, a lost file), until a batch commits again: readiness reads it, since
/// a probe that rewrites one row can still fit where new records no longer do.
#[derive(Debug, Default)]
pub struct WriteHealth(Mutex<Option<(Instant, String)>>);

/// How long a write failure keeps the instance unready without a write since: then the probe is
/// trusted again (and the next failing write says so again).
const FAILURE_MEMORY: Duration = Duration::from_secs(60);

impl WriteHealth {
    fn failed(&self, why: &str) {
        *self.lock() = Some((Instant::now(), why.to_owned()));
    }

    fn committed(&self) {
        *self.lock() = None;
    }

    /// Why writes fail now, if they do.
    pub fn failing(&self) -> Option<String> {
        self.lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_MEMORY)
            .map(|(_, why)| why.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The handle of the group-commit threads; they end when the handle is dropped.
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
    health: Arc<WriteHealth>,
}

impl GroupCommit {
    /// Starts `threads` threads (at least one), writing through `db`'s writing connections.
    pub fn spawn(db: Database, name: &str, threads: usize) -> Result<Self, String> {
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let health = Arc::new(WriteHealth::default());
        for i in 0..threads.max(1) {
            let (db, queue, health) = (db.clone(), Arc::clone(&queue), Arc::clone(&health));
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || run(&db, &queue, &health))
                .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        }
        Ok(Self { jobs, health })
    }

    /// Whether the batches commit.
    pub fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Runs `write` in a savepoint of the next batch and returns its result once the batch
    /// has committed. An error from `write` rolls back its own changes only.
    pub async fn run<
        T: Send + 'static,
        E: From<WriteError> + From<DieselError> + Send + 'static,
    >(
        &self,
        write: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let (answer, wait) = oneshot::channel();
        let job: Write = Box::new(move |conn| {
            // Nested in the batch's transaction, diesel makes this a savepoint.
            let result = conn.map(|conn| savepoint(conn, write));
            Box::new(move |committed| {
                let result = match (result, committed) {
                    (Some(Ok(value)), Ok(())) => Ok(value),
                    (Some(Err(e)), _) => Err(e),
                    (_, Err(failure)) => Err(WriteError::CommitFailed(failure.clone()).into()),
                    (None, Ok(())) => Err(WriteError::Stopped.into()),
                };
                // A request that went away no longer waits: nothing to tell it.
                let _ = answer.send(result);
            })
        });
        let stopped = || E::from(WriteError::Stopped);
        self.jobs.send(Job::Write(job)).map_err(|_| stopped())?;
        // A dropped sender means the batch never committed (the thread caught a panic).
        wait.await.map_err(|_| stopped())?
    }

    /// Appends `events` to the audit trail in the next batch and returns their ids once it has
    /// committed.
    pub async fn audit(&self, events: Vec<NewAuditEvent>) -> Result<Vec<AuditEventId>, WriteError> {
        let (answer, wait) = oneshot::channel();
        self.jobs
            .send(Job::Audit(events, answer))
            .map_err(|_| WriteError::Stopped)?;
        wait.await.map_err(|_| WriteError::Stopped)?
    }
}

/// Delivers an audit job's result once the batch's fate is known.
fn deliver_audit(answer: AuditAnswer, result: Result<Vec<AuditEventId>, StoreError>) -> Delivery {
    Box::new(move |committed| {
        let result = match (result, committed) {
            (Ok(ids), Ok(())) => Ok(ids),
            (Err(e), _) => Err(WriteError::Store(e)),
            (Ok(_), Err(failure)) => Err(WriteError::CommitFailed(failure.clone())),
        };
        let _ = answer.send(result);
    })
}

/// Runs consecutive audit jobs: all their events chained and inserted at once, in a savepoint;
/// if that fails, each job alone in its own, so that only the jobs at fault fail.
fn audit_run(
    conn: &mut DbConnection,
    run: Vec<(Vec<NewAuditEvent>, AuditAnswer)>,
) -> Vec<Delivery> {
    let sizes: Vec<usize> = run.iter().map(|(events, _)| events.len()).collect();
    let (events, answers): (Vec<_>, Vec<_>) = run.into_iter().unzip();
    let all: Vec<NewAuditEvent> = events.into_iter().flatten().collect();
    let together = if answers.len() > 1 {
        savepoint(conn, |conn| audit::append_all(conn, &all)).ok()
    } else {
        None
    };
    let mut deliveries = Vec::with_capacity(answers.len());
    let mut start = 0;
    for (answer, size) in answers.into_iter().zip(sizes) {
        let range = start..start + size;
        start += size;
        let result = match &together {
            Some(ids) => Ok(ids[range].to_vec()),
            None => savepoint(conn, |conn| audit::append_all(conn, &all[range])),
        };
        deliveries.push(deliver_audit(answer, result));
    }
    deliveries
}

/// The next batch: a job (waiting for one), then what else is queued, up to `MAX_BATCH`.
/// `None` once every handle is dropped.
fn next_batch(queue: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    // A thread that panicked never holds the lock (batches commit after it is released).
    let queue = queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut batch = vec![queue.recv().ok()?];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run(db: &Database, queue: &Mutex<mpsc::Receiver<Job>>, health: &WriteHealth) {
    while let Some(batch) = next_batch(queue) {
        // A panicking write loses its batch (its senders are dropped, so every request of the
        // batch gets a 500) and the connection (r2d2 discards a connection dropped while
        // panicking, which rolls back), but not the thread.
        let _ = catch_unwind(AssertUnwindSafe(|| commit(db, batch, health)));
    }
}

fn commit(db: &Database, batch: Vec<Job>, health: &WriteHealth) {
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut waiting = Some(batch);
    let committed = db.write(|conn| {
        let mut jobs = waiting.take().unwrap_or_default().into_iter().peekable();
        while let Some(job) = jobs.next() {
            match job {
                Job::Write(write) => deliveries.push(write(Some(&mut *conn))),
                Job::Audit(events, answer) => {
                    let mut run = vec![(events, answer)];
                    while let Some(Job::Audit(..)) = jobs.peek() {
                        if let Some(Job::Audit(events, answer)) = jobs.next() {
                            run.push((events, answer));
                        }
                    }
                    deliveries.extend(audit_run(conn, run));
                }
            }
        }
        Ok::<_, StoreError>(())
    });
    // The transaction could not start (no connection, a lost file): the jobs never ran.
    for job in waiting.unwrap_or_default() {
        deliveries.push(match job {
            Job::Write(write) => write(None),
            Job::Audit(_, answer) => Box::new(move |committed: Result<(), &CommitFailure>| {
                let _ = answer.send(Err(match committed {
                    Ok(()) => WriteError::Stopped,
                    Err(failure) => WriteError::CommitFailed(failure.clone()),
                }));
            }),
        });
    }
    let committed = committed.map_err(|e| CommitFailure {
        unavailable: matches!(e, StoreError::Unavailable(_) | StoreError::Pool(_)),
        why: crate::causes::chain(&e),
    });
    match &committed {
        Ok(()) => health.committed(),
        Err(failure) if failure.unavailable => health.failed(&failure.why),
        Err(_) => {}
    }
    for deliver in deliveries {
        deliver(committed.as_ref().map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use relais_persistence::schema::posts;
    use relais_persistence::testing::TestDatabase;
    use relais_persistence::{Database, StoreError};

    use super::{GroupCommit, MAX_BATCH};
    use crate::writes::WriteError;

    fn count(db: &Database) -> i64 {
        db.read(|conn| {
            posts::table
                .count()
                .get_result::<i64>(conn)
                .map_err(StoreError::from)
        })
        .unwrap()
    }

    /// A write that creates a table row, or fails after writing when `fail` (to be rolled back).
    fn insert_then(
        fail: bool,
        i: usize,
    ) -> impl FnOnce(&mut relais_persistence::DbConnection) -> Result<usize, WriteError> {
        move |conn| {
            conn.batch_execute(&format!(
                "INSERT INTO posts (id, name, kind, department_code, employer, convention, created_at, updated_at, version) \
                 VALUES ('{}', 'P{i}', 'mixed', '07', 'E', 'tripartite', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
                relais_domain::ids::PostId::generate()
            ))
            .map_err(StoreError::from)?;
            if fail {
                return Err(
                    StoreError::Conflict(format!("write {i} refused after writing")).into(),
                );
            }
            Ok(i)
        }
    }

    /// More writes than a batch, some failing after they wrote: every successful write is
    /// answered with its own result and is in the table; every failed one left nothing.
    #[test]
    fn each_write_commits_or_rolls_back_alone() {
        each_write_commits_or_rolls_back_alone_with(1);
    }

    /// The same with several threads sharing the queue (PostgreSQL's audit; on SQLite they
    /// take turns at the one writing connection).
    #[test]
    fn each_write_commits_or_rolls_back_alone_with_several_threads() {
        each_write_commits_or_rolls_back_alone_with(3);
    }

    fn each_write_commits_or_rolls_back_alone_with(threads: usize) {
        let database = TestDatabase::create();
        let db = Database::open(&database.url, 4).unwrap();
        let before = count(&db);
        let group = GroupCommit::spawn(db.clone(), "test-writer", threads).unwrap();
        let n = MAX_BATCH * 2 + 7;
        let results = actix_web::rt::System::new().block_on(futures_util::future::join_all(
            (0..n).map(|i| group.run(insert_then(i % 5 == 3, i))),
        ));
        let mut succeeded = 0;
        for (i, result) in results.into_iter().enumerate() {
            if i % 5 == 3 {
                assert!(
                    matches!(result, Err(WriteError::Store(StoreError::Conflict(_)))),
                    "{i}: {result:?}"
                );
            } else {
                assert_eq!(result.unwrap(), i);
                succeeded += 1;
            }
        }
        assert_eq!(count(&db) - before, succeeded);
    }

    /// A write that panics costs its batch a 500, not the thread: later writes still commit.
    #[test]
    fn a_panicking_write_does_not_stop_the_thread() {
        let database = TestDatabase::create();
        let db = Database::open(&database.url, 4).unwrap();
        let before = count(&db);
        let group = GroupCommit::spawn(db.clone(), "test-writer", 1).unwrap();
        let system = actix_web::rt::System::new();
        let panicked =
            system.block_on(group.run(|_| -> Result<(), WriteError> { panic!("a bug") }));
        assert!(matches!(panicked, Err(WriteError::Stopped)), "{panicked:?}");
        assert_eq!(
            system.block_on(group.run(insert_then(false, 1))).unwrap(),
            1
        );
        assert_eq!(count(&db) - before, 1);
    }
}
