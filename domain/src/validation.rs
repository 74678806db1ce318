//! Collecting every fault of an input at once, each tied to the field at fault,
//! so that a caller can fix all of them in one round trip.

use serde::Serialize;

/// One rule broken by one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Path of the field at fault, dotted for nested objects (`beneficiary.birth_year`).
    #[cfg_attr(feature = "openapi", schema(example = "principal_problem"))]
    pub field: String,
    /// Stable machine-readable code of the broken rule: one of [`FIELD_ERROR_CODES`].
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = field_error_code_schema)
    )]
    pub code: String,
    /// Human-readable explanation.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "the principal problem must be one of the problems")
    )]
    pub message: String,
}

/// Every code a field error may carry, with the rule it names: the contract lists them, and a
/// code not listed here is a bug (checked on every error the tests and Schemathesis provoke).
pub const FIELD_ERROR_CODES: &[(&str, &str)] = &[
    ("required", "the field is required here"),
    (
        "invalid_value",
        "the value is not of the field's type or not one of its codes, or the field is unknown",
    ),
    ("unreadable", "a header or parameter cannot be read"),
    ("blank", "the text is empty or only spaces"),
    ("too_long", "the text or list is longer than allowed"),
    (
        "control_character",
        "the text holds control characters, newlines (in a one-line field) or bidirectional overrides",
    ),
    ("range", "the number is outside its documented range"),
    (
        "length",
        "the text or list length is outside its documented bounds",
    ),
    (
        "out_of_range",
        "the number or date is outside what the rule allows",
    ),
    ("empty", "the list must hold at least one item"),
    ("duplicate", "the list holds the same item twice"),
    ("exactly_one", "exactly one of these fields must be given"),
    ("not_applicable", "the field does not apply to this request"),
    ("in_future", "the date is after today"),
    ("too_early", "the date is before what the record allows"),
    ("before_birth", "the date is before the person's birth"),
    (
        "before_situation",
        "the date is before the situation was opened",
    ),
    (
        "after_situation",
        "the person has a situation opened before this birth",
    ),
    (
        "after_intervention",
        "the situation has an intervention before this opening day",
    ),
    ("before_from", "the end of the period is before its start"),
    (
        "disagrees_with_birth_date",
        "the birth year disagrees with the birth date",
    ),
    (
        "not_among_problems",
        "the principal problem is not one of the problems",
    ),
    (
        "illegal_transition",
        "the status cannot move there from the current one",
    ),
    ("invalid_commune", "not an INSEE commune code"),
    ("invalid_department", "not an INSEE department code"),
    ("invalid_email", "not an e-mail address"),
    (
        "invalid_siret",
        "not a SIRET number (14 digits, Luhn checksum)",
    ),
    ("invalid_url", "not an https URL a webhook may use"),
    (
        "invalid_cursor",
        "not a next_cursor returned by a previous page",
    ),
    ("invalid_subject", "not a usable token subject"),
    ("reserved", "the value is reserved to Relais itself"),
    (
        "reused",
        "this Idempotency-Key was used for another request",
    ),
    ("unknown", "the record named does not exist"),
    ("unknown_post", "no such post, or not one of yours"),
    ("unknown_partner", "no such partner in the directory"),
    ("unknown_person", "no such person at this post"),
    ("anonymised_person", "the person was anonymised"),
    ("wrong_partner", "the record belongs to another partner"),
    ("unknown_grid", "no statistics grid of that version"),
    (
        "not_whole_months",
        "the period must be whole calendar months: statistics wider than your own posts, and submissions",
    ),
    ("no_grid", "no statistics grid covers the period"),
    (
        "unknown_instance",
        "no sending instance of that id is registered here",
    ),
    (
        "bad_signature",
        "the signature does not verify with the sending instance's registered key: the document was altered or signed by another key",
    ),
    (
        "invalid_instance_id",
        "an instance id is 1 to 64 of a-z, 0-9, '-' and '_'",
    ),
    (
        "invalid_public_key",
        "not an Ed25519 public key (32 bytes, base64)",
    ),
    (
        "inconsistent",
        "the document contradicts itself (a post's grid or period differs from the document's)",
    ),
    ("invalid", "the grid file breaks a rule of the grid format"),
    (
        "no_brackets",
        "the grid's indicator splits by age without brackets",
    ),
    ("overlap", "the grid's age brackets overlap"),
];

