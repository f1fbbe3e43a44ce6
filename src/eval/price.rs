//! What a call costs: a built-in table of list prices per million tokens for common models
//! (matched by the longest model-name prefix when the rest of the name is only a date or
//! version suffix, so dated snapshots find their family but `o3-pro` is not priced as
//! `o3`), which `[price."<model>"]` tables and a provider's `price` override. Unknown
//! models cost "unknown", never zero.

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

    /// The price of `model`: an exact override, else the longest name in the overrides or
    /// the built-in table that `model` extends by only a snapshot suffix (see
    /// [`is_snapshot_of`]).
    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.overrides.get(model) {
            return Some(*price);
        }
        let from_overrides = self
            .overrides
            .iter()
            .filter(|(name, _)| is_snapshot_of(model, name))
            .max_by_key(|(name, _)| name.len())
            .map(|(name, price)| (name.len(), *price));
        let built_in = BUILT_IN
            .iter()
            .filter(|(name, _, _)| is_snapshot_of(model, name))
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

/// Whether `model` is `family` itself or one of its dated or versioned snapshots: the rest
/// of the name after `family` is empty, `-latest`, a date (`-2024-07-18`, `-20241022`), a
/// three- or four-digit snapshot number (`-0613`, `-001`), or `@` and one of those
/// (`@20240620`, `@latest`). Anything else (`-pro`, `-mini`, `-audio-preview`, `-1-20250805`)
/// is another model, whose price may differ, so it is not priced as the family.
pub fn is_snapshot_of(model: &str, family: &str) -> bool {
    let Some(rest) = model.strip_prefix(family) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(suffix) = rest.strip_prefix('-').or_else(|| rest.strip_prefix('@')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let date = |s: &str| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() == 3
            && [4, 2, 2]
                .iter()
                .zip(&parts)
                .all(|(len, part)| part.len() == *len && digits(part))
    };
    suffix == "latest" || date(suffix) || (digits(suffix) && matches!(suffix.len(), 3 | 4 | 8))
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

    /// A premium variant is not priced as its family; a dated or versioned snapshot is.
    #[test]
    fn only_snapshot_suffixes_extend_a_family() {
        let table = PriceTable::default();
        let cases: &[(&str, Option<f64>)] = &[
            ("o3", Some(2.00)),
            ("o3-2025-04-16", Some(2.00)),
            ("o3-pro", None),
            ("o3-pro-2025-06-10", None),
            ("o3-mini", Some(1.10)),
            ("o3-mini-2025-01-31", Some(1.10)),
            ("o3-deep-research", None),
            ("o1-pro", None),
            ("gpt-5", Some(1.25)),
            ("gpt-5-pro", None),
            ("gpt-5-chat-latest", None),
            ("gpt-5-2025-08-07", Some(1.25)),
            ("gpt-5-mini-2025-08-07", Some(0.25)),
            ("gpt-4o-mini-2024-07-18", Some(0.15)),
            ("gpt-4o-2024-08-06", Some(2.50)),
            ("gpt-4o-latest", Some(2.50)),
            ("gpt-4o-audio-preview", None),
            ("gpt-4o-realtime-preview-2024-12-17", None),
            ("gpt-4o2", None),
            ("gpt-4.1-2025-04-14", Some(2.00)),
            ("gpt-4.1-0613", Some(2.00)),
            ("gpt-4.1-001", Some(2.00)),
            ("gpt-4.1-12", None),
            ("claude-3-5-sonnet-20241022", Some(3.00)),
            ("claude-3-5-sonnet@20240620", Some(3.00)),
            ("claude-3-5-sonnet@latest", Some(3.00)),
            ("claude-3-5-sonnet@", None),
            ("claude-3-5-sonnet-v2@20241022", None),
            ("claude-sonnet-4-20250514", Some(3.00)),
            ("claude-opus-4-1-20250805", None),
            ("claude-opus-4-5", None),
            ("claude-3-haiku-20240307", Some(0.25)),
            ("llama3", None),
        ];
        for (model, input) in cases {
            assert_eq!(
                table.lookup(model).map(|p| p.input_per_mtok),
                *input,
                "{model}"
            );
        }
        let mine = Price {
            input_per_mtok: 20.0,
            output_per_mtok: 80.0,
        };
        let table = PriceTable::new([("o3-pro".to_string(), mine)].into());
        assert_eq!(table.lookup("o3-pro").map(|p| p.input_per_mtok), Some(20.0));
        assert_eq!(
            table.lookup("o3-pro-2025-06-10").map(|p| p.input_per_mtok),
            Some(20.0)
        );
        assert_eq!(table.lookup("o3-pro-high").map(|p| p.input_per_mtok), None);
        assert_eq!(table.lookup("o3").map(|p| p.input_per_mtok), Some(2.0));
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
