//! The statistics as files a spreadsheet opens as meant: CSV and XLSX, and their names.
//!
//! Both are one tidy table, the same five columns (indicator id, its label, the value's key, its
//! label, the count), one row per indicator total (key `total`) and one per value: a table a
//! filter or a pivot table works on at once, and one shape for both formats. The XLSX adds header
//! rows with the scope, the period and the grid version, and writes codes as text, counts as
//! numbers and the period's days as dates.

use chrono::{NaiveDate, NaiveDateTime};
use relais_domain::statistics::{DisclosureControl, Statistics};
use relais_persistence::statistics::StatScope;
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, XlsxError};

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The columns of the table, in French as published.
const COLUMNS: [&str; 5] = [
    "indicateur",
    "libellé de l'indicateur",
    "modalité",
    "libellé de la modalité",
    "effectif",
];

/// The name of the sheet (and of the table in it).
pub const SHEET: &str = "Statistiques";

/// The file name, without its extension, of a scope and a period:
/// `statistiques-national-2026-01-01-2026-12-31`, `statistiques-departement-07-…`,
/// `statistiques-poste-<post id>-…`, `statistiques-postes-<n>-…` for several posts.
pub fn file_stem(scope: &StatScope, from: NaiveDate, to: NaiveDate) -> String {
    let scope = match scope {
        StatScope::National => "national".to_owned(),
        StatScope::Department(code) => format!("departement-{code}"),
        StatScope::Posts(posts) => match posts.as_slice() {
            [post] => format!("poste-{post}"),
            posts => format!("postes-{}", posts.len()),
        },
    };
    format!("statistiques-{scope}-{from}-{to}")
}

/// The scope in words, for the header of the XLSX.
fn scope_in_words(scope: &StatScope) -> String {
    match scope {
        StatScope::National => "National".to_owned(),
        StatScope::Department(code) => format!("Département {code}"),
        StatScope::Posts(posts) => {
            let ids: Vec<String> = posts.iter().map(ToString::to_string).collect();
            match ids.as_slice() {
                [post] => format!("Poste {post}"),
                ids => format!("Postes {}", ids.join(", ")),
            }
        }
    }
}

/// A code as a CSV cell that a spreadsheet keeps as text. A code that starts with a letter
/// (`female`, `total`) is left alone; one that does not (`01`, `60+`, `3-7`, `2026-01`) would be
/// read as a number or a date (`60+` becomes 60, `3-7` the 3rd of July), so it is written as the
/// formula `="60+"`, whose value is the text itself: Excel and LibreOffice (checked with
/// LibreOffice 7.4, whose CSV import evaluates formulas by default) show `60+` and keep it text.
/// Quoting alone (`"60+"`) does not do it: neither reads quotes as a type, and LibreOffice's
/// "format quoted field as text" is off by default; a leading apostrophe shows as one.
pub fn csv_text(code: &str) -> String {
    if code.starts_with(|c: char| c.is_ascii_alphabetic()) {
        code.to_owned()
    } else {
        format!("=\"{}\"", code.replace('"', "\"\""))
    }
}

/// A label as a CSV cell a spreadsheet will not run: one that begins with `=`, `+`, `-`, `@`, a
/// tab or a carriage return would be read as a formula (CSV injection), so it is prefixed with an
/// apostrophe, which spreadsheets take as "text follows" (OWASP's advice). Labels come from the
/// grid files and, for a code the reference lists no longer hold, from the database.
pub fn csv_label(label: &str) -> String {
    if label.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{label}")
    } else {
        label.to_owned()
    }
}

/// A count as written in a file: the number, or `<5` when disclosure control suppressed it.
fn written_count(count: Option<i64>, stats: &Statistics) -> String {
    match (count, &stats.disclosure_control) {
        (Some(n), _) => n.to_string(),
        (None, Some(control)) => DisclosureControl::mark(control.k),
        (None, None) => String::new(),
    }
}

