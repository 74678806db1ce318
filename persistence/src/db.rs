//! Connections, pools and migrations for both backends.
//!
//! SQLite writes go through a pool of one connection: SQLite admits one writer at a time,
//! and a single writer can never meet "database is locked", whatever the concurrency.
//! Readers have their own pool and, in WAL mode, never wait for the writer.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StoreError;
use crate::audit_copy::AuditSink;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Serialises migrations between replicas that start together on one PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x7265_6c61_6973;

/// diesel's error, for callers that compose queries inside `Database::write`.
pub use diesel::result::Error as DieselError;

/// The one connection type of Relais.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    /// Which database this connection is to.
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs `f` in a transaction of its own on `conn`: a savepoint when `conn` is already in one,
/// so that an error rolls back `f`'s changes only (see the API's group commit).
pub fn savepoint<T, E: From<DieselError>>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    let copied = crate::audit_copy::mark();
    let result = conn.transaction(f);
    if result.is_err() {
        crate::audit_copy::rewind(copied);
    }
    result
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://…` and `postgresql://…` are PostgreSQL; anything else is a SQLite file
    /// (with or without a `sqlite://` prefix). Decided from the scheme, never by trying.
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The path SQLite opens for a URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// SQLite's `synchronous` setting in WAL mode: what survives a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// A commit is synced to disk before it is acknowledged: it survives a power loss.
    Full,
    /// The WAL is synced at checkpoints only: a commit survives a crash of Relais, but the last
    /// ones before a power loss or an operating-system crash can be lost (the file stays sound).
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// How long the database may keep a caller waiting, and how durable a commit is. The defaults
/// are those of `relais serve`: a load balancer expects seconds, not tens of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSettings {
    /// The longest wait for a pooled connection.
    pub checkout_timeout: Duration,
    /// PostgreSQL: the longest statement (`statement_timeout`; zero for none).
    pub statement_timeout: Duration,
    /// PostgreSQL: the longest wait for a lock (`lock_timeout`; zero for none).
    pub lock_timeout: Duration,
    /// PostgreSQL: the longest wait to open a connection (libpq `connect_timeout`, at least 2 s),
    /// with TCP keepalives so that a dead peer is noticed.
    pub connect_timeout: Duration,
    pub sqlite_synchronous: Synchronous,
}

impl Default for DbSettings {
    fn default() -> Self {
        Self {
            checkout_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(4),
            lock_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(3),
            sqlite_synchronous: Synchronous::Full,
        }
    }
}

impl DbSettings {
    /// The libpq URL with the connect timeout and keepalives, unless the URL sets them.
    fn postgres_url(&self, url: &str) -> String {
        let mut url = url.to_owned();
        let seconds = self.connect_timeout.as_secs().max(2);
        for (name, value) in [
            ("connect_timeout", seconds.to_string()),
            ("keepalives", "1".to_owned()),
            ("keepalives_idle", "10".to_owned()),
            ("keepalives_interval", "5".to_owned()),
            ("keepalives_count", "3".to_owned()),
        ] {
            if !url.contains(&format!("{name}=")) {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&format!("{name}={value}"));
            }
        }
        url
    }
}

/// Opens connections of the backend the URL names, set up for Relais.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
    settings: DbSettings,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.settings.postgres_url(&self.url))
                    .map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}; SET lock_timeout = {};",
                    self.settings.statement_timeout.as_millis(),
                    self.settings.lock_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: the pragmas after it may themselves wait for a lock.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = {};
                     PRAGMA foreign_keys = ON;",
                    self.settings.checkout_timeout.as_millis(),
                    self.settings.sqlite_synchronous.pragma()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        std::thread::panicking()
    }
}

/// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`: the write lock is taken at
/// `BEGIN`, waiting up to `busy_timeout` for another process's writer (`relais keys rotate`,
/// `purge`, `follow-up` beside a serving process). A deferred transaction that reads before it
/// writes would instead fail at once with "database is locked" when another process committed
/// since its read began (SQLite cannot upgrade a stale snapshot), however long `busy_timeout`.
/// Nested transactions inside `f` are savepoints, as with `Connection::transaction`.
fn write_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError> + From<DieselError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    // The same connection as at `BEGIN`: a transaction does not change its backend.
    if let DbConnection::Sqlite(sqlite) = conn {
        match &result {
            Ok(_) => AnsiTransactionManager::commit_transaction(sqlite)?,
            Err(_) => AnsiTransactionManager::rollback_transaction(sqlite)?,
        }
    }
    result
}

/// Runs `f` in a read transaction whose statements may run for `timeout` on PostgreSQL (`SET
/// LOCAL statement_timeout`), for the aggregates that take longer than a request's statements
/// (a national statistics grid over years of data). SQLite has no statement timeout.
pub fn with_statement_timeout<T>(
    conn: &mut DbConnection,
    timeout: Duration,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.transaction(|conn| {
        if let DbConnection::Postgres(pg) = conn {
            pg.batch_execute(&format!(
                "SET LOCAL statement_timeout = {}",
                timeout.as_millis()
            ))?;
        }
        f(conn)
    })
}

/// The table where diesel records the applied migrations (the columns read here).
mod applied_migrations {
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> Text,
        }
    }
    pub use self::__diesel_schema_migrations::*;
}

/// One pool's connections, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// `shared` on PostgreSQL; `readers` or `writer` on SQLite.
    pub pool: &'static str,
    /// Connections open, busy or idle.
    pub open: u32,
    pub idle: u32,
}

/// The file a SQLite database was opened from: its path, and the device and inode it had.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenedFile {
    path: std::path::PathBuf,
    device: u64,
    inode: u64,
}

impl OpenedFile {
    fn of(path: &str) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            path: path.into(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// `Unavailable` unless the path still names the file that was opened: a file deleted or
    /// replaced under the server would take writes that the next start never sees.
    fn check(&self) -> Result<(), StoreError> {
        match Self::of(&self.path.to_string_lossy()) {
            Some(now) if now == *self => Ok(()),
            Some(_) => Err(StoreError::Unavailable(format!(
                "the database file {} was replaced since it was opened: writes are refused until Relais restarts",
                self.path.display()
            ))),
            None => Err(StoreError::Unavailable(format!(
                "the database file {} was deleted since it was opened: writes are refused until Relais restarts",
                self.path.display()
            ))),
        }
    }
}

/// The SQLite files readable and writable by their owner only (0600), whatever the umask: they
/// hold every record in clear, and the instance secret when no key is configured.
///
/// The database file is created here with 0600 before SQLite opens it. SQLite creates the
/// `-wal` and `-shm` files (and a `-journal`) with the mode of the database file, whatever the
/// umask (its unix VFS reads the database's mode and sets it on each new file), so they follow.
/// Files left looser by an older version or by hand are tightened at start, with a warning.
mod owner_only {
    use crate::StoreError;

    /// The suffixes SQLite adds to the database's path for the files it keeps beside it.
    const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

    /// Creates the database file at `path` with mode 0600 if it does not exist, and takes the
    /// group's and others' bits away from it and its companions if they exist. SQLite's
    /// in-memory database and `file:` URIs (whose options may name another file, or none) are
    /// left alone: only files Relais can name are prepared.
    pub fn prepare(path: &str) -> Result<(), StoreError> {
        if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
            return Ok(());
        }
        restrict(path)
    }

