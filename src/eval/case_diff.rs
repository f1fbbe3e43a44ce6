//! A surface's eval cases compared between two revisions, case by case and by id: cases
//! added, removed and edited (vars, assertions, difficulty, weight, tags), and for each the
//! edits that loosen the suite — a removed case or assertion, or an assertion weakened.
//! The gate treats those as loosening its own bar (tier `exec`); `diff` lists them all.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::assert::Assertion;
use super::cases::Case;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseChangeKind {
    Added,
    Removed,
    Edited,
}

/// One case that differs between the two revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseChange {
    pub id: String,
    pub change: CaseChangeKind,
    /// What changed, one phrase each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The edits that let more outputs pass, each a phrase about this case (empty when
    /// the change is not a loosening).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loosenings: Vec<String>,
}

impl CaseChange {
    pub fn loosens(&self) -> bool {
        !self.loosenings.is_empty()
    }

    /// The change in one line, e.g. "case `c3` edited: `contains` expects less: …".
    pub fn summary(&self) -> String {
        let verb = match self.change {
            CaseChangeKind::Added => "added",
            CaseChangeKind::Removed => "removed",
            CaseChangeKind::Edited => "edited",
        };
        let details = if self.details.is_empty() {
            String::new()
        } else {
            format!(": {}", self.details.join("; "))
        };
        format!("case `{}` {verb}{details}", self.id)
    }
}

/// Every case that differs, in the new file's order, then the removed ones in the old
/// file's order.
pub fn compare(old: &[Case], new: &[Case]) -> Vec<CaseChange> {
    let old_by_id: HashMap<&str, &Case> = old.iter().map(|c| (c.id.as_str(), c)).collect();
    let new_ids: std::collections::HashSet<&str> = new.iter().map(|c| c.id.as_str()).collect();
    let mut changes = Vec::new();
    for case in new {
        match old_by_id.get(case.id.as_str()) {
            None => changes.push(CaseChange {
                id: case.id.clone(),
                change: CaseChangeKind::Added,
                details: Vec::new(),
                loosenings: Vec::new(),
            }),
            Some(before) => {
                let (details, loosenings) = edits(before, case);
                if !details.is_empty() {
                    changes.push(CaseChange {
                        id: case.id.clone(),
                        change: CaseChangeKind::Edited,
                        details,
                        loosenings,
                    });
                }
            }
        }
    }
    for case in old.iter().filter(|c| !new_ids.contains(c.id.as_str())) {
        changes.push(CaseChange {
            id: case.id.clone(),
            change: CaseChangeKind::Removed,
            details: Vec::new(),
            loosenings: vec!["the case is removed".into()],
        });
    }
    changes
}

/// What differs between two versions of a case, and which of those differences loosen it.
fn edits(old: &Case, new: &Case) -> (Vec<String>, Vec<String>) {
    let mut details = Vec::new();
    let mut loosenings = Vec::new();
    let mut vars: Vec<&str> = old
        .vars
        .iter()
        .filter(|(k, v)| new.vars.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .chain(
            new.vars
                .keys()
                .filter(|k| !old.vars.contains_key(*k))
                .map(String::as_str),
        )
        .collect();
    vars.sort_unstable();
    if !vars.is_empty() {
        details.push(format!("vars `{}` changed", vars.join("`, `")));
    }
    if old.difficulty != new.difficulty {
        details.push(format!(
            "difficulty {} → {}",
            shown(old.difficulty),
            shown(new.difficulty)
        ));
    }
    if old.weight != new.weight {
        details.push(format!(
            "weight {} → {}",
            shown(old.weight),
            shown(new.weight)
        ));
        if new.weight.unwrap_or(1.0) < old.weight.unwrap_or(1.0) {
            loosenings.push("the case weighs less".into());
        }
    }
    if old.tags != new.tags {
        details.push("tags changed".into());
    }
    let (assertion_details, assertion_loosenings) =
        assertion_edits(&old.assertions, &new.assertions);
    details.extend(assertion_details);
    loosenings.extend(assertion_loosenings);
    (details, loosenings)
}

/// Pairs the old assertions with the new: identical ones first, then the rest of the same
/// type in order; what is left is removed (a loosening) or added.
fn assertion_edits(old: &[Assertion], new: &[Assertion]) -> (Vec<String>, Vec<String>) {
    let mut details = Vec::new();
    let mut loosenings = Vec::new();
    let mut unmatched_new: Vec<Option<&Assertion>> = new.iter().map(Some).collect();
    let mut unmatched_old = Vec::new();
    for a in old {
        match unmatched_new
            .iter_mut()
            .find(|n| n.is_some_and(|n| n.same_as(a)))
        {
            Some(slot) => *slot = None,
            None => unmatched_old.push(a),
        }
    }
    for a in unmatched_old {
        let same_type = unmatched_new
            .iter_mut()
            .find(|n| n.is_some_and(|n| n.kind == a.kind && n.negate == a.negate));
        match same_type {
            Some(slot) => {
                let Some(b) = slot.take() else { continue };
                details.push(format!("{} → {}", a.describe(), b.describe()));
                loosenings.extend(a.weakened_by(b));
            }
            None => {
                details.push(format!("assertion {} removed", a.describe()));
                loosenings.push(format!("assertion {} is removed", a.describe()));
            }
        }
    }
    for b in unmatched_new.into_iter().flatten() {
        details.push(format!("assertion {} added", b.describe()));
    }
    (details, loosenings)
}

fn shown(value: Option<f64>) -> String {
    value.map_or("none".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(text: &str) -> Vec<Case> {
        crate::eval::cases::parse("c.jsonl", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn added_removed_and_edited_cases_with_their_loosenings() {
        let old = cases(concat!(
            r#"{"id": "a", "vars": {"q": "1"}, "assert": [{"type": "contains", "value": "30 days"}, {"type": "not-icontains", "value": "SSN"}]}"#,
            "\n",
            r#"{"id": "b", "vars": {"q": "2"}, "assert": [{"type": "contains", "value": "x"}]}"#,
            "\n",
            r#"{"id": "c", "vars": {"q": "3"}, "assert": [{"type": "contains", "value": "same"}]}"#,
            "\n",
        ));
        let new = cases(concat!(
            r#"{"id": "a", "vars": {"q": "1"}, "assert": [{"type": "contains", "value": "days"}]}"#,
            "\n",
            r#"{"id": "c", "vars": {"q": "three"}, "assert": [{"type": "contains", "value": "same"}]}"#,
            "\n",
            r#"{"id": "d", "vars": {"q": "4"}, "assert": [{"type": "contains", "value": "y"}]}"#,
            "\n",
        ));
        let changes = compare(&old, &new);
        let summary: Vec<(&str, CaseChangeKind, bool)> = changes
            .iter()
            .map(|c| (c.id.as_str(), c.change, c.loosens()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a", CaseChangeKind::Edited, true),
                ("c", CaseChangeKind::Edited, false),
                ("d", CaseChangeKind::Added, false),
                ("b", CaseChangeKind::Removed, true),
            ]
        );
        let a = changes[0].loosenings.join("\n");
        assert!(a.contains("expects less"), "{a}");
        assert!(a.contains("`not-icontains` \"SSN\" is removed"), "{a}");
        assert_eq!(changes[1].details, vec!["vars `q` changed".to_string()]);
        assert!(compare(&old, &old).is_empty());
    }
}
