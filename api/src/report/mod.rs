//! The yearly activity report of a post: one self-contained French HTML page (no external
//! asset, printable), with the key figures, their change on the previous year, and charts.
//! The page is well-formed XML too, so that any parser reads it.

mod charts;

use relais_domain::post::Post;
use relais_domain::statistics::Statistics;

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

fn total(stats: &Statistics, id: &str) -> Option<i64> {
    stats
        .indicators
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.total)
}

fn values(stats: &Statistics, id: &str) -> Option<Vec<(String, i64)>> {
    stats
        .indicators
        .iter()
        .find(|i| i.id == id && !i.values.is_empty())
        .map(|i| {
            i.values
                .iter()
                .map(|v| (v.label.clone(), v.count))
                .collect()
        })
}

/// "+12 %" or "−5 %" against last year; "—" when last year had none.
fn change(current: i64, previous: i64) -> String {
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

/// The figures and charts the report shows: (indicator, title, orientation).
const CHARTS: [(&str, &str, Orientation); 9] = [
    (
        "situations_by_problem",
        "Problématiques rencontrées",
        Orientation::Horizontal,
    ),
    (
        "situations_by_origin",
        "Origine des orientations vers l'ISCG",
        Orientation::Horizontal,
    ),
    (
        "persons_by_age",
        "Âge des personnes reçues",
        Orientation::Horizontal,
    ),
    (
        "persons_by_sex",
        "Sexe des personnes reçues",
        Orientation::Horizontal,
    ),
    (
        "hand_offs_by_partner_kind",
        "Orientations par type de partenaire",
        Orientation::Horizontal,
    ),
    (
        "hand_offs_by_outcome",
        "Issue des orientations",
        Orientation::Horizontal,
    ),
    (
        "hand_offs_by_result",
        "Ce que sont devenues les personnes orientées",
        Orientation::Horizontal,
    ),
    (
        "hand_offs_by_answer_delay",
        "Délai de réponse des partenaires",
        Orientation::Horizontal,
    ),
    (
        "situations_by_month",
        "Activité mensuelle (situations ouvertes)",
        Orientation::Vertical,
    ),
];

const KEY_FIGURES: [(&str, &str); 4] = [
    ("persons", "Personnes reçues"),
    ("situations", "Situations"),
    ("interventions", "Interventions"),
    ("hand_offs", "Orientations vers un partenaire"),
];

const STYLE: &str = "
body { font-family: system-ui, sans-serif; color: #1b1b1b; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { color: #1f4e79; margin-bottom: 0; }
.figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; margin: 2rem 0; }
.figure { border: 1px solid #c8d3df; border-radius: .5rem; padding: 1rem; }
.figure .value { font-size: 2rem; font-weight: 700; }
.figure .change { color: #555; }
section.chart { margin: 2rem 0; break-inside: avoid; }
footer { color: #555; font-size: .85rem; border-top: 1px solid #c8d3df; padding-top: 1rem; }
@media print { body { margin: 0; } .figures { grid-template-columns: repeat(2, 1fr); } }
";

/// Renders the report of `post` for `current`, compared with `previous`.
pub fn render(
    post: &Post,
    year: i32,
    current: &Statistics,
    previous: &Statistics,
    generated_on: &str,
) -> Result<String, String> {
    let name = escape(&post.details.name);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>Rapport d'activité {year} — {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>Rapport d'activité {year}</h1>\n<p>{name} — département {department}, {employer}</p>\n</header>\n\
         <section class=\"figures\">\n",
        department = escape(&post.details.department_code),
        employer = escape(&post.details.employer),
    );
    for (id, label) in KEY_FIGURES {
        let (now, before) = (
            total(current, id).unwrap_or(0),
            total(previous, id).unwrap_or(0),
        );
        html.push_str(&format!(
            "<div class=\"figure\" data-indicator=\"{id}\"><div class=\"label\">{label}</div>\
             <div class=\"value\">{now}</div><div class=\"change\">{} par rapport à {} ({before})</div></div>\n",
            change(now, before),
            year - 1,
        ));
    }
    html.push_str("</section>\n");
    for (id, title, orientation) in CHARTS {
        if let Some(data) = values(current, id) {
            let svg = bar_chart(&data, orientation)?;
            html.push_str(&format!("<section class=\"chart\" data-indicator=\"{id}\">\n<h2>{title}</h2>\n{svg}\n</section>\n"));
        }
    }
    html.push_str(&format!(
        "<footer>Établi par Relais le {generated_on}, grille statistique {grid}. \
         Données agrégées et anonymes : aucune identité n'y figure.</footer>\n</body>\n</html>\n",
        grid = escape(&current.grid),
    ));
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_changes_are_signed() {
        assert_eq!(escape("A & <b> \"x\""), "A &amp; &lt;b&gt; &quot;x&quot;");
        assert_eq!(change(110, 100), "+10 %");
        assert_eq!(change(90, 100), "−10 %");
        assert_eq!(change(5, 0), "—");
    }
}
