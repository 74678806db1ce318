//! Bar charts as inline SVG, drawn with plotters (no fonts or files needed: SVG text).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// The report's one colour, readable in print.
const BAR: RGBColor = RGBColor(0x1f, 0x4e, 0x79);

/// How the bars stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Categories down the side, for long French labels.
    Horizontal,
    /// Categories along the bottom, for months.
    Vertical,
}

fn label_at(labels: &[String], value: &SegmentValue<u32>) -> String {
    match value {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            labels.get(*i as usize).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    }
}

/// Size of the axis labels, fixed so that small charts stay readable.
const LABEL_SIZE: u32 = 13;

/// An SVG bar chart of `(label, count)` pairs; the page gives it its title.
pub fn bar_chart(data: &[(String, i64)], orientation: Orientation) -> Result<String, String> {
    // Horizontal charts count segments from the bottom: reverse them so they read top-down.
    let ordered: Vec<(String, i64)> = match orientation {
        Orientation::Horizontal => data.iter().rev().cloned().collect(),
        Orientation::Vertical => data.to_vec(),
    };
    let data = ordered.as_slice();
    let labels: Vec<String> = data.iter().map(|(label, _)| label.clone()).collect();
    let counts: Vec<u32> = data
        .iter()
        .map(|(_, n)| u32::try_from(*n).unwrap_or(u32::MAX))
        .collect();
    let n = u32::try_from(data.len().max(1)).unwrap_or(u32::MAX);
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let top = top + top / 10 + 1;
    let height = match orientation {
        Orientation::Horizontal => 50 + 26 * n.max(4),
        Orientation::Vertical => 300,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(10);
        match orientation {
            Orientation::Horizontal => {
                let mut chart = builder
                    .x_label_area_size(30)
                    .y_label_area_size(300)
                    .build_cartesian_2d(0u32..top, (0u32..n).into_segmented())
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(n as usize)
                    .y_label_formatter(&|v| label_at(&labels, v))
                    .label_style(("sans-serif", LABEL_SIZE))
                    .draw()
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(
                        Histogram::horizontal(&chart)
                            .style(BAR.filled())
                            .margin(4)
                            .data(
                                counts
                                    .iter()
                                    .enumerate()
                                    .map(|(i, c)| (u32::try_from(i).unwrap_or(0), *c)),
                            ),
                    )
                    .map_err(|e| e.to_string())?;
            }
            Orientation::Vertical => {
                let mut chart = builder
                    .x_label_area_size(40)
                    .y_label_area_size(50)
                    .build_cartesian_2d((0u32..n).into_segmented(), 0u32..top)
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .x_labels(n as usize)
                    .x_label_formatter(&|v| label_at(&labels, v))
                    .label_style(("sans-serif", LABEL_SIZE))
                    .draw()
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(
                        Histogram::vertical(&chart)
                            .style(BAR.filled())
                            .margin(4)
                            .data(
                                counts
                                    .iter()
                                    .enumerate()
                                    .map(|(i, c)| (u32::try_from(i).unwrap_or(0), *c)),
                            ),
                    )
                    .map_err(|e| e.to_string())?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
