//! SVG line charts for the review: one value per x slot (an ISO week), several named lines
//! that break where a value is missing, and an optional shaded interval band, drawn with
//! `plotters`' SVG backend. Text is written as SVG `<text>` and measured by plotters' built-in
//! estimate, so no font is read and the same chart always gives the same bytes. Every input
//! draws: missing, non-finite and absurd values are gaps, and a range that holds nothing is
//! widened.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

/// The drawing's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 360;
/// Values further from zero than this are gaps: no metric the review charts gets there, and
/// a range that wide cannot be ticked.
const MAX_ABS: f64 = 1e12;
/// A y range narrower than this is widened around its centre.
const MIN_SPAN: f64 = 1e-9;
/// Label and legend text is cut to this many characters.
const MAX_TEXT: usize = 40;
const TITLE_SIZE: u32 = 20;
const LABEL_SIZE: u32 = 13;
const LEFT_AREA: u32 = 64;
const BOTTOM_AREA: u32 = 40;
const MARGIN: u32 = 16;
/// Tableau 10: distinct lines, readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One chart: a value per x label for each line, on a y range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    pub title: String,
    /// One per x slot, e.g. `2026-W49`.
    pub x_labels: Vec<String>,
    pub y_label: String,
    /// The y axis shown; widened to hold every value and band drawn.
    pub y_range: (f64, f64),
    pub lines: Vec<Line>,
    /// An interval per x slot (e.g. the headline's confidence interval), shaded behind the
    /// lines; `None` or a short vector leaves slots unshaded.
    pub band: Vec<Option<(f64, f64)>>,
}

/// A named line: a value per x slot, `None` for a gap (the line breaks there).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<Option<f64>>,
}

/// The chart could not be drawn.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot draw the SVG chart `{title}`: {problem}\n  help: this is a bug in promptgate; please report it with the review's `--format json` output")]
pub struct ChartError {
    pub title: String,
    pub problem: String,
}

/// The chart as a standalone SVG document.
pub fn svg(chart: &Chart) -> Result<String, ChartError> {
    let mut out = String::new();
    draw(chart, &mut out).map_err(|problem| ChartError {
        title: clean(&chart.title),
        problem,
    })?;
    Ok(out)
}

