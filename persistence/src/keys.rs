//! The keys the storage uses, which live outside the database (files or environment, loaded by
//! the binary): the data keys that seal the most sensitive columns (`sealing`), and the audit key
//! that chains the audit trail's MACs. A copy of the database alone holds neither.
//!
//! They are installed once per process, before the first query, and read by the row conversions
//! of every table, so that no code path can write a sealed column in clear: the conversions take
//! no key parameter to forget. Installing again keeps every key already known (a process that
//! serves several test databases, a rotation adding a key), and makes the new active key active.

use std::fmt;
use std::sync::{Arc, RwLock};

/// A 256-bit key and the id stored beside each value it sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// 1 to 32 characters among `a-z`, `0-9`, `-` and `_`.
    pub id: String,
    pub bytes: [u8; 32],
}

impl fmt::Debug for Key {
    // Never print the key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    /// Whether `id` may name a key (it is stored in every sealed value).
    pub fn is_valid_id(id: &str) -> bool {
        (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }
}

/// The keys of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The data key new values are sealed with.
    pub active: Key,
    /// Older data keys, still read (during and after a rotation).
    pub retired: Vec<Key>,
    /// The key of the audit trail's MAC chain.
    pub audit: Key,
}

impl Keys {
    /// The data key named `id`, active or retired.
    pub fn data_key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }
}

static INSTALLED: RwLock<Option<Arc<Keys>>> = RwLock::new(None);

/// Makes `keys` the process's keys; data keys known before stay readable.
pub fn install(keys: Keys) {
    let mut installed = INSTALLED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut merged = keys;
    if let Some(previous) = installed.as_deref() {
        for key in std::iter::once(&previous.active).chain(&previous.retired) {
            if merged.data_key(&key.id).is_none() {
                merged.retired.push(key.clone());
            }
        }
    }
    *installed = Some(Arc::new(merged));
}

/// The installed keys. Reading or writing a sealed column before `install` is a bug of the
/// binary or of a test: the query fails, saying so.
pub fn installed() -> Result<Arc<Keys>, crate::StoreError> {
    INSTALLED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .ok_or_else(|| {
            crate::StoreError::Keys(
                "no keys installed: relais_persistence::keys::install runs before the first query"
                    .into(),
            )
        })
}

/// Installs `keys` unless keys are installed already (test suites, which share a process).
pub fn install_unless_installed(keys: impl FnOnce() -> Keys) {
    let mut installed = INSTALLED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if installed.is_none() {
        *installed = Some(Arc::new(keys()));
    }
}

/// Fixed keys for test suites (never for a deployment: they are in the source).
#[cfg(feature = "testing")]
pub fn test_keys() -> Keys {
    Keys {
        active: Key {
            id: "test-data".into(),
            bytes: [7; 32],
        },
        retired: Vec::new(),
        audit: Key {
            id: "test-audit".into(),
            bytes: [9; 32],
        },
    }
}
