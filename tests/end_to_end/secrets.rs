//! Secrets at rest, through the real binary: how long a token may live, the warning of the
//! zero set-up mode, and the modes of the SQLite files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relais_persistence::testing::TestDatabase;
use serde_json::json;

use super::{
    BINARY, Server, assert_refused_at_start, create_post, example_situation, relais, token,
    with_env,
};

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

/// What a round trip writes that a copy of the database must not show: each text is unique, so
/// that finding it anywhere in the bytes is a leak.
struct Written {
    texts: Vec<String>,
    post: String,
    situation: String,
    hand_off: String,
    sw: String,
}

/// A round trip through the API: a person, an evaluation, a hand-off with its message, comment
/// and outcome, a referral with its reason, a webhook (whose secret is shown once).
fn round_trip(server: &Server, url: &str, env: &[(&str, &str)]) -> Written {
    let admin = token(url, env, &["--role", "admin"]);
    let post = create_post(server, &admin);
    let sw = token(url, env, &["--role", "social_worker", "--post", &post]);
    let mut texts: Vec<String> = [
        "Zéphyrine",
        "Quintaine",
        "06 98 76 54 32",
        "Emprise ancienne, enfants exposés aux violences",
        "Besoin urgent d'un hébergement pour la mère et deux enfants",
        "Rendez-vous fixé avec la conseillère le 12",
        "Mise à l'abri effectuée et droits ouverts",
        "Dispute violente signalée par les voisins",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut situation = example_situation(&post);
    situation["beneficiary"]["first_name"] = json!(texts[0]);
    situation["beneficiary"]["last_name"] = json!(texts[1]);
    situation["beneficiary"]["phone"] = json!(texts[2]);
    let (status, body) = server.call("POST", "/api/v1/situations", &sw, Some(situation));
    assert_eq!(status, 201, "{body}");
    let situation = body["id"].as_str().unwrap().to_owned();
    let (status, body) = server.call(
        "PUT",
        &format!("/api/v1/situations/{situation}/evaluation"),
        &sw,
        Some(json!({"text": texts[3]})),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.call(
        "POST",
        "/api/v1/partners",
        &admin,
        Some(json!({"name": "CCAS de Privas", "kind": "ccas", "department_codes": ["07"], "themes": ["precarity"]})),
    );
    assert_eq!(status, 201, "{body}");
    let partner = body["id"].as_str().unwrap().to_owned();
    let partner_token = token(url, env, &["--role", "partner", "--partner", &partner]);
    let (status, body) = server.call(
        "POST",
        &format!("/api/v1/situations/{situation}/hand-offs"),
        &sw,
        Some(json!({"partner_id": partner, "reasons": ["housing"], "message": texts[4]})),
    );
    assert_eq!(status, 201, "{body}");
    let hand_off = body["id"].as_str().unwrap().to_owned();
    let moves = [
        (
            &sw,
            "consent",
            "PUT",
            json!({"given": true, "form": "oral", "shared_data": ["identity", "message"]}),
        ),
        (&sw, "send", "POST", json!({})),
        (&partner_token, "acknowledge", "POST", json!({})),
        (
            &partner_token,
            "accept",
            "POST",
            json!({"comment": texts[5]}),
        ),
        (
            &partner_token,
            "complete",
            "POST",
            json!({"result": "supported", "outcome": texts[6]}),
        ),
    ];
    for (who, step, method, body) in moves {
        let path = format!("/api/v1/hand-offs/{hand_off}/{step}");
        let (status, answer) = server.call(method, &path, who, Some(body));
        assert_eq!(status, 200, "{step}: {answer}");
    }
    let (status, body) = server.call(
        "POST",
        "/api/v1/units",
        &admin,
        Some(json!({"name": "Commissariat de Privas", "kind": "commissariat", "department_code": "07", "post_ids": [post]})),
    );
    assert_eq!(status, 201, "{body}");
    let officer = token(
        url,
        env,
        &["--role", "officer", "--unit", body["id"].as_str().unwrap()],
    );
    let (status, body) = server.call(
        "POST",
        "/api/v1/referrals",
        &officer,
        Some(
            json!({"post_id": post, "person": {"first_name": "Alex", "last_name": "Durand"},
                    "reason": texts[7], "agreed_to_be_contacted": true}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.call(
        "POST",
        "/api/v1/webhooks",
        &partner_token,
        Some(json!({"url": "https://si.ccas-privas.fr/relais/webhook"})),
    );
    assert_eq!(status, 201, "{body}");
    texts.push(body["secret"].as_str().unwrap().to_owned());
    Written {
        texts,
        post,
        situation,
        hand_off,
        sw,
    }
}

/// Every byte of the database: its files on SQLite (the key file aside), a `pg_dump` on
/// PostgreSQL.
fn database_bytes(url: &str) -> Vec<u8> {
    if url.starts_with("postgres") {
        let dump = Command::new("pg_dump").arg(url).output().unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        return dump.stdout;
    }
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(file) = std::fs::read(format!("{url}{suffix}")) {
            bytes.extend(file);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The keys the server used: its configured ones, or its zero-set-up key file.
fn keys_of(url: &str, env: &[(&str, &str)]) -> relais_persistence::keys::Keys {
    let mut settings = relais_api::keys::KeySettings {
        data: None,
        audit: None,
        default_file: format!("{url}.keys").into(),
    };
    let configured = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    if url.starts_with("postgres") {
        settings.data =
            Some(configured("RELAIS_DATA_KEYS").unwrap_or(super::POSTGRES_DATA_KEYS.into()));
        settings.audit =
            Some(configured("RELAIS_AUDIT_KEY").unwrap_or(super::POSTGRES_AUDIT_KEY.into()));
    } else {
        settings.data = configured("RELAIS_DATA_KEYS");
        settings.audit = configured("RELAIS_AUDIT_KEY");
    }
    relais_api::keys::load(&settings).unwrap().0
}

/// The round trip's evaluation, hand-off (message, comment, outcome) and person read back whole.
fn assert_reads_back(server: &Server, written: &Written, sw: &str) {
    let get = |path: String| {
        let (status, body) = server.call("GET", &path, sw, None);
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let evaluation = get(format!(
        "/api/v1/situations/{}/evaluation",
        written.situation
    ));
    assert_eq!(evaluation["text"], json!(written.texts[3]));
    let hand_off = get(format!("/api/v1/hand-offs/{}", written.hand_off));
    assert_eq!(hand_off["message"], json!(written.texts[4]));
    assert_eq!(hand_off["outcome"], json!(written.texts[6]));
    let history = hand_off["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|t| t["comment"] == json!(written.texts[5]))
    );
    let situation = get(format!("/api/v1/situations/{}", written.situation));
    assert!(
        situation.to_string().contains(&written.texts[1]),
        "{situation}"
    );
}

#[test]
fn a_copy_of_the_database_holds_no_evaluation_no_free_text_and_no_secret() {
    let db = TestDatabase::create();
    let server = Server::start(&db.url, &[]);
    let written = round_trip(&server, &db.url, &[]);
    // Every record reads back, through the API.
    assert_reads_back(&server, &written, &written.sw);
    drop(server);
    // The audit trail of that round trip verifies, through the binary, with the audit key alone.
    let verified = relais(&db.url, &[])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // The signing secret, read with the keys the way the server reads it.
    let keys = keys_of(&db.url, &[]);
    relais_persistence::keys::install(keys.clone());
    let store = relais_persistence::Database::connect(&db.url, 1).unwrap();
    let signing_secret = store
        .write(|conn| {
            relais_persistence::secrets::get_or_create(conn, "jwt_hs256_secret", || {
                unreachable!("the server created it")
            })
        })
        .unwrap();
    drop(store);

    let bytes = database_bytes(&db.url);
    assert!(bytes.len() > 10_000, "the database was read");
    assert!(
        contains(&bytes, &written.post),
        "ids stay in clear: the search works"
    );
    let mut secrets = written.texts.clone();
    secrets.push(signing_secret);
    for key in std::iter::once(&keys.active)
        .chain(&keys.retired)
        .chain([&keys.audit])
    {
        secrets.push(
            relais_api::keys::entry(key)
                .split_once(':')
                .unwrap()
                .1
                .to_owned(),
        );
    }
    for secret in &secrets {
        assert!(
            !contains(&bytes, secret),
            "{secret:?} is in the database's bytes"
        );
    }
    #[cfg(unix)]
    if !db.url.starts_with("postgres") {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(format!("{}.keys", db.url))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }
}

/// The keys the rotation tests start with (the data key `old-data` is the one rotated away).
const OLD_KEYS: [(&str, &str); 2] = [
    (
        "RELAIS_DATA_KEYS",
        "old-data:BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=",
    ),
    (
        "RELAIS_AUDIT_KEY",
        "audit:BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=",
    ),
];

#[test]
fn a_rotation_moves_every_value_to_the_new_key_and_the_old_one_can_go() {
    let db = TestDatabase::create();
    let old = OLD_KEYS;
    let server = Server::start(&db.url, &old);
    let written = round_trip(&server, &db.url, &old);
    drop(server);

    let new_key = relais(&db.url, &[])
        .args(["keys", "generate"])
        .output()
        .unwrap();
    assert!(new_key.status.success());
    let new_key = String::from_utf8(new_key.stdout).unwrap().trim().to_owned();
    let both = format!("{new_key},{}", old[0].1);
    let rotating = [("RELAIS_DATA_KEYS", both.as_str()), old[1]];
    let rotated = relais(&db.url, &rotating)
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(said.contains("old-data may now be removed"), "{said}");
    // Nothing is left under the old key: a second rotation has nothing to move.
    let again = relais(&db.url, &rotating)
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("rotation: 0 value(s)"));

    // Served with the new key alone, every record reads back.
    let only_new = [("RELAIS_DATA_KEYS", new_key.as_str()), old[1]];
    let server = Server::start(&db.url, &only_new);
    let sw = token(
        &db.url,
        &only_new,
        &["--role", "social_worker", "--post", &written.post],
    );
    assert_reads_back(&server, &written, &sw);
    drop(server);

    // Started with the old key alone, the server says which key the data needs.
    let output = relais(&db.url, &old)
        .args(["token", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("not among this process's keys"),
        "{message}"
    );
}

#[test]
fn reads_go_on_while_a_rotation_runs() {
    let db = TestDatabase::create();
    let old = OLD_KEYS;
    let server = Server::start(&db.url, &old);
    let written = round_trip(&server, &db.url, &old);
    // Enough values that the rotation takes several batches.
    for _ in 0..60 {
        let mut situation = example_situation(&written.post);
        situation["beneficiary"]["phone"] = json!("06 11 22 33 44");
        let (status, body) =
            server.call("POST", "/api/v1/situations", &written.sw, Some(situation));
        assert_eq!(status, 201, "{body}");
    }
    drop(server);

    // A replica that knows the new key but still seals with the old one (the first step of a
    // rotation) serves while `relais keys rotate`, with the new key first, moves every value.
    let new_key = "new-data:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    let learning = format!("{},{new_key}", old[0].1);
    let both = format!("{new_key},{}", old[0].1);
    let server = Server::start(&db.url, &[("RELAIS_DATA_KEYS", learning.as_str()), old[1]]);
    let rotation = std::thread::spawn({
        let url = db.url.clone();
        let both = both.clone();
        move || {
            relais(&url, &[("RELAIS_DATA_KEYS", &both), old[1]])
                .args(["keys", "rotate"])
                .output()
                .unwrap()
        }
    });
    let mut reads = 0;
    while !rotation.is_finished() || reads < 20 {
        assert_reads_back(&server, &written, &written.sw);
        reads += 1;
    }
    let rotated = rotation.join().unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(
        !said.starts_with("rotation: 0 value"),
        "the rotation moved values: {said}"
    );
    assert_reads_back(&server, &written, &written.sw);
}
