//! The yearly activity report: one self-contained French HTML page (no external asset,
//! printable), with the key figures and their change on the previous year, then every indicator
//! of the grid, each with a table of its values (the text alternative of its chart, where there
//! is one) and a bar chart with the values on the bars.
//!
//! - **Served as it renders.** The page's only style is one `<style>` element, [`STYLE`]; the
//!   Content-Security-Policy it is served with ([`content_security_policy`]) allows exactly that
//!   element by the SHA-256 of its bytes, and nothing else (no script, no image, no inline
//!   `style` attribute: the charts use SVG presentation attributes).
//! - **The same bytes for the same data**: every list is walked in the grid's order.
//! - **Dated**: the page says what day its figures stop at; a year not over says so, and compares
//!   with the same days of the previous year. A year without any activity shows an empty state.
//! - **Printable**: A4 pages, one page per part (persons, situations, interventions, hand-offs),
//!   no table or chart cut across two pages.
//!
//! The page is well-formed XML too, so that any parser reads it.

mod charts;

use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use relais_domain::grid::{Counted, Dimension};
use relais_domain::statistics::{DisclosureControl, IndicatorValues, Statistics};
use sha2::{Digest, Sha256};

use charts::{Orientation, bar_chart};

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A count as printed: the number, or `<5` when disclosure control suppressed it.
fn written(count: Option<i64>, stats: &Statistics) -> String {
    match (count, &stats.disclosure_control) {
        (Some(n), _) => n.to_string(),
        (None, Some(control)) => escape(&DisclosureControl::mark(control.k)),
        (None, None) => "—".to_owned(),
    }
}

/// "+12 %" or "−5 %" against last year; "—" when last year had none, or when either count is
/// suppressed (a change would give it away).
fn change(current: Option<i64>, previous: Option<i64>) -> String {
    let (Some(current), Some(previous)) = (current, previous) else {
        return "—".to_owned();
    };
    if previous == 0 {
        return "—".to_owned();
    }
    #[allow(clippy::cast_precision_loss)]
    let percent = ((current - previous) as f64 / previous as f64 * 100.0).round();
    if percent >= 0.0 {
        format!("+{percent} %")
    } else {
        format!("−{} %", -percent)
    }
}

/// "25 %" of `total`, rounded; "—" when the total is nothing, or either is suppressed.
fn share(count: Option<i64>, total: Option<i64>) -> String {
    let (Some(count), Some(total)) = (count, total) else {
        return "—".to_owned();
    };
    if total <= 0 {
        return "—".to_owned();
    }
    #[allow(clippy::cast_precision_loss)]
    let percent = (count as f64 / total as f64 * 100.0).round();
    format!("{percent} %")
}

/// The short labels of the key figures the shipped grid totals; another total keeps its label.
const KEY_FIGURES: [(&str, &str); 4] = [
    ("persons", "Personnes reçues"),
    ("situations", "Situations"),
    ("interventions", "Interventions"),
    ("hand_offs", "Orientations vers un partenaire"),
];

/// The parts of the report, one per thing counted, each on its own printed page.
const PARTS: [(Counted, &str, &str); 4] = [
    (Counted::Persons, "persons", "Les personnes reçues"),
    (Counted::Situations, "situations", "Les situations"),
    (Counted::Interventions, "interventions", "Les interventions"),
    (
        Counted::HandOffs,
        "hand_offs",
        "Les orientations vers les partenaires",
    ),
];

