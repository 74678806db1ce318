//! Where the keys come from: `RELAIS_DATA_KEYS` and `RELAIS_AUDIT_KEY` (values or files), or, with
//! neither set, the zero-set-up key file beside the database, created on first start with mode
//! 0600. The keys never enter the database: a copy of it, or of a backup, opens nothing.
//!
//! A key is written `id:base64` (32 random bytes; `relais keys generate` prints one). A key file
//! holds one key per line, `data <id> <base64>` or `audit <id> <base64>`, `#` for comments; a
//! file named by `RELAIS_DATA_KEYS` may also hold bare `id:base64` lines. The first data key is
//! the active one: new values are sealed with it, the others are only read (a rotation).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use relais_persistence::keys::{Key, Keys};

/// The `RELAIS_DATA_KEYS` and `RELAIS_AUDIT_KEY` settings, and the zero-set-up file.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySettings {
    /// `RELAIS_DATA_KEYS`: comma-separated keys (`id:base64`) or key files; the first is active.
    pub data: Option<String>,
    /// `RELAIS_AUDIT_KEY`: a key (`id:base64`) or a key file.
    pub audit: Option<String>,
    /// The key file used when neither is set: beside the SQLite database (`<file>.keys`), or
    /// `relais.keys` in the working directory on PostgreSQL.
    pub default_file: PathBuf,
}

impl std::fmt::Debug for KeySettings {
    // The settings may hold the keys themselves: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("data", &self.data.as_ref().map(|_| "…"))
            .field("audit", &self.audit.as_ref().map(|_| "…"))
            .field("default_file", &self.default_file)
            .finish()
    }
}

impl KeySettings {
    /// The settings for `database_url`, read from the environment.
    pub fn from_env(database_url: &str) -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        KeySettings {
            data: var("RELAIS_DATA_KEYS"),
            audit: var("RELAIS_AUDIT_KEY"),
            default_file: default_file(database_url),
        }
    }
}

fn default_file(database_url: &str) -> PathBuf {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return PathBuf::from("relais.keys");
    }
    let path = database_url
        .strip_prefix("sqlite://")
        .unwrap_or(database_url);
    PathBuf::from(format!("{path}.keys"))
}

/// Where the keys of a process came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `RELAIS_DATA_KEYS` and `RELAIS_AUDIT_KEY`.
    Configured,
    /// The zero-set-up key file, and whether this start created it.
    File { path: PathBuf, created: bool },
}

/// Loads the keys and installs them for the storage; the origin says where they came from.
pub fn install(settings: &KeySettings) -> Result<KeyOrigin, String> {
    let (keys, origin) = load(settings)?;
    relais_persistence::keys::install(keys);
    Ok(origin)
}

/// Loads the keys `settings` name, creating the zero-set-up file if it is their source and is
/// missing.
pub fn load(settings: &KeySettings) -> Result<(Keys, KeyOrigin), String> {
    match (&settings.data, &settings.audit) {
        (Some(data), Some(audit)) => {
            let mut data_keys = Vec::new();
            for entry in data.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                data_keys.extend(entry_keys("RELAIS_DATA_KEYS", entry, Purpose::Data)?);
            }
            let audit_key = entry_keys("RELAIS_AUDIT_KEY", audit.trim(), Purpose::Audit)?
                .into_iter()
                .next()
                .ok_or("RELAIS_AUDIT_KEY: no audit key in it")?;
            Ok((
                keys_of(data_keys, audit_key, "RELAIS_DATA_KEYS")?,
                KeyOrigin::Configured,
            ))
        }
        (None, None) => {
            let path = &settings.default_file;
            let created = create_file_unless_present(path)?;
            let text = fs::read_to_string(path)
                .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
            let file = parse_file(path, &text)?;
            let audit = file
                .audit
                .into_iter()
                .next()
                .ok_or_else(|| format!("{}: no audit key in it", path.display()))?;
            let keys = keys_of(file.data, audit, &path.display().to_string())?;
            Ok((
                keys,
                KeyOrigin::File {
                    path: path.clone(),
                    created,
                },
            ))
        }
        (Some(_), None) => Err("RELAIS_DATA_KEYS is set but RELAIS_AUDIT_KEY is not: \
             configure both, or neither for the zero-set-up key file"
            .into()),
        (None, Some(_)) => Err("RELAIS_AUDIT_KEY is set but RELAIS_DATA_KEYS is not: \
             configure both, or neither for the zero-set-up key file"
            .into()),
    }
}

