//! Test isolation: each test gets a database of its own, dropped when the test ends.
//!
//! `RELAIS_TEST_DATABASE_URL` names a PostgreSQL server (any database on it) to test against;
//! without it, each test uses a SQLite file in a temporary directory.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// The variable that selects PostgreSQL for the test suites.
pub const TEST_DATABASE_VAR: &str = "RELAIS_TEST_DATABASE_URL";

/// A database that exists for as long as this value.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile_dir::TempDir),
    Postgres { admin_url: String, name: String },
}

/// A tiny owned temporary directory, removed on drop.
mod tempfile_dir {
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDatabase {
    /// A new, empty database on the backend the environment selects.
    pub fn create() -> Self {
        crate::keys::install_unless_installed(crate::keys::test_keys);
        match postgres_admin_url() {
            Some(admin_url) => Self::postgres(admin_url),
            None => Self::sqlite(),
        }
    }

    /// A new, empty PostgreSQL database on the server of `admin_url`.
    pub fn postgres(admin_url: String) -> Self {
        crate::keys::install_unless_installed(crate::keys::test_keys);
        let name = format!("relais_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_VAR}: cannot connect: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        TestDatabase {
            url: with_database(&admin_url, &name),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// A new, empty SQLite database in a temporary directory.
    pub fn sqlite() -> Self {
        crate::keys::install_unless_installed(crate::keys::test_keys);
        let dir =
            std::env::temp_dir().join(format!("relais-test-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TestDatabase {
            url: dir.join("relais.db").display().to_string(),
            cleanup: Cleanup::Sqlite(tempfile_dir::TempDir(dir)),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The PostgreSQL server the tests should also run on, if the environment names one.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(TEST_DATABASE_VAR)
        .ok()
        .filter(|v| !v.is_empty())
}

/// The URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