/// Whether `code` is one of [`FIELD_ERROR_CODES`].
pub fn is_field_error_code(code: &str) -> bool {
    FIELD_ERROR_CODES.iter().any(|(known, _)| *known == code)
}

#[cfg(feature = "openapi")]
fn field_error_code_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let described: Vec<String> = FIELD_ERROR_CODES
        .iter()
        .map(|(code, rule)| format!("`{code}`: {rule}"))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(FIELD_ERROR_CODES.iter().map(|(code, _)| *code)))
        .description(Some(format!(
            "Stable machine-readable code of the broken rule. {}.",
            described.join("; ")
        )))
        .examples(["not_among_problems"])
        .build()
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        debug_assert!(
            is_field_error_code(code),
            "the field error code `{code}` is not in FIELD_ERROR_CODES"
        );
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// The faults found in an input; empty means valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }
}

/// Accumulates faults while a value is checked.
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a fault on `field` unless `ok`.
    pub fn require(&mut self, ok: bool, field: &str, code: &str, message: impl Into<String>) {
        if !ok {
            self.errors.push(FieldError::new(field, code, message));
        }
    }

    /// Takes in the faults of a nested value, prefixing their fields with `prefix`.
    pub fn nest(&mut self, prefix: &str, result: Result<(), Invalid>) {
        if let Err(Invalid(errors)) = result {
            self.errors.extend(errors.into_iter().map(|mut e| {
                e.field = format!("{prefix}.{}", e.field);
                e
            }));
        }
    }

    /// Takes in the faults of another check as they are.
    pub fn absorb(&mut self, result: Result<(), Invalid>) {
        if let Err(Invalid(errors)) = result {
            self.errors.extend(errors);
        }
    }

    /// Checks a free-text field (a message, an outcome, an evaluation): not blank, at most `max`
    /// characters, and no character that can deceive a reader: newlines (`\n`, `\r\n`) and
    /// tabs are kept, every other control character and every bidi override or isolate refused.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        let mut chars = value.chars().peekable();
        let mut clean = true;
        while let Some(c) = chars.next() {
            let newline = c == '\n' || c == '\t' || (c == '\r' && chars.peek() == Some(&'\n'));
            if !newline && deceives(c) {
                clean = false;
            }
        }
        self.require(
            clean,
            field,
            "control_character",
            "must not hold control characters (other than newlines and tabs) nor bidi overrides",
        );
        self.length(field, value, max);
    }

    /// Checks a one-line field (a name, a phone number, a reference): as [`Self::text`], and no
    /// newline or tab either.
    pub fn line(&mut self, field: &str, value: &str, max: usize) {
        self.require(
            !value.chars().any(deceives),
            field,
            "control_character",
            "must be one line, without control characters nor bidi overrides",
        );
        self.length(field, value, max);
    }

    fn length(&mut self, field: &str, value: &str, max: usize) {
        self.require(
            !value.trim().is_empty(),
            field,
            "blank",
            "must not be blank",
        );
        self.require(
            value.chars().count() <= max,
            field,
            "too_long",
            format!("must be at most {max} characters"),
        );
    }

    pub fn finish(self) -> Result<(), Invalid> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.errors))
        }
    }
}

