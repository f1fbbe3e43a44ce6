//! The models a surface's answers name (the response's own `model` field, which may be a
//! dated version of the configured alias): counted per answer, so the most named one stands
//! for the surface and a provider switching models mid-run shows as more than one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many answers named each model, e.g. `{"gpt-4o-mini-2024-07-18": 12}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelsReported(BTreeMap<String, u64>);

impl ModelsReported {
    /// Counts `answers` more answers naming `model`.
    pub fn add(&mut self, model: &str, answers: u64) {
        *self.0.entry(model.to_string()).or_default() += answers;
    }

    /// Both sets of answers together.
    pub fn absorb(&mut self, other: &ModelsReported) {
        for (model, answers) in &other.0 {
            self.add(model, *answers);
        }
    }

    /// The model named by the most answers; on a tie the first by name; `None` when no
    /// answer named one.
    pub fn most_named(&self) -> Option<&str> {
        let mut best: Option<(&str, u64)> = None;
        for (model, &answers) in &self.0 {
            // Keys come in name order, so only a strictly larger count replaces the best.
            if best.is_none_or(|(_, most)| answers > most) {
                best = Some((model, answers));
            }
        }
        best.map(|(model, _)| model)
    }

    /// Whether the answers named more than one model.
    pub fn is_mixed(&self) -> bool {
        self.0.len() > 1
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each model with its number of answers, by name.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(answers: &[(&str, u64)]) -> ModelsReported {
        let mut models = ModelsReported::default();
        for (model, n) in answers {
            models.add(model, *n);
        }
        models
    }

    #[test]
    fn the_most_named_model_wins_and_ties_go_to_the_first_by_name() {
        assert_eq!(ModelsReported::default().most_named(), None);
        assert_eq!(counted(&[("b", 1), ("a", 3)]).most_named(), Some("a"));
        assert_eq!(counted(&[("a", 1), ("b", 3)]).most_named(), Some("b"));
        assert_eq!(counted(&[("m-2", 2), ("m-1", 2)]).most_named(), Some("m-1"));
        assert!(!counted(&[("a", 4)]).is_mixed());
        assert!(counted(&[("a", 4), ("b", 1)]).is_mixed());
    }

    #[test]
    fn absorbing_adds_counts_and_serializes_as_a_plain_map() {
        let mut first = counted(&[("a", 2)]);
        first.absorb(&counted(&[("a", 1), ("b", 5)]));
        assert_eq!(first.most_named(), Some("b"));
        let json = serde_json::to_string(&first).expect("json");
        assert_eq!(json, r#"{"a":3,"b":5}"#);
        assert_eq!(
            serde_json::from_str::<ModelsReported>(&json).ok(),
            Some(first)
        );
    }
}