const SHORT_MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// The page's one stylesheet, print rules included. The Content-Security-Policy carries its
/// hash: any change to these bytes changes the header with it.
pub const STYLE: &str = "
body { font-family: system-ui, sans-serif; color: #1b1b1b; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { color: #1f4e79; margin-bottom: 0; }
h2 { color: #1f4e79; border-bottom: 2px solid #1f4e79; padding-bottom: .25rem; margin-top: 2.5rem; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.as-of { color: #555; }
.notice { border-left: 4px solid #b35900; background: #fff4e5; padding: .75rem 1rem; }
.empty { border: 1px dashed #c8d3df; border-radius: .5rem; padding: 2rem; text-align: center; color: #555; }
.figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; margin: 2rem 0; }
.figure { border: 1px solid #c8d3df; border-radius: .5rem; padding: 1rem; }
.figure .value { font-size: 2rem; font-weight: 700; }
.figure .change { color: #555; font-size: .9rem; }
figure { margin: 0; }
svg { display: block; max-width: 100%; height: auto; margin: .5rem 0; }
table { border-collapse: collapse; table-layout: fixed; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
thead th:first-child { width: 52%; }
th, td { border-bottom: 1px solid #c8d3df; padding: .2rem .5rem; text-align: left; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 700; }
.note { color: #555; font-size: .85rem; }
footer { color: #555; font-size: .85rem; border-top: 1px solid #c8d3df; padding-top: 1rem; margin-top: 3rem; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .figures { grid-template-columns: repeat(2, 1fr); }
  .notice { background: none; }
  section.part { break-before: page; }
  section.indicator, figure, table, tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  thead { display: table-header-group; }
}
";

/// `sha256-<base64>` of the page's stylesheet, as a CSP source expression.
pub fn style_source() -> String {
    let digest = Sha256::digest(STYLE.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy the report is served with: its own stylesheet and nothing else.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        style_source()
    )
}

/// Whose activity the report is about, as its header says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The post's name (or the scope's).
    pub name: String,
    /// One line under it: department, employer…
    pub details: String,
}

/// The span of days a report covers, and the one it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub year: i32,
    /// The last day counted: 31 December, or today in a year not over.
    pub as_of: NaiveDate,
    /// The last day counted of the year compared with.
    pub previous_as_of: NaiveDate,
    /// The year is not over: its figures stop at `as_of`, and the comparison is with the same
    /// days of the previous year.
    pub partial: bool,
    /// The day the page was made.
    pub generated_on: NaiveDate,
    /// Read from the posts' submissions: which posts submitted their figures for the period.
    /// `None` for figures counted live.
    pub coverage: Option<Coverage>,
}

/// The posts of a report's scope that submitted their figures for its period, and those that
/// did not (named "post (department)").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub submitted: Vec<String>,
    pub missing: Vec<String>,
}

impl Span {
    /// "2024", or "la même période de 2024" for a year not over.
    fn previous(&self) -> String {
        if self.partial {
            format!("la même période de {}", self.year - 1)
        } else {
            (self.year - 1).to_string()
        }
    }
}

/// Says that the figures are those the posts submitted, how many did, and names those that
/// did not: their activity is not in the page.
fn coverage_notice(html: &mut String, span: &Span, coverage: &Coverage) {
    let (done, all) = (
        coverage.submitted.len(),
        coverage.submitted.len() + coverage.missing.len(),
    );
    html.push_str(&format!(
        "<p class=\"notice\" role=\"note\" data-source=\"submissions\" data-submitted=\"{done}\" \
         data-posts=\"{all}\">Chiffres transmis par les postes (versions figées), non recomptés : \
         {done} poste{s} sur {all} {verb} transmis {their} chiffres du 1er janvier au {as_of}.",
        s = if done > 1 { "s" } else { "" },
        verb = if done > 1 { "ont" } else { "a" },
        their = if done > 1 { "leurs" } else { "ses" },
        as_of = day(span.as_of),
    ));
    if !coverage.missing.is_empty() {
        html.push_str(&format!(
            " Sans transmission, donc non comptés : {}.",
            escape(&coverage.missing.join(", "))
        ));
    }
    html.push_str("</p>\n");
}

/// The same day a year before (28 February for a 29th).
pub fn a_year_before(date: NaiveDate) -> Option<NaiveDate> {
    let year = date.year() - 1;
    date.with_year(year)
        .or_else(|| date.pred_opt().and_then(|d| d.with_year(year)))
}

fn day(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// A month key (`2025-03`) as a chart's label (`mars`); another key as it is.
fn short_label(dimension: Option<Dimension>, key: &str, label: &str) -> String {
    if dimension == Some(Dimension::Month)
        && let Some(month) = key
            .split_once('-')
            .and_then(|(_, m)| m.parse::<usize>().ok())
            .and_then(|m| SHORT_MONTHS.get(m.wrapping_sub(1)))
    {
        return (*month).to_owned();
    }
    label.to_owned()
}

/// Whether nothing at all was counted.
fn is_empty(stats: &Statistics) -> bool {
    stats
        .indicators
        .iter()
        .all(|i| i.total == Some(0) && i.values.iter().all(|v| v.count == Some(0)))
}

/// The count of `key` in the indicator `id` of `stats` (the total for `None`); `None` when
/// suppressed.
fn count_in(stats: &Statistics, id: &str, key: Option<&str>) -> Option<i64> {
    let Some(indicator) = stats.indicators.iter().find(|i| i.id == id) else {
        return Some(0);
    };
    match key {
        None => indicator.total,
        Some(key) => indicator
            .values
            .iter()
            .find(|v| v.key == key)
            .map_or(Some(0), |v| v.count),
    }
}

/// The key figures: every plain total of the grid, with its change.
fn key_figures(html: &mut String, span: &Span, current: &Statistics, previous: &Statistics) {
    html.push_str("<section class=\"figures\">\n");
    for indicator in current.indicators.iter().filter(|i| i.split_by.is_none()) {
        let id = &indicator.id;
        let label = KEY_FIGURES
            .iter()
            .find(|(known, _)| known == id)
            .map_or_else(
                || escape(&indicator.label),
                |(_, label)| (*label).to_owned(),
            );
        let (now, before) = (indicator.total, count_in(previous, id, None));
        html.push_str(&format!(
            "<div class=\"figure\" data-indicator=\"{id}\"><div class=\"label\">{label}</div>\
             <div class=\"value\">{}</div><div class=\"change\">{} par rapport à {} ({})</div></div>\n",
            written(now, current),
            change(now, before),
            span.previous(),
            written(before, previous),
        ));
    }
    html.push_str("</section>\n");
}

/// One indicator: its title, its chart if it splits, and always its table.
fn indicator_section(
    html: &mut String,
    span: &Span,
    indicator: &IndicatorValues,
    current: &Statistics,
    previous: &Statistics,
) {
    let id = &indicator.id;
    let label = escape(&indicator.label);
    let before_heading = if span.partial {
        format!("{} (même période)", span.year - 1)
    } else {
        (span.year - 1).to_string()
    };
    html.push_str(&format!(
        "<section class=\"indicator\" data-indicator=\"{id}\">\n<h3 id=\"{id}\">{label}</h3>\n<figure>\n"
    ));
    if !indicator.values.is_empty() {
        let data: Vec<(String, i64, String)> = indicator
            .values
            .iter()
            .map(|v| {
                (
                    short_label(indicator.split_by, &v.key, &v.label),
                    v.shown(),
                    written(v.count, current),
                )
            })
            .collect();
        let orientation = if indicator.split_by == Some(Dimension::Month) {
            Orientation::Vertical
        } else {
            Orientation::Horizontal
        };
        html.push_str(&bar_chart(&data, orientation));
        html.push('\n');
    }
    html.push_str(&format!(
        "<table aria-labelledby=\"{id}\">\n<thead><tr><th scope=\"col\">Modalité</th>\
         <th scope=\"col\" class=\"n\">{year}</th><th scope=\"col\" class=\"n\">Part</th>\
         <th scope=\"col\" class=\"n\">{before_heading}</th></tr></thead>\n<tbody>\n",
        year = span.year,
    ));
    for value in &indicator.values {
        html.push_str(&format!(
            "<tr data-key=\"{key}\"><th scope=\"row\">{label}</th><td class=\"n\">{count}</td>\
             <td class=\"n\">{share}</td><td class=\"n\">{before}</td></tr>\n",
            key = escape(&value.key),
            label = escape(&value.label),
            count = written(value.count, current),
            share = share(value.count, indicator.total),
            before = written(count_in(previous, id, Some(&value.key)), previous),
        ));
    }
    let (total, before) = (
        written(indicator.total, current),
        written(count_in(previous, id, None), previous),
    );
    if indicator.values.is_empty() {
        html.push_str(&format!(
            "<tr data-key=\"total\"><th scope=\"row\">Total</th><td class=\"n\">{total}</td>\
             <td class=\"n\">—</td><td class=\"n\">{before}</td></tr>\n</tbody>\n</table>\n"
        ));
    } else {
        html.push_str(&format!(
            "</tbody>\n<tfoot><tr data-key=\"total\"><td>Total</td><td class=\"n\">{total}</td>\
             <td class=\"n\"></td><td class=\"n\">{before}</td></tr></tfoot>\n</table>\n"
        ));
    }
    if indicator.split_by.is_some_and(Dimension::overlaps) {
        html.push_str(
            "<p class=\"note\">Plusieurs réponses possibles par situation : la somme des lignes \
             dépasse le total, et les parts, rapportées au total, dépassent 100 %.</p>\n",
        );
    }
    html.push_str("</figure>\n</section>\n");
}

/// Renders the report of `subject` over `span`: `current` is the year (to `as_of`), `previous`
/// the same days of the year before, both computed with the same grid.
pub fn render(
    subject: &Subject,
    span: &Span,
    current: &Statistics,
    previous: &Statistics,
) -> String {
    let year = span.year;
    let name = escape(&subject.name);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>Rapport d'activité {year} — {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>Rapport d'activité {year}</h1>\n<p>{name} — {details}</p>\n\
         <p class=\"as-of\">Données au {as_of}</p>\n</header>\n",
        details = escape(&subject.details),
        as_of = day(span.as_of),
    );
    if span.partial {
        html.push_str(&format!(
            "<p class=\"notice\" role=\"note\" data-partial-year=\"{year}\">L'année {year} n'est pas \
             terminée : les chiffres s'arrêtent au {as_of}. Les évolutions sont calculées par rapport \
             à la même période de {previous} (du 1er janvier au {previous_day}).</p>\n",
            as_of = day(span.as_of),
            previous = year - 1,
            previous_day = day(span.previous_as_of),
        ));
    }
    if let Some(coverage) = &span.coverage {
        coverage_notice(&mut html, span, coverage);
    }
    if let Some(control) = &current.disclosure_control {
        html.push_str(&format!(
            "<p class=\"notice\" role=\"note\" data-disclosure-k=\"{k}\">{note} Ils sont notés \
             « {mark} ».</p>\n",
            k = control.k,
            note = escape(&control.note),
            mark = escape(&DisclosureControl::mark(control.k)),
        ));
    }
    key_figures(&mut html, span, current, previous);
    if is_empty(current) {
        html.push_str(&format!(
            "<section class=\"empty\" data-empty=\"{year}\">\n<p>Aucune activité n'est enregistrée \
             pour {year} au {as_of} : ni personne reçue, ni situation, ni intervention, ni \
             orientation.</p>\n</section>\n",
            as_of = day(span.as_of),
        ));
    } else {
        for (counted, code, title) in PARTS {
            let own: Vec<&IndicatorValues> = current
                .indicators
                .iter()
                .filter(|i| i.counts == counted)
                .collect();
            if own.is_empty() {
                continue;
            }
            html.push_str(&format!(
                "<section class=\"part\" data-counts=\"{code}\">\n<h2>{title}</h2>\n"
            ));
            for indicator in own {
                indicator_section(&mut html, span, indicator, current, previous);
            }
            html.push_str("</section>\n");
        }
    }
    html.push_str(&format!(
        "<footer>Établi par Relais le {generated_on}, {title} (version {grid}). \
         Données agrégées et anonymes : aucune identité n'y figure.</footer>\n</body>\n</html>\n",
        generated_on = day(span.generated_on),
        title = escape(&current.title),
        grid = escape(&current.grid),
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_changes_are_signed() {
        assert_eq!(escape("A & <b> \"x\""), "A &amp; &lt;b&gt; &quot;x&quot;");
        assert_eq!(change(Some(110), Some(100)), "+10 %");
        assert_eq!(change(Some(90), Some(100)), "−10 %");
        assert_eq!(change(Some(5), Some(0)), "—");
        assert_eq!(
            change(None, Some(100)),
            "—",
            "a suppressed count has no change"
        );
        assert_eq!(share(Some(1), Some(4)), "25 %");
        assert_eq!(share(Some(1), Some(0)), "—");
        assert_eq!(share(None, Some(4)), "—", "nor a share");
    }

    #[test]
    fn the_policy_allows_the_stylesheet_by_its_hash_and_nothing_else() {
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!policy.contains("unsafe"));
        assert!(
            !STYLE.contains('<') && !STYLE.contains('&'),
            "well-formed XML"
        );
        assert_eq!(
            short_label(Some(Dimension::Month), "2025-03", "mars 2025"),
            "mars"
        );
        assert_eq!(
            short_label(Some(Dimension::Sex), "female", "Femme"),
            "Femme"
        );
    }
}