/// Whether `c` can make a text show other than it says: a C0 or C1 control character (newlines
/// and tabs included: callers that allow them say so), DEL, or a bidi embedding, override or
/// isolate (U+202A–U+202E, U+2066–U+2069), which reorder what follows.
pub fn deceives(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// INSEE department codes: metropolitan `01`–`95` (Corsica as `2A`/`2B`) and overseas `971`–`976`.
pub fn is_department_code(code: &str) -> bool {
    match code {
        "2A" | "2B" => true,
        // Digits only: `parse` alone would also take a sign (`+8`).
        _ if !code.bytes().all(|b| b.is_ascii_digit()) => false,
        _ if code.len() == 2 => code
            .parse::<u8>()
            .is_ok_and(|n| (1..=95).contains(&n) && n != 20),
        _ if code.len() == 3 => code.parse::<u16>().is_ok_and(|n| (971..=976).contains(&n)),
        _ => false,
    }
}

/// INSEE commune codes: five characters, the department's prefix then digits (`07010`, `2A004`, `97411`).
pub fn is_commune_code(code: &str) -> bool {
    code.len() == 5
        && code.is_ascii()
        && (is_department_code(&code[..2]) || is_department_code(&code[..3]))
        && code[2..].bytes().all(|b| b.is_ascii_digit())
}

/// The department part of a commune code, as the partner directory matches it: the first
/// two characters, three overseas (`97…`). Total over any text, since a search parameter
/// is only checked for its length in characters: counts characters, never splits one.
pub fn department_of_commune(code: &str) -> &str {
    let len = if code.starts_with("97") { 3 } else { 2 };
    code.char_indices()
        .nth(len)
        .map_or(code, |(end, _)| &code[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(check: impl FnOnce(&mut Validation)) -> Vec<String> {
        let mut v = Validation::new();
        check(&mut v);
        v.errors.into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn a_line_refuses_every_control_and_bidi_character_and_a_text_keeps_newlines_and_tabs() {
        for bad in [
            "a\u{0}b",
            "a\u{1b}[31mb",
            "a\rb",
            "a\nb",
            "a\tb",
            "a\u{85}b",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{7f}b",
        ] {
            assert_eq!(
                codes(|v| v.line("name", bad, 50)),
                ["control_character"],
                "{bad:?}"
            );
        }
        assert_eq!(
            codes(|v| v.line("name", "Zoé N'Diaye-Martin", 50)),
            Vec::<String>::new()
        );
        for good in ["Ligne 1\nLigne 2", "Ligne 1\r\n\tLigne 2"] {
            assert_eq!(
                codes(|v| v.text("text", good, 50)),
                Vec::<String>::new(),
                "{good:?}"
            );
        }
        for bad in ["a\rb", "a\u{0}b", "a\u{202d}b", "a\u{1b}b"] {
            assert_eq!(
                codes(|v| v.text("text", bad, 50)),
                ["control_character"],
                "{bad:?}"
            );
        }
    }

    #[test]
    fn department_codes() {
        for ok in ["01", "07", "2A", "2B", "95", "971", "976"] {
            assert!(is_department_code(ok), "{ok}");
        }
        for bad in [
            "00", "20", "96", "970", "977", "2C", "7", "", "abc", "+8", "+1", "+97", "-1",
        ] {
            assert!(!is_department_code(bad), "{bad}");
        }
    }

    #[test]
    fn commune_codes() {
        for ok in ["07010", "2A004", "97411", "75056"] {
            assert!(is_commune_code(ok), "{ok}");
        }
        for bad in [
            "7010", "070100", "00123", "2C004", "07a10", "é0701", "+8123", "+9710",
        ] {
            assert!(!is_commune_code(bad), "{bad}");
        }
    }

    #[test]
    fn field_error_codes_are_unique_snake_case_and_described() {
        let mut codes: Vec<&str> = FIELD_ERROR_CODES.iter().map(|(c, _)| *c).collect();
        for (code, rule) in FIELD_ERROR_CODES {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!(rule.len() > 10, "{code}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), FIELD_ERROR_CODES.len());
    }

    #[test]
    fn nested_faults_carry_their_path() {
        let mut v = Validation::new();
        v.nest(
            "beneficiary",
            Err(Invalid::one("birth_year", "in_future", "in the future")),
        );
        v.text("name", "  ", 10);
        let Invalid(errors) = v.finish().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["beneficiary.birth_year", "name"]);
    }

    #[test]
    fn the_department_of_a_commune() {
        assert_eq!(department_of_commune("07010"), "07");
        assert_eq!(department_of_commune("2A004"), "2A");
        assert_eq!(department_of_commune("97411"), "974");
        assert_eq!(department_of_commune("7"), "7");
        assert_eq!(department_of_commune(""), "");
        // Five characters but six bytes: a byte slice `[..2]` would split the `é` and panic.
        assert_eq!(department_of_commune("aé123"), "aé");
        assert_eq!(department_of_commune("97é12"), "97é");
    }
}
