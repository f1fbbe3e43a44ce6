//! The review as people read it: text with sparklines for the terminal, Markdown with a
//! Mermaid `xychart-beta` per surface (GitHub renders it in issues, comments and step
//! summaries), the weekly issue's body with a task-list item per regression flag, and SVG
//! charts for `--out`. Weeks without a record are shown as gaps, never filled in.

use std::fmt::Write as _;

use super::narrative::{percent, short, show};
use super::{Flag, Review, SurfaceReview};
use crate::report::escape_controls as plain;
use crate::report::markdown::{code, html};

/// Text for a Markdown paragraph or list item: escaped for HTML, and with its brackets as
/// character references so a commit title, case id or model name from the ledger cannot
/// become a link or an image.
fn prose(text: &str) -> String {
    html(text).replace('[', "&#91;").replace(']', "&#93;")
}

/// The review as JSON (what `--format json` prints and `review.json` holds).
pub fn json(review: &Review) -> String {
    // Plain data: it always serializes.
    serde_json::to_string_pretty(review).unwrap_or_default()
}

/// The marker that finds a week's review issue again.
pub fn marker(week: &str) -> String {
    format!("<!-- promptgate:review {week} -->")
}

/// The weekly issue's title.
pub fn issue_title(review: &Review) -> String {
    format!(
        "Eval review {}",
        review.weeks.last().map_or("", String::as_str)
    )
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per week, scaled between the window's lowest and highest value; `·` for a
/// week without a record.
pub fn sparkline(points: &[Option<f64>]) -> String {
    let known = points.iter().flatten().copied().filter(|v| v.is_finite());
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    points
        .iter()
        .map(|p| match p {
            Some(v) if v.is_finite() => {
                let at = if high > low {
                    ((v - low) / (high - low) * 7.0).round() as usize
                } else {
                    4
                };
                BARS[at.min(7)]
            }
            _ => '·',
        })
        .collect()
}

fn values(surface: &SurfaceReview) -> Vec<Option<f64>> {
    surface
        .headline
        .points
        .iter()
        .map(|p| p.as_ref().map(|p| p.value))
        .collect()
}

fn since(flag: &Flag) -> String {
    match &flag.since {
        Some(s) => match s.pr {
            Some(pr) => format!("since {} (#{pr} {})", short(&s.commit), s.title),
            None => format!("since {} ({})", short(&s.commit), s.title),
        },
        None => "no change to the surface explains it".to_string(),
    }
}

fn trend_words(surface: &SurfaceReview) -> String {
    let t = &surface.trend;
    let metric = &surface.headline.metric;
    match (t.slope_per_week, t.p_value) {
        (Some(slope), Some(p)) => {
            let per_week = if metric == "pass_rate" {
                format!("{:+.1} points/week", slope * 100.0)
            } else {
                format!("{slope:+.3}/week")
            };
            let word = match t.direction {
                super::Direction::Up => "trending up",
                super::Direction::Down => "trending down",
                _ => "no significant trend",
            };
            format!("{word} ({per_week}, p = {p:.3})")
        }
        _ => format!("{} week(s) recorded: too few for a trend", t.points),
    }
}

/// The review for a terminal.
pub fn text(review: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Eval review {} ({} weeks: {} … {})\n",
        review.weeks.last().map_or("", String::as_str),
        review.weeks.len(),
        review.weeks.first().map_or("", String::as_str),
        review.weeks.last().map_or("", String::as_str),
    );
    for s in &review.surfaces {
        let now = s.headline.points.last().and_then(|p| p.as_ref());
        let latest = match now {
            Some(p) => match (p.ci_low, p.ci_high) {
                (Some(low), Some(high)) => format!(
                    "{} [{}–{}]",
                    show(&s.headline.metric, p.value),
                    percent(low),
                    percent(high)
                ),
                _ => show(&s.headline.metric, p.value),
            },
            None => "no record this week".into(),
        };
        let _ = writeln!(
            out,
            "{}  {}  {}  {latest}  {}",
            plain(&s.name),
            s.headline.metric,
            sparkline(&values(s)),
            trend_words(s)
        );
        let tail_now = s.tail.points.last().copied().flatten();
        if s.tail.points.iter().any(Option::is_some) {
            let _ = writeln!(
                out,
                "  tail       {}  {}{}",
                sparkline(&s.tail.points),
                tail_now.map_or("no tail this week".into(), percent),
                if s.tail.stealth {
                    "  STEALTH: the tail fell while the average held"
                } else {
                    ""
                }
            );
        }
        for flag in &s.regressions {
            let _ = writeln!(
                out,
                "  regression {}{}: {}",
                plain(&flag.case),
                if flag.flaky { " (flaky)" } else { "" },
                plain(&since(flag))
            );
        }
        for d in &s.drift {
            let _ = writeln!(
                out,
                "  drift      {} → {}: {} → {} (p = {:.3}) with no change to the surface",
                d.from_week,
                d.to_week,
                percent(d.from),
                percent(d.to),
                d.p_value
            );
        }
        let gaps = gaps(review, s);
        if !gaps.is_empty() {
            let _ = writeln!(out, "  no record  {}", gaps.join(", "));
        }
        out.push('\n');
    }
    numbered(
        &mut out,
        "Incidents",
        review.incidents.iter().map(|i| plain(&i.text).into_owned()),
    );
    numbered(
        &mut out,
        "Suggested experiments",
        review
            .suggested_experiments
            .iter()
            .map(|e| match &e.command {
                Some(command) => format!("{}\n     $ {}", plain(&e.text), plain(command)),
                None => plain(&e.text).into_owned(),
            }),
    );
    let _ = writeln!(out, "Summary\n  {}", plain(&review.summary));
    out
}

