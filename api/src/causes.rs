//! The causes of an error, for logs: what went wrong, and every cause under it.

/// An error with every cause under it, for the log of an unexpected failure.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // thiserror's `transparent` and `{0}` repeat their source: say each cause once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("commit failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_said_once() {
        let error = Outer(std::io::Error::other("database or disk is full"));
        assert_eq!(
            super::chain(&error),
            "commit failed: database or disk is full"
        );
    }
}