fn keys_of(mut data: Vec<Key>, audit: Key, source: &str) -> Result<Keys, String> {
    if data.is_empty() {
        return Err(format!("{source}: no data key in it"));
    }
    let active = data.remove(0);
    let mut ids: Vec<&str> = std::iter::once(active.id.as_str())
        .chain(data.iter().map(|k| k.id.as_str()))
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("{source}: two data keys share an id"));
    }
    Ok(Keys {
        active,
        retired: data,
        audit,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Data,
    Audit,
    Signing,
}

/// The keys of one entry of a setting: an inline `id:base64`, or a key file.
fn entry_keys(setting: &str, entry: &str, purpose: Purpose) -> Result<Vec<Key>, String> {
    if let Some((id, value)) = entry.split_once(':')
        && !Path::new(entry).exists()
    {
        return Ok(vec![key(id, value).map_err(|e| format!("{setting}: {e}"))?]);
    }
    let path = Path::new(entry);
    let text = fs::read_to_string(path).map_err(|e| {
        format!("{setting}: {entry} is neither a key (id:base64) nor a readable key file: {e}")
    })?;
    warn_if_readable_by_others(path);
    let file = parse_file(path, &text)?;
    Ok(match purpose {
        Purpose::Data => file.data,
        Purpose::Audit => file.audit,
        Purpose::Signing => file.signing,
    })
}

/// The keys of a key file, by purpose, in the file's order.
#[derive(Debug, Default)]
struct KeyFile {
    data: Vec<Key>,
    audit: Vec<Key>,
    /// The seed of the instance's Ed25519 key, which signs its exported statistics.
    signing: Vec<Key>,
}

fn parse_file(path: &Path, text: &str) -> Result<KeyFile, String> {
    let mut file = KeyFile::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{} line {}", path.display(), n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["data", id, value] => file
                .data
                .push(key(id, value).map_err(|e| format!("{}: {e}", at()))?),
            ["audit", id, value] => file
                .audit
                .push(key(id, value).map_err(|e| format!("{}: {e}", at()))?),
            ["signing", id, value] => file
                .signing
                .push(key(id, value).map_err(|e| format!("{}: {e}", at()))?),
            [bare] if bare.contains(':') => {
                let (id, value) = bare.split_once(':').unwrap_or_default();
                file.data
                    .push(key(id, value).map_err(|e| format!("{}: {e}", at()))?);
            }
            _ => {
                return Err(format!(
                    "{}: expected `data <id> <base64>`, `audit <id> <base64>`, `signing <id> <base64>` or `id:base64`",
                    at()
                ));
            }
        }
    }
    Ok(file)
}

fn key(id: &str, value: &str) -> Result<Key, String> {
    if !Key::is_valid_id(id) {
        return Err(format!(
            "the key id {id:?} is not 1 to 32 of a-z, 0-9, '-' and '_'"
        ));
    }
    let bytes = BASE64
        .decode(value.trim())
        .map_err(|_| format!("the key {id} is not base64"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| format!("the key {id} is not 32 bytes (relais keys generate makes one)"))?;
    Ok(Key {
        id: id.to_owned(),
        bytes,
    })
}

/// A new random key, with an id made of `prefix`, today's date and four random hex digits.
pub fn generate(prefix: &str, today: chrono::NaiveDate) -> Key {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let tag = rand::rng().next_u32() & 0xffff;
    Key {
        id: format!("{prefix}{}-{tag:04x}", today.format("%Y%m%d")),
        bytes,
    }
}

/// A key as `RELAIS_DATA_KEYS` and `RELAIS_AUDIT_KEY` take it.
pub fn entry(key: &Key) -> String {
    format!("{}:{}", key.id, BASE64.encode(key.bytes))
}

fn line(purpose: &str, key: &Key) -> String {
    format!("{purpose} {} {}\n", key.id, BASE64.encode(key.bytes))
}

const FILE_HEADER: &str = "# Relais keys (zero set-up). Without this file the sealed data of the \
database cannot be read:\n# back it up, but never with the database. For production set \
RELAIS_DATA_KEYS and RELAIS_AUDIT_KEY.\n# The first data key is active; older ones stay for \
reading until `relais keys rotate` has moved every value.\n";

/// Creates the zero-set-up key file with one data key and one audit key, mode 0600, unless it
/// exists. Two processes starting together agree on one file: it is written aside, then linked
/// into place, which fails if the other came first.
fn create_file_unless_present(path: &Path) -> Result<bool, String> {
    if path.exists() {
        warn_if_readable_by_others(path);
        return Ok(false);
    }
    let today = crate::clock::Clock::now(&crate::clock::SystemClock).date_naive();
    let text = format!(
        "{FILE_HEADER}{}{}",
        line("data", &generate("k", today)),
        line("audit", &generate("a", today))
    );
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    write_private(&aside, &text)?;
    let linked = fs::hard_link(&aside, path);
    let _ = fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(format!(
            "cannot create the key file {}: {e}",
            path.display()
        )),
    }
}