/// The statistics as a CSV file: UTF-8 with a byte-order mark and `;` separators, as French
/// spreadsheets expect; one row per indicator total and one per value, codes kept as text
/// (see [`csv_text`]), labels kept from formulas (see [`csv_label`]), a suppressed count written
/// `<5`.
pub fn to_csv(stats: &Statistics) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(vec![0xEF, 0xBB, 0xBF]);
    writer.write_record(COLUMNS)?;
    for indicator in &stats.indicators {
        let label = csv_label(&indicator.label);
        writer.write_record([
            &indicator.id,
            &label,
            "total",
            "Total",
            &written_count(indicator.total, stats),
        ])?;
        for value in &indicator.values {
            writer.write_record([
                &indicator.id,
                &label,
                &csv_text(&value.key),
                &csv_label(&value.label),
                &written_count(value.count, stats),
            ])?;
        }
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The first row of the table (its header); the rows above it describe the file.
pub const TABLE_HEADER_ROW: u32 = 6;

/// The statistics as an XLSX workbook: one sheet, `Statistiques`, with the title, the scope,
/// the period and the grid version in its first rows, then the table (filter on, header
/// frozen). Codes and the grid version are text, counts numbers, the period's days dates.
/// `generated_at` is the workbook's creation time, so that the same data give the same bytes.
pub fn to_xlsx(
    stats: &Statistics,
    scope: &StatScope,
    generated_at: NaiveDateTime,
) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(&stats.title)
            .set_comment(format!(
                "{} — du {} au {} — grille {}",
                scope_in_words(scope),
                stats.from,
                stats.to,
                stats.grid
            ))
            .set_creation_datetime(&generated_at),
    );
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);
    let date = Format::new()
        .set_num_format("dd/mm/yyyy")
        .set_align(FormatAlign::Left);
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET)?;
    sheet.write_string_with_format(0, 0, &stats.title, &title)?;
    sheet.write_string_with_format(1, 0, "Périmètre", &bold)?;
    sheet.write_string(1, 1, scope_in_words(scope))?;
    sheet.write_string(1, 2, &stats.scope)?;
    sheet.write_string_with_format(2, 0, "Période", &bold)?;
    sheet.write_date_with_format(2, 1, stats.from, &date)?;
    sheet.write_date_with_format(2, 2, stats.to, &date)?;
    sheet.write_string_with_format(3, 0, "Version de la grille", &bold)?;
    sheet.write_string(3, 1, &stats.grid)?;
    sheet.write_string_with_format(4, 0, "Établi le", &bold)?;
    sheet.write_date_with_format(4, 1, generated_at.date(), &date)?;
    if let Some(control) = &stats.disclosure_control {
        sheet.write_string_with_format(5, 0, "Secret statistique", &bold)?;
        sheet.write_string(5, 1, &control.note)?;
    }

    let header = TABLE_HEADER_ROW;
    for (column, name) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(header, column, name, &bold)?;
    }
    let mut row = header;
    for indicator in &stats.indicators {
        let lines = std::iter::once(("total", "Total", indicator.total)).chain(
            indicator
                .values
                .iter()
                .map(|v| (v.key.as_str(), v.label.as_str(), v.count)),
        );
        for (key, label, count) in lines {
            row += 1;
            sheet.write_string(row, 0, &indicator.id)?;
            sheet.write_string(row, 1, &indicator.label)?;
            sheet.write_string(row, 2, key)?;
            sheet.write_string(row, 3, label)?;
            // Labels and codes go in with `write_string`, which stores text a spreadsheet
            // never evaluates: no formula injection in the XLSX.
            match count {
                // Counts are far below 2^53: exact as a spreadsheet's number.
                #[allow(clippy::cast_precision_loss)]
                Some(count) => sheet.write_number(row, 4, count as f64)?,
                None => sheet.write_string(row, 4, written_count(None, stats))?,
            };
        }
    }
    sheet.autofilter(header, 0, row, 4)?;
    sheet.set_freeze_panes(header + 1, 0)?;
    for (column, width) in [(0u16, 34), (1, 60), (2, 20), (3, 44), (4, 10)] {
        sheet.set_column_width(column, width)?;
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_a_spreadsheet_would_read_as_numbers_or_dates_are_written_as_text() {
        assert_eq!(csv_text("female"), "female");
        assert_eq!(csv_text("60+"), "=\"60+\"");
        assert_eq!(csv_text("01"), "=\"01\"");
        assert_eq!(csv_text("2026-01"), "=\"2026-01\"");
    }

    #[test]
    fn labels_a_spreadsheet_would_run_as_formulas_are_kept_as_text() {
        for attack in [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(csv_label(attack), format!("'{attack}"), "{attack:?}");
        }
        assert_eq!(csv_label("Femme"), "Femme");
        assert_eq!(csv_label("60 ans et plus"), "60 ans et plus");
        // A code is written as a formula that yields the text, quotes doubled: a code that
        // begins with `=` stays text too.
        assert_eq!(csv_text("=1+1"), "=\"=1+1\"");
        assert_eq!(csv_text("@x\"&y"), "=\"@x\"\"&y\"");
    }

    #[test]
    fn files_are_named_by_scope_and_period() {
        let (from, to) = (
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        );
        assert_eq!(
            file_stem(&StatScope::National, from, to),
            "statistiques-national-2026-01-01-2026-12-31"
        );
        assert_eq!(
            file_stem(&StatScope::Department("2A".into()), from, to),
            "statistiques-departement-2A-2026-01-01-2026-12-31"
        );
    }
}
