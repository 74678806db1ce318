//! Secrets at rest, through the real binary: how long a token may live, the warning of the
//! zero set-up mode, and the modes of the SQLite files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relais_persistence::testing::TestDatabase;

use super::{BINARY, Server, assert_refused_at_start, create_post, relais, token, with_env};

#[test]
fn relais_token_refuses_a_lifetime_above_the_maximum() {
    let db = TestDatabase::create();
    let run = |env: &[(&str, &str)], ttl: &str| {
        relais(&db.url, env)
            .args(["token", "--role", "admin", "--ttl-minutes", ttl])
            .output()
            .unwrap()
    };
    // The token, valid for a century.
    let century = run(&[], "52560000");
    assert!(!century.status.success(), "a century-long token was issued");
    let message = String::from_utf8_lossy(&century.stderr);
    assert!(
        message.contains("--ttl-minutes 52560000")
            && message.contains("RELAIS_JWT_MAX_TTL_MINUTES"),
        "{message}"
    );
    assert!(century.stdout.is_empty(), "no token on stdout");
    assert!(run(&[], "720").status.success());
    assert!(!run(&[], "721").status.success());
    assert!(!run(&[], "0").status.success());
    let hour = [("RELAIS_JWT_MAX_TTL_MINUTES", "60")];
    assert!(!run(&hour, "61").status.success());
    assert!(run(&hour, "60").status.success());
    // Without --ttl-minutes, the token lives the maximum.
    let server = Server::start(&db.url, &hour);
    let admin = token(&db.url, &hour, &["--role", "admin"]);
    assert_eq!(server.call("GET", "/api/v1/posts", &admin, None).0, 200);
    drop(server);
    assert_refused_at_start(&[
        ("RELAIS_JWT_MAX_TTL_MINUTES", "0"),
        ("RELAIS_JWT_MAX_TTL_MINUTES", "43201"),
        ("RELAIS_JWT_MAX_TTL_MINUTES", "a day"),
    ]);
}

/// Starts `relais serve` on `url` with `env`, its log at `info` collected, and returns the lines
/// logged until it listens.
fn start_log(url: &str, env: &[(&str, &str)]) -> Vec<String> {
    let mut command = with_env(Command::new(BINARY), url, env);
    command.env("RUST_LOG", "info").stderr(Stdio::piped());
    let mut server = Server::launch(command);
    let stderr = server.child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&lines);
    // Read to the end, so that the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            collected.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = lines.lock().unwrap().clone();
        if lines.iter().any(|line| line.contains("listening on")) {
            return lines;
        }
        assert!(Instant::now() < deadline, "no start-up log: {lines:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serving_with_the_instance_secret_warns_what_to_configure_for_production() {
    let db = TestDatabase::create();
    let log = start_log(&db.url, &[]);
    let warning = log
        .iter()
        .find(|line| line.contains("tokens:"))
        .unwrap_or_else(|| panic!("no word on tokens: {log:#?}"));
    assert!(warning.contains("WARN"), "{warning}");
    for setting in [
        "RELAIS_JWT_JWKS_URL",
        "RELAIS_JWT_PUBLIC_KEY",
        "RELAIS_JWT_SECRET",
    ] {
        assert!(warning.contains(setting), "{setting}: {warning}");
    }

    let configured = [(
        "RELAIS_JWT_SECRET",
        "a-configured-secret-of-more-than-32-bytes",
    )];
    let log = start_log(&TestDatabase::create().url, &configured);
    let line = log.iter().find(|line| line.contains("tokens:")).unwrap();
    assert!(!line.contains("WARN"), "{line}");
}

#[cfg(unix)]
#[test]
fn sqlite_files_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;

    // Always SQLite: PostgreSQL keeps its own files.
    let db = TestDatabase::sqlite();
    // `relais serve` under umask 000, which would leave SQLite's files open to everyone (0644
    // by SQLite's default, 0666 here).
    let serve_under_umask = || {
        let mut command = Command::new("sh");
        command.args(["-c", "umask 000 && exec \"$0\" \"$@\"", BINARY]);
        Server::launch(with_env(command, &db.url, &[]))
    };
    let modes = || {
        ["", "-wal", "-shm"].map(|suffix| {
            let path = format!("{}{suffix}", db.url);
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .permissions()
                .mode();
            (path, format!("{:o}", mode & 0o777))
        })
    };
    let server = serve_under_umask();
    let admin = token(&db.url, &[], &["--role", "admin"]);
    create_post(&server, &admin);
    for (path, mode) in modes() {
        assert_eq!(mode, "600", "{path}");
    }
    // Killed, it leaves its -wal and -shm behind. Loosened by hand, they are tightened at start.
    drop(server);
    for (path, _) in modes() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let server = serve_under_umask();
    for (path, mode) in modes() {
        assert_eq!(mode, "600", "{path}");
    }
    assert_eq!(server.call("GET", "/api/v1/posts", &admin, None).0, 200);
}