fn numbered(out: &mut String, title: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    let _ = writeln!(out, "{title}");
    if items.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (n, item) in items.iter().enumerate() {
        let _ = writeln!(out, "  {}. {item}", n + 1);
    }
    out.push('\n');
}

/// The weeks a surface has no record for.
fn gaps(review: &Review, surface: &SurfaceReview) -> Vec<String> {
    review
        .weeks
        .iter()
        .zip(&surface.headline.points)
        .filter(|(_, p)| p.is_none())
        .map(|(w, _)| w.clone())
        .collect()
}

/// A week label without its year, for chart axes (`W49`).
fn week_label(week: &str) -> &str {
    week.split_once('-').map_or(week, |(_, w)| w)
}

/// The Mermaid chart of a surface: the headline and (when every plotted week has one) the
/// tail, over the weeks with a record.
fn mermaid(review: &Review, s: &SurfaceReview) -> Option<String> {
    let plotted: Vec<usize> = (0..review.weeks.len())
        .filter(|&i| s.headline.points[i].is_some())
        .collect();
    if plotted.is_empty() {
        return None;
    }
    let scale = if s.headline.metric == "pass_rate" {
        100.0
    } else {
        1.0
    };
    let number = |v: f64| format!("{:.1}", v * scale);
    let labels: Vec<String> = plotted
        .iter()
        .map(|&i| format!("\"{}\"", week_label(&review.weeks[i])))
        .collect();
    let line: Vec<String> = plotted
        .iter()
        .filter_map(|&i| s.headline.points[i].as_ref().map(|p| number(p.value)))
        .collect();
    let title = s.name.replace(['"', '\n', '\r'], "'");
    let mut chart = format!(
        "xychart-beta\n    title \"{title}: {}{}\"\n    x-axis [{}]\n",
        s.headline.metric,
        if plotted.len() == 1 {
            ""
        } else {
            " (and tail)"
        },
        labels.join(", ")
    );
    if s.headline.metric == "pass_rate" {
        chart.push_str("    y-axis \"%\" 0 --> 100\n");
    } else {
        let _ = writeln!(
            chart,
            "    y-axis \"{}\"",
            s.headline.metric.replace('"', "'")
        );
    }
    let _ = writeln!(chart, "    line [{}]", line.join(", "));
    let tail: Option<Vec<String>> = plotted
        .iter()
        .map(|&i| s.tail.points[i].map(|v| format!("{:.1}", v * 100.0)))
        .collect();
    match tail {
        Some(tail) if plotted.len() > 1 && s.headline.metric == "pass_rate" => {
            let _ = writeln!(chart, "    line [{}]", tail.join(", "));
        }
        _ => chart = chart.replace(" (and tail)", ""),
    }
    Some(crate::report::markdown::fenced("mermaid", &chart))
}