/// The seed of the instance's statistics signing key (Ed25519, 32 bytes): from
/// `RELAIS_STATISTICS_SIGNING_KEY` (`configured`: `id:base64` or a key file with a `signing`
/// line), or else from the zero-set-up key file, where a first use adds one. Deployments that
/// configure their data and audit keys configure this one too: no file is created for them.
pub fn signing_key(configured: Option<&str>, settings: &KeySettings) -> Result<Key, String> {
    const SETTING: &str = "RELAIS_STATISTICS_SIGNING_KEY";
    if let Some(entry) = configured.map(str::trim).filter(|e| !e.is_empty()) {
        return entry_keys(SETTING, entry, Purpose::Signing)?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{SETTING}: no signing key in it"));
    }
    if settings.data.is_some() || settings.audit.is_some() {
        return Err(format!(
            "{SETTING} is not set: with RELAIS_DATA_KEYS and RELAIS_AUDIT_KEY configured, \
             configure the statistics signing key too (`relais keys generate` makes one)"
        ));
    }
    let path = &settings.default_file;
    create_file_unless_present(path)?;
    let read = || {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
        parse_file(path, &text).map(|file| (text, file))
    };
    let (text, file) = read()?;
    if let Some(key) = file.signing.into_iter().next() {
        return Ok(key);
    }
    // A key file from before signing: add the key, keeping every line as it was.
    let today = crate::clock::Clock::now(&crate::clock::SystemClock).date_naive();
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    let separator = if text.ends_with('\n') { "" } else { "\n" };
    write_private(
        &aside,
        &format!(
            "{text}{separator}{}",
            line("signing", &generate("s", today))
        ),
    )?;
    fs::rename(&aside, path)
        .map_err(|e| format!("cannot replace the key file {}: {e}", path.display()))?;
    read()?
        .1
        .signing
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no signing key in it", path.display()))
}

/// Adds a new active data key at the top of the zero-set-up key file's keys; returns it.
pub fn add_data_key(path: &Path) -> Result<Key, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
    parse_file(path, &text)?;
    let key = generate(
        "k",
        crate::clock::Clock::now(&crate::clock::SystemClock).date_naive(),
    );
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    write_private(
        &aside,
        &format!("{FILE_HEADER}{}{body}", line("data", &key)),
    )?;
    fs::rename(&aside, path)
        .map_err(|e| format!("cannot replace the key file {}: {e}", path.display()))?;
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            log::warn!(
                "the key file {} is readable by other users (mode {:o}): chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("relais-keys-{}", uuid::Uuid::now_v7()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_zero_set_up_file_is_created_once_owner_only_and_read_back() {
        let dir = dir();
        let settings = KeySettings {
            data: None,
            audit: None,
            default_file: dir.join("relais.db.keys"),
        };
        let (first, origin) = load(&settings).unwrap();
        assert!(matches!(origin, KeyOrigin::File { created: true, .. }));
        let (again, origin) = load(&settings).unwrap();
        assert!(matches!(origin, KeyOrigin::File { created: false, .. }));
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&settings.default_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let added = add_data_key(&settings.default_file).unwrap();
        let (rotated, _) = load(&settings).unwrap();
        assert_eq!(rotated.active, added);
        assert_eq!(rotated.retired, vec![first.active]);
        assert_eq!(rotated.audit, first.audit);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_signing_key_is_configured_or_added_once_to_the_zero_set_up_file() {
        let dir = dir();
        let settings = KeySettings {
            data: None,
            audit: None,
            default_file: dir.join("relais.db.keys"),
        };
        let (before, _) = load(&settings).unwrap();
        let first = signing_key(None, &settings).unwrap();
        assert_eq!(signing_key(None, &settings).unwrap(), first);
        // The data and audit keys are kept as they were.
        assert_eq!(load(&settings).unwrap().0, before);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let configured = generate("s", today);
        assert_eq!(
            signing_key(Some(&entry(&configured)), &settings).unwrap(),
            configured
        );
        // Configured data and audit keys: the signing key must be configured too.
        let production = KeySettings {
            data: Some(entry(&generate("k", today))),
            audit: Some(entry(&generate("a", today))),
            default_file: dir.join("unused.keys"),
        };
        let refused = signing_key(None, &production).unwrap_err();
        assert!(
            refused.contains("RELAIS_STATISTICS_SIGNING_KEY"),
            "{refused}"
        );
        assert!(!production.default_file.exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_keys_are_values_or_files_and_the_first_is_active() {
        let dir = dir();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let (new, old, audit) = (
            generate("k", today),
            generate("k", today),
            generate("a", today),
        );
        let file = dir.join("old.keys");
        fs::write(&file, entry(&old)).unwrap();
        let settings = KeySettings {
            data: Some(format!("{}, {}", entry(&new), file.display())),
            audit: Some(entry(&audit)),
            default_file: dir.join("unused.keys"),
        };
        let (keys, origin) = load(&settings).unwrap();
        assert_eq!(origin, KeyOrigin::Configured);
        assert_eq!(keys.active, new);
        assert_eq!(keys.retired, vec![old]);
        assert_eq!(keys.audit, audit);
        assert!(!settings.default_file.exists());
        for (data, audit) in [
            (Some("k1:c2hvcnQ=".to_owned()), Some(entry(&audit))),
            (Some("K 1:AAAA".to_owned()), Some(entry(&audit))),
            (Some(entry(&new)), None),
            (
                Some(format!("{},{}", entry(&new), entry(&new))),
                Some(entry(&audit)),
            ),
        ] {
            let bad = KeySettings {
                data,
                audit,
                default_file: dir.join("unused.keys"),
            };
            assert!(load(&bad).is_err(), "{bad:?}");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