fn draw(chart: &Chart, out: &mut String) -> Result<(), String> {
    let slots = slot_count(chart);
    let lines: Vec<Vec<Option<f64>>> = chart
        .lines
        .iter()
        .map(|line| line.points.iter().map(|v| usable(*v)).collect())
        .collect();
    let band: Vec<Option<(f64, f64)>> = chart.band.iter().map(|b| usable_pair(*b)).collect();
    let (low, high) = y_bounds(chart.y_range, &lines, &band);
    let y_ticks = ticks(low, high);
    let decimals = decimals_for(&y_ticks);
    let labels: Vec<String> = chart.x_labels.iter().map(|l| clean(l)).collect();
    let x_keys = x_keys(slots, &labels);

    let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_end = slots.max(1) as f64 - 0.5;
    let mut context = ChartBuilder::on(&root)
        .caption(clean(&chart.title), ("sans-serif", TITLE_SIZE))
        .margin(MARGIN)
        .x_label_area_size(BOTTOM_AREA)
        .y_label_area_size(LEFT_AREA)
        .build_cartesian_2d(
            Axis {
                range: -0.5..x_end,
                keys: x_keys,
            },
            Axis {
                range: low..high,
                keys: y_ticks,
            },
        )
        .map_err(|e| e.to_string())?;
    let label_at = |x: &f64| {
        let index = x.round();
        if index < 0.0 {
            return String::new();
        }
        labels.get(index as usize).cloned().unwrap_or_default()
    };
    let y_text = |y: &f64| format!("{:.*}", decimals, y + 0.0);
    context
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label_at)
        .y_label_formatter(&y_text)
        .y_desc(clean(&chart.y_label))
        .label_style(("sans-serif", LABEL_SIZE))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| e.to_string())?;

    draw_band(&mut context, &band)?;
    let mut labelled = false;
    for (index, (line, values)) in chart.lines.iter().zip(&lines).enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let name = clean(&line.name);
        let mut first = true;
        for run in runs(values) {
            let annotation = if run.len() >= 2 {
                context.draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))
            } else {
                context.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            }
            .map_err(|e| e.to_string())?;
            if first && !name.is_empty() {
                annotation.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
                labelled = true;
            }
            first = false;
            context
                .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        if first && !name.is_empty() {
            // A line with no value at all still names itself in the legend.
            context
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            labelled = true;
        }
    }
    if labelled {
        context
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

type Context<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<Axis, Axis>>;

/// A linear axis whose ticks are given: plotters' own tick search is never run, so no range
/// can make it loop or assert.
#[derive(Clone)]
struct Axis {
    range: Range<f64>,
    keys: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let share = (value - self.range.start) / span;
        if !share.is_finite() {
            return limit.0;
        }
        let pixels = f64::from(limit.1) - f64::from(limit.0);
        // `as` saturates: a point far off the axis lands on the drawing's edge.
        limit
            .0
            .saturating_add((pixels * share + 1e-3).floor() as i32)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The band: a shaded polygon per unbroken run of intervals, a bar where a run is one slot.
fn draw_band(context: &mut Context<'_>, band: &[Option<(f64, f64)>]) -> Result<(), String> {
    for run in runs(band) {
        if let [(x, (low, high))] = run[..] {
            context
                .draw_series(std::iter::once(PathElement::new(
                    [(x, low), (x, high)],
                    PALETTE[0].mix(0.35).stroke_width(6),
                )))
                .map_err(|e| e.to_string())?;
            continue;
        }
        let outline: Vec<(f64, f64)> = run
            .iter()
            .map(|&(x, (_, high))| (x, high))
            .chain(run.iter().rev().map(|&(x, (low, _))| (x, low)))
            .collect();
        context
            .draw_series(std::iter::once(Polygon::new(
                outline,
                PALETTE[0].mix(0.15).filled(),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// How many x slots the chart has: the most of labels, points and band entries.
fn slot_count(chart: &Chart) -> usize {
    chart
        .lines
        .iter()
        .map(|l| l.points.len())
        .chain([chart.x_labels.len(), chart.band.len()])
        .max()
        .unwrap_or(0)
}

/// A value that can be drawn: finite and within `MAX_ABS`.
fn usable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite() && v.abs() <= MAX_ABS)
}

/// An interval that can be drawn, low end first.
fn usable_pair(pair: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let (a, b) = pair?;
    let (a, b) = (usable(Some(a))?, usable(Some(b))?);
    Some((a.min(b), a.max(b)))
}

/// The unbroken runs of a series, as (slot, value) pairs.
fn runs<T: Copy>(values: &[Option<T>]) -> Vec<Vec<(f64, T)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (x, value) in values.iter().enumerate() {
        match value {
            Some(y) => current.push((x as f64, *y)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// The y axis: the requested range (when usable) widened to every value and band, and never
/// narrower than `MIN_SPAN`.
fn y_bounds(
    requested: (f64, f64),
    lines: &[Vec<Option<f64>>],
    band: &[Option<(f64, f64)>],
) -> (f64, f64) {
    let requested = usable_pair(Some(requested));
    let values = lines
        .iter()
        .flatten()
        .flatten()
        .copied()
        .chain(band.iter().flatten().flat_map(|&(a, b)| [a, b]))
        .chain(requested.into_iter().flat_map(|(a, b)| [a, b]));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !(low.is_finite() && high.is_finite()) {
        return (0.0, 1.0);
    }
    if high - low >= MIN_SPAN {
        return (low, high);
    }
    let centre = (low + high) / 2.0;
    let half = (centre.abs() * 0.1).max(0.5);
    (centre - half, centre + half)
}

/// About five round tick values between `low` and `high`.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let raw = (high - low) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil();
    (0..=12)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|t| *t <= high + step * 1e-9)
        .collect()
}

/// Enough decimals to tell the ticks apart.
fn decimals_for(ticks: &[f64]) -> usize {
    match ticks {
        [a, b, ..] => {
            let digits = -(b - a).abs().log10().floor();
            if digits.is_finite() && digits > 0.0 {
                (digits as usize).min(9)
            } else {
                0
            }
        }
        _ => 2,
    }
}

/// The slots that get an x label: every one when they fit, else every n-th.
fn x_keys(slots: usize, labels: &[String]) -> Vec<f64> {
    if slots == 0 {
        return Vec::new();
    }
    let longest = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    // About 0.6 em per character at the SVG's font size, plus a small gap.
    let label_px = (longest as f64 * f64::from(LABEL_SIZE) / 1.24 * 0.6 + 6.0).max(1.0);
    let plot_px = f64::from(WIDTH - LEFT_AREA - 2 * MARGIN);
    let fit = ((plot_px / label_px).floor() as usize).max(1);
    let stride = slots.div_ceil(fit).max(1);
    (0..slots).step_by(stride).map(|x| x as f64).collect()
}

/// Text fit for one SVG line: control characters as spaces, cut to `MAX_TEXT` characters.
fn clean(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= MAX_TEXT {
        return flat.to_string();
    }
    let mut cut: String = flat.chars().take(MAX_TEXT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weeks(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("2026-W{:02}", 38 + i)).collect()
    }

    fn pass_rate(points: Vec<Option<f64>>) -> Chart {
        Chart {
            title: "support: pass_rate".into(),
            x_labels: weeks(points.len()),
            y_label: "pass rate".into(),
            y_range: (0.0, 1.0),
            band: points
                .iter()
                .map(|p| p.map(|v| (v - 0.05, (v + 0.05).min(1.0))))
                .collect(),
            lines: vec![Line {
                name: "headline".into(),
                points,
            }],
        }
    }

    /// The `<polyline>`s stroked in `color` (a line's runs; the mesh is grey).
    fn polylines(svg: &str, color: RGBColor) -> Vec<&str> {
        let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        svg.lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&stroke))
            .collect()
    }

    #[test]
    fn a_gap_breaks_the_line_and_labels_are_text() {
        let mut points: Vec<Option<f64>> =
            (0..12).map(|i| Some(0.8 + f64::from(i) * 0.01)).collect();
        points[4] = None;
        points[5] = None;
        let mut chart = pass_rate(points);
        chart.lines.push(Line {
            name: "tail".into(),
            points: vec![Some(0.5), None, Some(0.6), Some(0.62)],
        });
        let svg = svg(&chart).unwrap();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            polylines(&svg, PALETTE[0]).len(),
            2 + 1,
            "two runs and a legend swatch"
        );
        // The tail's first run is one point: a marker, no polyline.
        assert_eq!(polylines(&svg, PALETTE[1]).len(), 1 + 1);
        let first_run = polylines(&svg, PALETTE[0])[0];
        assert_eq!(first_run.matches(',').count(), 4, "{first_run}");
        assert_eq!(svg.matches("<polygon").count(), 2, "one band per run");
        for text in [
            "support: pass_rate",
            "pass rate",
            "2026-W38",
            "2026-W49",
            "headline",
            "tail",
        ] {
            assert!(
                svg.contains(&format!("{text}\n</text>")),
                "{text} missing: {svg}"
            );
        }
    }

    #[test]
    fn the_same_chart_gives_the_same_bytes() {
        let chart = pass_rate(
            (0..12)
                .map(|i| Some(0.7 + f64::from(i % 5) * 0.05))
                .collect(),
        );
        let first = svg(&chart).unwrap();
        assert_eq!(first, svg(&chart.clone()).unwrap());
        assert!(!first.contains("NaN") && !first.contains("inf"));
    }

    #[test]
    fn degenerate_charts_still_draw() {
        let nan = f64::NAN;
        let cases = [
            Chart::default(),
            pass_rate(vec![]),
            pass_rate(vec![None, None, None]),
            pass_rate(vec![Some(0.9)]),
            pass_rate(vec![Some(nan), Some(f64::INFINITY), Some(-f64::INFINITY)]),
            pass_rate(vec![Some(1e300), Some(-1e300), Some(5e-324), Some(0.0)]),
            Chart {
                title: "<script>\u{1}&".into(),
                x_labels: vec!["x".repeat(500); 3000],
                y_range: (nan, nan),
                band: vec![Some((nan, 1.0)), Some((3.0, -3.0))],
                lines: vec![Line {
                    name: String::new(),
                    points: vec![Some(7.0); 3000],
                }],
                ..Chart::default()
            },
            Chart {
                y_range: (2.0, 2.0),
                lines: vec![Line {
                    name: "flat".into(),
                    points: vec![Some(2.0), Some(2.0)],
                }],
                ..Chart::default()
            },
        ];
        for chart in cases {
            let svg = svg(&chart).unwrap();
            assert!(svg.trim_end().ends_with("</svg>"));
            assert!(!svg.contains("NaN") && !svg.contains("<script>") && !svg.contains('\u{1}'));
        }
    }

    #[test]
    fn ticks_are_round_and_axes_widen() {
        assert_eq!(
            ticks(0.0, 1.0),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(decimals_for(&ticks(0.0, 1.0)), 1);
        assert_eq!(decimals_for(&ticks(0.0, 2000.0)), 0);
        assert_eq!(y_bounds((0.0, 1.0), &[vec![Some(1.2)]], &[]), (0.0, 1.2));
        assert_eq!(y_bounds((f64::NAN, 1.0), &[], &[]), (0.0, 1.0));
        assert_eq!(y_bounds((2.0, 2.0), &[], &[]), (1.5, 2.5));
        assert_eq!(x_keys(12, &weeks(12)).len(), 12);
        assert!(x_keys(52, &weeks(52)).len() < 52);
        assert_eq!(clean("a\nb"), "a b");
    }
}
