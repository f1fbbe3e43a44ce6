//! How an edited assertion compares with the one it replaces: whether the edit evidently
//! lets outputs pass that the old one failed (a weakening, which the gate counts as
//! loosening its own bar), said in words. Edits whose effect cannot be ordered (another
//! expected text of the same length, another rubric or schema) are changes, not weakenings.

use super::{Assertion, Check, WordRange};

impl Assertion {
    /// Every way `new`, an edit of `self` of the same type, accepts more than `self` did.
    /// Negation flips each direction (`not-contains` made longer is weaker).
    pub fn weakened_by(&self, new: &Assertion) -> Vec<String> {
        let mut found = Vec::new();
        if new.kind != self.kind || new.negate != self.negate {
            found.push(format!(
                "`{}` is replaced by `{}`",
                self.type_name(),
                new.type_name()
            ));
            return found;
        }
        if new.weight < self.weight {
            found.push(format!(
                "`{}` weighs less ({} → {})",
                self.type_name(),
                self.weight,
                new.weight
            ));
        }
        // `looser` is written for the plain type; a negated one accepts the opposite.
        let flip = |looser: bool| looser != self.negate;
        let name = self.type_name();
        match (&self.check, &new.check) {
            (Check::Contains { needle: a, .. }, Check::Contains { needle: b, .. })
            | (Check::StartsWith(a), Check::StartsWith(b))
                if flip(b.chars().count() < a.chars().count()) && a != b =>
            {
                found.push(format!("`{name}` expects less: {a:?} → {b:?}"));
            }
            (Check::Matches(a), Check::Matches(b))
                if flip(b.as_str().len() < a.as_str().len()) && a.as_str() != b.as_str() =>
            {
                found.push(format!(
                    "`{name}` pattern shortens: {:?} → {:?}",
                    a.as_str(),
                    b.as_str()
                ));
            }
            (Check::ContainsAll { needles: a, .. }, Check::ContainsAll { needles: b, .. }) => {
                // All of them must appear: fewer is looser (for `not-`, more is).
                let (from, to) = if self.negate { (b, a) } else { (a, b) };
                let dropped: Vec<&String> = from.iter().filter(|n| !to.contains(n)).collect();
                if !dropped.is_empty() {
                    found.push(format!(
                        "`{name}` {} {dropped:?}",
                        if self.negate {
                            "adds"
                        } else {
                            "no longer requires"
                        }
                    ));
                }
            }
            (Check::ContainsAny { needles: a, .. }, Check::ContainsAny { needles: b, .. }) => {
                // One of them is enough: more is looser (for `not-`, fewer is).
                let (from, to) = if self.negate { (b, a) } else { (a, b) };
                let added: Vec<&String> = to.iter().filter(|n| !from.contains(n)).collect();
                if !added.is_empty() {
                    found.push(format!(
                        "`{name}` {} {added:?}",
                        if self.negate {
                            "no longer rejects"
                        } else {
                            "also accepts"
                        }
                    ));
                }
            }
            (Check::WordCount(a), Check::WordCount(b)) if flip(wider(*a, *b)) => {
                found.push(format!(
                    "`{name}` range widens: {} → {}",
                    range(*a),
                    range(*b)
                ));
            }
            (
                Check::Levenshtein {
                    max_distance: a, ..
                },
                Check::Levenshtein {
                    max_distance: b, ..
                },
            )
            | (Check::Latency { max_ms: a }, Check::Latency { max_ms: b })
            | (Check::Cost { max_usd: a }, Check::Cost { max_usd: b })
                if flip(b > a) && a != b =>
            {
                found.push(format!("`{name}` threshold moves from {a} to {b}"));
            }
            (Check::Rubric { min_score: a, .. }, Check::Rubric { min_score: b, .. })
            | (Check::Exec { min_score: a, .. }, Check::Exec { min_score: b, .. }) => {
                // No minimum: the grader's own pass decides, which is the loosest reading.
                let (a, b) = (a.unwrap_or(0.0), b.unwrap_or(0.0));
                if flip(b < a) && a != b {
                    found.push(format!("`{name}` minimum score moves from {a} to {b}"));
                }
            }
            _ => {}
        }
        found
    }