/// The review as Markdown.
pub fn markdown(review: &Review) -> String {
    let mut out = format!(
        "# {}\n\n{}\n\n",
        issue_title(review),
        prose(&review.summary)
    );
    for s in &review.surfaces {
        let _ = writeln!(out, "## {}\n", prose(&s.name));
        if let Some(chart) = mermaid(review, s) {
            out.push_str(&chart);
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} · tail {}{}\n",
            trend_words(s),
            sparkline(&s.tail.points),
            if s.tail.stealth {
                " · **stealth: the tail fell while the average held**"
            } else {
                ""
            }
        );
        out.push_str("| week | headline | 95% interval | tail | cases | commit | model |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (i, week) in review.weeks.iter().enumerate() {
            match &s.headline.points[i] {
                Some(p) => {
                    let interval = match (p.ci_low, p.ci_high) {
                        (Some(low), Some(high)) => format!("{}–{}", percent(low), percent(high)),
                        _ => "—".into(),
                    };
                    let model = match &p.model_reported {
                        Some(reported) if *reported != p.model => {
                            format!("{} (answers: {})", code(&p.model), code(reported))
                        }
                        _ => code(&p.model),
                    };
                    let _ = writeln!(
                        out,
                        "| {week} | {} | {interval} | {} | {} | {} | {} |",
                        show(&s.headline.metric, p.value),
                        s.tail.points[i].map_or("—".into(), percent),
                        p.cases,
                        code(short(&p.commit)),
                        model.replace('|', "\\|")
                    );
                }
                None => {
                    let _ = writeln!(out, "| {week} | no record | | | | | |");
                }
            }
        }
        out.push('\n');
        if !s.regressions.is_empty() {
            out.push_str("**Regression flags** (passed in the previous record, fail now)\n\n");
            for flag in &s.regressions {
                let _ = writeln!(
                    out,
                    "- {}{}: {}",
                    code(&flag.case),
                    if flag.flaky { " (flaky)" } else { "" },
                    prose(&since(flag))
                );
            }
            out.push('\n');
        }
        for d in &s.drift {
            let _ = writeln!(
                out,
                "**Drift** {} → {}: {} → {} (p = {:.3}) with no change to the surface\n",
                d.from_week,
                d.to_week,
                percent(d.from),
                percent(d.to),
                d.p_value
            );
        }
    }
    out.push_str("## Incidents to investigate\n\n");
    list(&mut out, review.incidents.iter().map(|i| prose(&i.text)));
    out.push_str("## Suggested experiments\n\n");
    list(
        &mut out,
        review
            .suggested_experiments
            .iter()
            .map(|e| match &e.command {
                Some(command) => format!("{} — {}", prose(&e.text), code(command)),
                None => prose(&e.text),
            }),
    );
    out
}

fn list(out: &mut String, items: impl Iterator<Item = String>) {
    let mut any = false;
    for (n, item) in items.enumerate() {
        any = true;
        let _ = writeln!(out, "{}. {item}", n + 1);
    }
    if !any {
        out.push_str("None.\n");
    }
    out.push('\n');
}

/// The weekly issue: the marker, a task-list item per regression flag (each a ticket), then
/// the review.
pub fn issue_body(review: &Review) -> String {
    let week = review.weeks.last().map_or("", String::as_str);
    let mut out = format!("{}\n", marker(week));
    let flags: Vec<(&SurfaceReview, &Flag)> = review
        .surfaces
        .iter()
        .flat_map(|s| s.regressions.iter().map(move |f| (s, f)))
        .collect();
    if !flags.is_empty() {
        out.push_str("## Tickets: cases that flipped from pass to fail this week\n\n");
        for (s, flag) in flags {
            let _ = writeln!(
                out,
                "- [ ] {}: {}{}: {}",
                prose(&s.name),
                code(&flag.case),
                if flag.flaky { " (flaky)" } else { "" },
                prose(&since(flag))
            );
        }
        out.push('\n');
    }
    out.push_str(&markdown(review));
    out
}
/// The SVG chart of a surface's headline (with its interval band) and tail.
pub fn svg(review: &Review, s: &SurfaceReview) -> Result<String, crate::util::chart::ChartError> {
    use crate::util::chart::{Chart, Line};
    let pass_rate = s.headline.metric == "pass_rate";
    let mut lines = vec![Line {
        name: s.headline.metric.clone(),
        points: values(s),
    }];
    if pass_rate && s.tail.points.iter().any(Option::is_some) {
        lines.push(Line {
            name: "tail".into(),
            points: s.tail.points.clone(),
        });
    }
    let band = s
        .headline
        .points
        .iter()
        .map(|p| p.as_ref().and_then(|p| Some((p.ci_low?, p.ci_high?))))
        .collect();
    let known = values(s).into_iter().flatten();
    let y_range = if pass_rate {
        (0.0, 1.0)
    } else {
        let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if low.is_finite() && high > low {
            (low, high)
        } else if low.is_finite() {
            (low - 1.0, low + 1.0)
        } else {
            (0.0, 1.0)
        }
    };
    crate::util::chart::svg(&Chart {
        title: format!("{}: {}", s.name, s.headline.metric),
        x_labels: review
            .weeks
            .iter()
            .map(|w| week_label(w).to_string())
            .collect(),
        y_label: s.headline.metric.clone(),
        y_range,
        lines,
        band,
    })
}
