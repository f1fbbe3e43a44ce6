//! What a call costs: a built-in table of list prices per million tokens for common models
//! (matched by the longest model-name prefix, so dated snapshots find their family), which
//! `[price."<model>"]` tables and a provider's `price` override. Unknown models cost
//! "unknown", never zero.

use std::collections::BTreeMap;

use crate::config::Price;

/// USD per million tokens, (input, output), as listed by the vendors; override in config
/// when your contract differs.
const BUILT_IN: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
];

/// Prices for a run: config overrides first, then the built-in table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    overrides: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(overrides: BTreeMap<String, Price>) -> Self {
        PriceTable { overrides }
    }

    /// The price of `model`: an exact override, else the longest matching prefix in the
    /// overrides or the built-in table.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.overrides.get(model) {
            return Some(*price);
        }
        let from_overrides = self
            .overrides
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(name, price)| (name.len(), *price));
        let built_in = BUILT_IN
            .iter()
            .filter(|(name, _, _)| model.starts_with(name))
            .max_by_key(|(name, _, _)| name.len())
            .map(|(name, input, output)| {
                (
                    name.len(),
                    Price {
                        input_per_mtok: *input,
                        output_per_mtok: *output,
                    },
                )
            });
        match (from_overrides, built_in) {
            (Some(o), Some(b)) => Some(if o.0 >= b.0 { o.1 } else { b.1 }),
            (o, b) => o.or(b).map(|(_, price)| price),
        }
    }
}

/// The cost in USD of a call's tokens at `price`.
pub fn cost(price: Price, input_tokens: u64, output_tokens: u64) -> f64 {
    (input_tokens as f64 * price.input_per_mtok + output_tokens as f64 * price.output_per_mtok)
        / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_overrides_come_first() {
        let table = PriceTable::default();
        assert_eq!(
            table
                .lookup("gpt-4o-mini-2024-07-18")
                .map(|p| p.input_per_mtok),
            Some(0.15)
        );
        assert_eq!(
            table.lookup("gpt-4o-2024-08-06").map(|p| p.input_per_mtok),
            Some(2.50)
        );
        assert_eq!(table.lookup("llama3"), None);
        let mine = Price {
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
        };
        let table = PriceTable::new([("gpt-4o".to_string(), mine)].into());
        assert_eq!(
            table.lookup("gpt-4o-2024").map(|p| p.input_per_mtok),
            Some(1.0)
        );
        assert_eq!(
            table.lookup("gpt-4o-mini").map(|p| p.input_per_mtok),
            Some(0.15)
        );
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let price = Price {
            input_per_mtok: 2.0,
            output_per_mtok: 8.0,
        };
        assert!((cost(price, 1_000_000, 500_000) - 6.0).abs() < 1e-9);
    }
}