    /// Whether two assertions are written alike (the same type, value, weight, threshold
    /// and metric).
    pub fn same_as(&self, other: &Assertion) -> bool {
        self.kind == other.kind
            && self.negate == other.negate
            && self.value == other.value
            && self.weight == other.weight
            && self.threshold == other.threshold
            && self.metric == other.metric
    }

    /// A short description: the type and its value, for listing suite changes.
    pub fn describe(&self) -> String {
        match &self.value {
            Some(value) => {
                let text = value.to_string();
                let cut: String = text.chars().take(60).collect();
                let more = if cut.len() < text.len() { "…" } else { "" };
                format!("`{}` {cut}{more}", self.type_name())
            }
            None => format!("`{}`", self.type_name()),
        }
    }
}

/// Whether `new` admits a word count `old` rejected.
fn wider(old: WordRange, new: WordRange) -> bool {
    let lower = match (old.min, new.min) {
        (Some(a), Some(b)) => b < a,
        (Some(_), None) => true,
        _ => false,
    };
    let upper = match (old.max, new.max) {
        (Some(a), Some(b)) => b > a,
        (Some(_), None) => true,
        _ => false,
    };
    lower || upper
}

fn range(r: WordRange) -> String {
    let bound = |b: Option<u64>| b.map_or("any".to_string(), |b| b.to_string());
    format!("{}..{}", bound(r.min), bound(r.max))
}

#[cfg(test)]
mod tests {
    use super::super::Assertion;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Assertion {
        Assertion::parse(&value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn weakened(old: serde_json::Value, new: serde_json::Value) -> Vec<String> {
        parse(old).weakened_by(&parse(new))
    }

    #[test]
    fn weakenings_are_named_and_strengthenings_are_not() {
        let weaker = [
            (
                json!({"type": "contains", "value": "30 days"}),
                json!({"type": "contains", "value": "days"}),
            ),
            (
                json!({"type": "not-contains", "value": "SSN"}),
                json!({"type": "not-contains", "value": "SSN number"}),
            ),
            (
                json!({"type": "contains-all", "value": ["a", "b"]}),
                json!({"type": "contains-all", "value": ["a"]}),
            ),
            (
                json!({"type": "contains-any", "value": ["a"]}),
                json!({"type": "contains-any", "value": ["a", "b"]}),
            ),
            (
                json!({"type": "levenshtein", "value": "x", "threshold": 2}),
                json!({"type": "levenshtein", "value": "x", "threshold": 9}),
            ),
            (
                json!({"type": "llm-rubric", "value": "polite", "threshold": 0.8}),
                json!({"type": "llm-rubric", "value": "polite", "threshold": 0.5}),
            ),
            (
                json!({"type": "word-count", "value": {"min": 2, "max": 5}}),
                json!({"type": "word-count", "value": {"min": 2}}),
            ),
            (
                json!({"type": "contains", "value": "x", "weight": 2}),
                json!({"type": "contains", "value": "x", "weight": 1}),
            ),
            (
                json!({"type": "contains", "value": "x"}),
                json!({"type": "not-contains", "value": "x"}),
            ),
        ];
        for (old, new) in weaker {
            assert!(
                !weakened(old.clone(), new.clone()).is_empty(),
                "{old} → {new}"
            );
            // The reverse edit is never a weakening, except a type swap (both ways).
            if old["type"] == new["type"] {
                assert!(
                    weakened(new.clone(), old.clone()).is_empty(),
                    "{new} → {old}"
                );
            }
        }
        // Another expectation of the same length is a change, not a weakening.
        assert!(weakened(
            json!({"type": "contains", "value": "30 days"}),
            json!({"type": "contains", "value": "14 days"})
        )
        .is_empty());
    }
}
