//! Lists of codes stored in one text column, comma-wrapped (`,a,b,`), so that
//! `LIKE '%,a,%'` finds a member on both backends.

use std::str::FromStr;

use crate::StoreError;
use crate::convert::parse;

pub(crate) fn join<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!(",{},", inner.join(","))
}

pub(crate) fn split<T: FromStr>(column: &str, stored: &str) -> Result<Vec<T>, StoreError> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(column, s))
        .collect()
}

/// The pattern that finds `member` in a joined list.
pub(crate) fn contains_pattern(member: &str) -> String {
    format!("%,{member},%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        let joined = join(&["07", "2A"]);
        assert_eq!(joined, ",07,2A,");
        assert_eq!(split::<String>("c", &joined).unwrap(), ["07", "2A"]);
        assert_eq!(join::<String>(&[]), "");
        assert!(split::<String>("c", "").unwrap().is_empty());
    }
}
