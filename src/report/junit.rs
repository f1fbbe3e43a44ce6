//! `junit.xml`: one test per case and side, for CI systems that read JUnit.

use std::fmt::Write;

use crate::eval::run::{CaseStatus, CaseSummary};

/// Renders the evaluated sides: (surface, side, cases).
pub fn render(sides: &[(String, &'static str, Vec<CaseSummary>)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"promptgate\">\n",
    );
    for (surface, side, cases) in sides {
        let count = |status| cases.iter().filter(|c| c.status == status).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{} ({side})\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            escape(surface),
            cases.len(),
            count(CaseStatus::Fail),
            count(CaseStatus::Error)
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{side}\" name=\"{}\"",
                escape(surface),
                escape(&case.id)
            );
            let message = escape(case.reason.as_deref().unwrap_or(""));
            match case.status {
                CaseStatus::Pass => out.push_str("/>\n"),
                CaseStatus::Fail => {
                    let _ = writeln!(out, "><failure message=\"{message}\"/></testcase>");
                }
                CaseStatus::Error => {
                    let _ = writeln!(out, "><error message=\"{message}\"/></testcase>");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for XML attributes, dropping characters XML 1.0 cannot hold.
fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || *c >= ' ')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\n' => "&#10;".to_string(),
            other => other.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_test_per_case_and_side_escaped() {
        let case = |id: &str, status, reason: Option<&str>| CaseSummary {
            id: id.into(),
            status,
            flaky: false,
            passed_trials: 0,
            trials: 1,
            difficulty: None,
            reason: reason.map(String::from),
            output: None,
            metrics: Default::default(),
        };
        let xml = render(&[(
            "s".into(),
            "head",
            vec![
                case("a", CaseStatus::Pass, None),
                case("b<&>", CaseStatus::Fail, Some("said \"no\"\u{1}")),
            ],
        )]);
        assert!(
            xml.contains("<testsuite name=\"s (head)\" tests=\"2\" failures=\"1\" errors=\"0\">"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"b&lt;&amp;&gt;\"><failure message=\"said &quot;no&quot;\"/>"),
            "{xml}"
        );
    }
}
