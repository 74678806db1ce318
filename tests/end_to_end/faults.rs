//! Faults an operator meets: a PostgreSQL that hangs or stops under a running Relais. Each runs
//! against a PostgreSQL cluster of the test's own (initdb on a free port in a temporary folder),
//! on the PostgreSQL pass of the suite, as root (initdb runs as the `postgres` user); elsewhere
//! it says why it is skipped.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Server, token};

/// A PostgreSQL cluster of the test's own, stopped and removed on drop.
struct Cluster {
    folder: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn as_postgres(bin: &std::path::Path, program: &str) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(bin.join(program));
    command
}

impl Cluster {
    /// A new cluster, or why there cannot be one here.
    fn start() -> Result<Self, String> {
        if std::env::var("RELAIS_TEST_DATABASE_URL").is_err() {
            return Err("the PostgreSQL faults run on the PostgreSQL pass".into());
        }
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no PostgreSQL installed: {e}"))?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("initdb").exists())
            .ok_or("no initdb under /usr/lib/postgresql")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let folder =
            std::env::temp_dir().join(format!("relais-faults-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
        let run = |mut command: Command, what: &str| -> Result<(), String> {
            let output = command.output().map_err(|e| format!("{what}: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{what}: {}",
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        };
        let mut chown = Command::new("chown");
        chown.args(["postgres:postgres"]).arg(&folder);
        run(chown, "chown (the faults need root)")?;
        let data = folder.join("data");
        let mut initdb = as_postgres(&bin, "initdb");
        initdb
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data);
        run(initdb, "initdb")?;
        let mut start = as_postgres(&bin, "pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .args(["-w", "-l"])
            .arg(folder.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                folder.display()
            ))
            .arg("start");
        run(start, "pg_ctl start")?;
        Ok(Self { folder, bin, port })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Every process of the cluster: the postmaster and its children.
    fn processes(&self) -> Vec<String> {
        let pid =
            std::fs::read_to_string(self.folder.join("data/postmaster.pid")).unwrap_or_default();
        let pid = pid.lines().next().unwrap_or_default().trim().to_owned();
        let children = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
        let mut all = vec![pid];
        all.extend(
            String::from_utf8_lossy(&children.stdout)
                .lines()
                .map(str::to_owned),
        );
        all
    }

    fn signal(&self, signal: &str) {
        for pid in self.processes() {
            let _ = Command::new("kill").args([signal, &pid]).status();
        }
    }

    fn stop(&self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.folder.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.stop();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Asks `path` and says how long the answer took.
fn timed(server: &Server, path: &str, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let (status, _) = server.call("GET", path, token, None);
    (status, started.elapsed())
}

#[test]
fn a_hung_or_stopped_postgresql_is_reported_within_a_second_and_requests_end_in_503() {
    let cluster = match Cluster::start() {
        Ok(cluster) => cluster,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let url = cluster.url();
    let server = Server::start(&url, &[("RELAIS_REQUEST_DEADLINE_MS", "2000")]);
    let admin = token(&url, &[], &["--role", "admin"]);
    assert_eq!(timed(&server, "/health/ready", "").0, 200);
    assert_eq!(timed(&server, "/api/v1/posts", &admin).0, 200);

    // Hung: the processes stop, their sockets stay open (the kernel still acknowledges).
    cluster.signal("-STOP");
    let (status, took) = timed(&server, "/health/ready", "");
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(1500),
        "readiness took {took:?}"
    );
    let (status, took) = timed(&server, "/api/v1/posts", &admin);
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(3000),
        "a request took {took:?}"
    );
    let (status, _) = timed(&server, "/health/live", "");
    assert_eq!(status, 200, "liveness reads no database");

    // Back: ready again.
    cluster.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while timed(&server, "/health/ready", "").0 != 200 {
        assert!(Instant::now() < deadline, "not ready again after SIGCONT");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Stopped: refused connections, reported as fast.
    cluster.stop();
    let (status, took) = timed(&server, "/health/ready", "");
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(1500),
        "readiness took {took:?}"
    );
    let (status, took) = timed(&server, "/api/v1/posts", &admin);
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(3000),
        "a request took {took:?}"
    );
}

/// A tmpfs mounted for one test, unmounted on drop.
struct SmallDisk {
    folder: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Result<Self, String> {
        let folder = std::env::temp_dir().join(format!("relais-full-{}", std::process::id()));
        std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&folder)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a tmpfs (root is needed): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self { folder })
    }

    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.folder)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.folder).status();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

#[test]
fn a_full_disk_refuses_writes_with_503_acknowledges_only_what_it_stored_and_is_not_ready() {
    if std::env::var("RELAIS_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: the full disk is SQLite's (the SQLite pass runs it)");
        return;
    }
    // Room for the freshly migrated database (its write-ahead log and shared memory came to
    // 1,042,613 bytes with migration 000020: a 1 MiB disk was full before the first request) and
    // for some posts.
    let disk = match SmallDisk::mount("2m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let url = disk.folder.join("relais.db").to_string_lossy().into_owned();
    let mut server = Server::start(&url, &[]);
    let admin = token(&url, &[], &["--role", "admin"]);
    let long = "x".repeat(190);
    let mut acknowledged = 0;
    let refusal = loop {
        let body = serde_json::json!({
            "name": format!("Poste {acknowledged} {long}"), "kind": "mixed", "department_code": "07",
            "employer": long, "convention": "tripartite",
        });
        let (status, answer) = server.call("POST", "/api/v1/posts", &admin, Some(body));
        if status != 201 {
            break (status, answer);
        }
        acknowledged += 1;
        assert!(acknowledged < 50_000, "the disk never filled");
    };
    assert_eq!(refusal.0, 503, "{}", refusal.1);
    assert!(acknowledged > 0);
    let (status, took) = timed(&server, "/health/ready", "");
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(1500),
        "readiness took {took:?}"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
    // With room again, the file holds every acknowledged post, and only those.
    disk.grow("16m");
    let stored = relais_persistence::Database::open(&url, 1)
        .unwrap()
        .read(|conn| {
            use diesel::prelude::*;
            relais_persistence::schema::posts::table
                .count()
                .get_result::<i64>(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    assert_eq!(stored, acknowledged, "acknowledged = stored");
}