    #[cfg(unix)]
    fn restrict(path: &str) -> Result<(), StoreError> {
        use std::fs::{OpenOptions, Permissions};
        use std::io::ErrorKind;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

        let failed = |what: &str, file: &str, e: std::io::Error| {
            StoreError::Unavailable(format!("cannot {what} {file}: {e}"))
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            // `mode` is filtered by the umask, which may take the owner's bits away too.
            Ok(file) => file
                .set_permissions(Permissions::from_mode(0o600))
                .map_err(|e| failed("set the mode of", path, e))?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed("create the database file", path, e)),
        }
        let files = std::iter::once(path.to_owned())
            .chain(COMPANIONS.iter().map(|suffix| format!("{path}{suffix}")));
        for file in files {
            let mode = match std::fs::metadata(&file) {
                Ok(metadata) => metadata.permissions().mode() & 0o7777,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(failed("read the mode of", &file, e)),
            };
            if mode & 0o077 != 0 {
                let tightened = mode & 0o700;
                std::fs::set_permissions(&file, Permissions::from_mode(tightened))
                    .map_err(|e| failed("set the mode of", &file, e))?;
                log::warn!(
                    "{file} was open to other users (mode {mode:04o}): now {tightened:04o}, owner only"
                );
            }
        }
        Ok(())
    }

    /// File modes are a unix notion; elsewhere the directory's access rules apply.
    #[cfg(not(unix))]
    fn restrict(_path: &str) -> Result<(), StoreError> {
        let _ = COMPANIONS;
        Ok(())
    }

    #[cfg(test)]
    #[cfg(unix)]
    mod tests {
        use std::os::unix::fs::PermissionsExt;

        fn mode(path: &std::path::Path) -> u32 {
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        }

        #[test]
        fn a_new_file_is_0600_and_a_loose_one_is_tightened() {
            let dir = std::env::temp_dir()
                .join(format!("relais-modes-{}", uuid::Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            let db = dir.join("relais.db");
            super::prepare(db.to_str().unwrap()).unwrap();
            assert_eq!(mode(&db), 0o600);
            let wal = dir.join("relais.db-wal");
            std::fs::write(&wal, b"").unwrap();
            for file in [&db, &wal] {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
            super::prepare(db.to_str().unwrap()).unwrap();
            assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// Pools for reading and writing, and the backend they speak to.
#[derive(Clone)]
pub struct Database {
    readers: Pool<ConnectionManager>,
    writer: Pool<ConnectionManager>,
    backend: Backend,
    /// SQLite: the file opened, checked before every write transaction.
    file: Option<OpenedFile>,
    /// PostgreSQL: the sessions' statement timeout, lifted while migrations run.
    statement_timeout: Duration,
    /// Where the audit events committed by `write` are copied (`RELAIS_AUDIT_COPY`).
    audit_copy: Option<Arc<dyn AuditSink>>,
}

impl Database {
    /// Connects to `url` with up to `pool_size` reading connections and the default settings.
    /// Migrations are not run.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, pool_size, &DbSettings::default())
    }

    /// Connects to `url` with `settings`. Migrations are not run.
    pub fn connect_with(
        url: &str,
        pool_size: u32,
        settings: &DbSettings,
    ) -> Result<Self, StoreError> {
        let backend = Backend::of_url(url);
        if backend == Backend::Sqlite {
            // Before any connection: SQLite would create the file with 0644 less the umask.
            owner_only::prepare(sqlite_path(url))?;
        }
        let manager = ConnectionManager {
            url: url.to_owned(),
            backend,
            settings: settings.clone(),
        };
        // No idle minimum: r2d2 would refill it from a background thread, and a command that
        // exits while that thread is opening a PostgreSQL connection (an OpenSSL handshake)
        // crashes in OpenSSL's exit-time cleanup. Connections open when asked for, and stay.
        let checkout = settings.checkout_timeout.max(Duration::from_millis(100));
        let builder = || {
            Pool::builder()
                .min_idle(Some(0))
                .connection_timeout(checkout)
        };
        let readers = builder()
            .max_size(pool_size.max(1))
            .build(manager.clone())?;
        let writer = match backend {
            Backend::Sqlite => builder().max_size(1).build(manager)?,
            Backend::Postgres => readers.clone(),
        };
        let file = match backend {
            Backend::Sqlite => {
                // The first connection creates the file: its identity is known from then on.
                drop(writer.get()?);
                OpenedFile::of(sqlite_path(url))
            }
            Backend::Postgres => None,
        };
        Ok(Self {
            readers,
            writer,
            backend,
            file,
            statement_timeout: settings.statement_timeout,
            audit_copy: None,
        })
    }

    /// The same database, handing every audit event committed through [`Database::write`] to
    /// `sink` after its commit (see `audit_copy`).
    pub fn with_audit_copy(self, sink: Arc<dyn AuditSink>) -> Self {
        Self {
            audit_copy: Some(sink),
            ..self
        }
    }

    /// `Unavailable` if the SQLite file was deleted or replaced since it was opened.
    pub fn check_file(&self) -> Result<(), StoreError> {
        self.file.as_ref().map_or(Ok(()), OpenedFile::check)
    }

    /// Connects and applies the pending migrations: what `relais serve` does at start-up.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let db = Self::connect(url, pool_size)?;
        db.migrate()?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the pending migrations and names the ones applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer.get()?;
        let migration_error =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
            versions.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        match &mut *conn {
            DbConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(names)
                .map_err(migration_error),
            DbConnection::Postgres(c) => {
                // A migration may take longer than a request may: no statement timeout here.
                c.batch_execute("SET statement_timeout = 0")?;
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(names)
                    .map_err(migration_error);
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                c.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout.as_millis()
                ))?;
                result
            }
        }
    }

    /// Runs `f` on a reading connection.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.readers.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// Runs `f` in one transaction on the writing connection: all of it is written, or nothing.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<DieselError>,
    {
        self.check_file()?;
        let mut pooled = self.writer.get().map_err(StoreError::from)?;
        let conn: &mut DbConnection = &mut pooled;
        let Some(sink) = &self.audit_copy else {
            return write_transaction(conn, f);
        };
        let outer = crate::audit_copy::open();
        let result = write_transaction(conn, f);
        let copied = crate::audit_copy::close(outer);
        if result.is_ok() && !copied.is_empty() {
            sink.committed(&copied);
        }
        result
    }

    /// Runs `f` on the writing connection outside any transaction, for work that holds a
    /// session-level lock across transactions of its own (the retention purge on PostgreSQL).
    /// On SQLite this holds the only writer for as long as `f` runs.
    pub(crate) fn session<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.writer.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// The embedded migrations not yet recorded as applied in the database, by version.
    /// Reads only: unlike diesel's harness, it never creates the migrations table.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        use diesel::migration::MigrationSource;
        let embedded: Vec<String> = match self.backend {
            Backend::Sqlite => {
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                    .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
            }
            Backend::Postgres => {
                MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                    .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
            }
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        let applied: std::collections::HashSet<String> = self
            .read(|conn| {
                applied_migrations::table
                    .select(applied_migrations::version)
                    .load::<String>(conn)
                    .map_err(StoreError::from)
            })?
            .into_iter()
            .collect();
        Ok(embedded
            .into_iter()
            .filter(|version| !applied.contains(version))
            .collect())
    }

    /// How many connections each pool holds and how many of them are idle.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        let usage = |name, pool: &Pool<ConnectionManager>| {
            let state = pool.state();
            PoolUsage {
                pool: name,
                open: state.connections,
                idle: state.idle_connections,
            }
        };
        match self.backend {
            // Writes go through the same pool.
            Backend::Postgres => vec![usage("shared", &self.readers)],
            Backend::Sqlite => vec![
                usage("readers", &self.readers),
                usage("writer", &self.writer),
            ],
        }
    }

    /// Whether a write can be committed now: on SQLite the file is still the one opened and a
    /// row of `readiness_probe` is rewritten and committed (a full disk or a read-only
    /// filesystem fail here); on PostgreSQL, a query answers (under the statement timeout).
    pub fn probe(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => self.write(|conn| {
                conn.batch_execute(
                    "INSERT INTO readiness_probe (id, checked_at) VALUES (1, CURRENT_TIMESTAMP) \
                     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                )
                .map_err(StoreError::from)
            }),
            Backend::Postgres => self.ping(),
        }
    }

    /// Whether the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
    }
}
