//! Bar charts as inline SVG, written directly: one bar per value in the order given, its count
//! written at its end, nothing else drawn. (The charts used to be drawn with plotters, whose
//! `Histogram` gathers the bars in a `HashMap` and so drew them in a different order on each
//! request; its segmented axis also left an empty slot after the last bar.)
//!
//! The SVG uses presentation attributes only (`fill`, `font-size`), never `style`, so that the
//! page's Content-Security-Policy needs no more than the hash of its one `<style>`. It is hidden
//! from assistive technologies: the table beside it carries the same figures.

use std::fmt::Write as _;

use super::escape;

/// The report's one colour, readable in print.
const BAR: &str = "#1f4e79";
const INK: &str = "#1b1b1b";
const RULE: &str = "#c8d3df";
const FONT: &str = "system-ui, sans-serif";
const WIDTH: u32 = 720;

/// How the bars stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Categories down the side, for long French labels; read top-down in the order given.
    Horizontal,
    /// Categories along the bottom, for months; read left to right.
    Vertical,
}

/// The length of a bar of `count` out of `top` drawn over `room` pixels.
fn length(count: i64, top: i64, room: u32) -> u32 {
    if top <= 0 || count <= 0 {
        return 0;
    }
    let scaled = i128::from(count) * i128::from(room) / i128::from(top);
    u32::try_from(scaled).unwrap_or(room).max(1)
}

/// An SVG bar chart of `(label, count, count as written)`: the page gives it its title and its
/// table. A count suppressed by disclosure control comes as zero written `<5`: no bar.
pub fn bar_chart(data: &[(String, i64, String)], orientation: Orientation) -> String {
    match orientation {
        Orientation::Horizontal => horizontal(data),
        Orientation::Vertical => vertical(data),
    }
}

fn open_svg(height: u32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" aria-hidden=\"true\" font-family=\"{FONT}\" font-size=\"12\" fill=\"{INK}\">\n"
    )
}

fn horizontal(data: &[(String, i64, String)]) -> String {
    const ROW: u32 = 24;
    const LABELS: u32 = 300;
    const VALUE_ROOM: u32 = 60;
    let rows = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let height = 8 + ROW * rows + 8;
    let room = WIDTH - LABELS - 10 - VALUE_ROOM;
    let top = data.iter().map(|(_, n, _)| *n).max().unwrap_or(0);
    let mut svg = open_svg(height);
    let _ = writeln!(
        svg,
        "<line x1=\"{LABELS}\" y1=\"4\" x2=\"{LABELS}\" y2=\"{}\" stroke=\"{RULE}\"/>",
        height - 4
    );
    for (row, (label, count, written)) in (0u32..).zip(data) {
        let y = 8 + row * ROW;
        let bar = length(*count, top, room);
        let middle = y + ROW / 2 + 4;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{middle}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABELS}\" y=\"{}\" width=\"{bar}\" height=\"{}\" fill=\"{BAR}\"/>\
             <text x=\"{}\" y=\"{middle}\" font-weight=\"bold\">{}</text>",
            LABELS - 8,
            escape(label),
            y + 3,
            ROW - 6,
            LABELS + bar + 6,
            escape(written),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn vertical(data: &[(String, i64, String)]) -> String {
    const HEIGHT: u32 = 260;
    const BOTTOM: u32 = 30;
    const TOP: u32 = 24;
    let columns = u32::try_from(data.len().max(1)).unwrap_or(u32::MAX);
    let slot = (WIDTH - 20) / columns;
    let room = HEIGHT - BOTTOM - TOP;
    let base = HEIGHT - BOTTOM;
    let top = data.iter().map(|(_, n, _)| *n).max().unwrap_or(0);
    let mut svg = open_svg(HEIGHT);
    let _ = writeln!(
        svg,
        "<line x1=\"10\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"{RULE}\"/>",
        WIDTH - 10
    );
    for (column, (label, count, written)) in (0u32..).zip(data) {
        let x = 10 + column * slot;
        let bar = length(*count, top, room);
        let middle = x + slot / 2;
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bar}\" fill=\"{BAR}\"/>\
             <text x=\"{middle}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <text x=\"{middle}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x + slot / 8,
            base - bar,
            slot - slot / 4,
            base - bar - 6,
            escape(written),
            base + 18,
            escape(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<(String, i64, String)> {
        vec![
            ("Femme".into(), 30, "30".into()),
            ("Homme".into(), 10, "10".into()),
            ("Non <dit>".into(), 0, "0".into()),
        ]
    }

    #[test]
    fn bars_come_in_order_with_their_values_and_no_empty_slot() {
        let svg = bar_chart(&data(), Orientation::Horizontal);
        assert_eq!(
            svg.matches("<rect").count(),
            3,
            "one bar per value, no more"
        );
        let (femme, homme) = (svg.find("Femme").unwrap(), svg.find("Homme").unwrap());
        assert!(femme < homme, "top-down in the order given");
        assert!(
            svg.contains(">30</text>") && svg.contains(">10</text>") && svg.contains(">0</text>")
        );
        assert!(svg.contains("Non &lt;dit&gt;"));
        assert!(svg.contains("height=\"88\""), "8 + 3 rows of 24 + 8: {svg}");
        assert!(!svg.contains("style"));
        assert_eq!(svg, bar_chart(&data(), Orientation::Horizontal));
        let months = bar_chart(&data(), Orientation::Vertical);
        assert_eq!(months.matches("<rect").count(), 3);
    }

    #[test]
    fn bars_scale_to_the_largest_and_zero_draws_nothing() {
        assert_eq!(length(30, 30, 300), 300);
        assert_eq!(length(10, 30, 300), 100);
        assert_eq!(length(0, 30, 300), 0);
        assert_eq!(length(1, 1_000_000, 300), 1, "a count never vanishes");
        assert_eq!(length(0, 0, 300), 0);
    }
}
