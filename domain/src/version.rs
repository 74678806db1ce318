//! Optimistic concurrency: which stored versions a write may apply to, as `If-Match` says.

/// The versions a write may apply to (RFC 9110 §13.1.1): any (`If-Match: *`, or no `If-Match`
/// where it is optional), or one of those listed (`"3"`, or `"3", "4"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Any,
    OneOf(Vec<i64>),
}

impl Expected {
    /// Exactly this version.
    pub fn exactly(version: i64) -> Self {
        Expected::OneOf(vec![version])
    }

    /// Whether a record stored at `current` may be written.
    pub fn admits(&self, current: i64) -> bool {
        match self {
            Expected::Any => true,
            Expected::OneOf(versions) => versions.contains(&current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_admits_every_version_and_a_list_its_own() {
        assert!(Expected::Any.admits(7));
        assert!(Expected::OneOf(vec![3, 4]).admits(4));
        assert!(!Expected::OneOf(vec![3, 4]).admits(5));
        assert!(Expected::exactly(2).admits(2));
    }
}
