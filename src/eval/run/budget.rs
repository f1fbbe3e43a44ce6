//! The run's cost budget: each billed call reserves a cautious estimate of its cost before
//! it is made and settles the actual cost when it lands, so calls in flight count against
//! `max_cost_usd`; a call whose cost cannot be priced leaves the run's spend unknown.

use std::sync::Mutex;

use crate::config::Price;
use crate::eval::price;
use crate::eval::providers::Request;

/// Money spent and reserved against the limit, shared by all calls of a run.
pub(super) struct Budget(Mutex<Ledger>);

struct Ledger {
    limit: Option<f64>,
    spent: f64,
    /// Estimated cost of calls in flight.
    reserved: f64,
    /// Whether some call's cost could not be priced.
    unpriced: bool,
    /// The largest output seen, to estimate the next call's.
    largest_output_tokens: u64,
}

impl Budget {
    pub(super) fn new(limit: Option<f64>) -> Self {
        Budget(Mutex::new(Ledger {
            limit,
            spent: 0.0,
            reserved: 0.0,
            unpriced: false,
            largest_output_tokens: 0,
        }))
    }

    /// What the run's calls cost, when every one could be priced.
    pub(super) fn spent(&self) -> Option<f64> {
        let budget = self.0.lock().ok()?;
        (!budget.unpriced).then_some(budget.spent)
    }

    /// Reserves the estimated cost of a call; `Err` says the budget would be exceeded.
    pub(super) fn reserve(&self, estimate: f64) -> Result<(), String> {
        let Ok(mut budget) = self.0.lock() else {
            return Err("budget state poisoned".into());
        };
        if let Some(limit) = budget.limit {
            if budget.spent + budget.reserved + estimate > limit {
                return Err(format!(
                    "not run: the next call would exceed max_cost_usd = {limit} (spent ${:.4}, in flight ${:.4}, this call ~${estimate:.4})",
                    budget.spent, budget.reserved
                ));
            }
        }
        budget.reserved += estimate;
        Ok(())
    }

    /// Releases a call's reservation and books its actual cost (`None`: unknown).
    pub(super) fn settle(&self, estimate: f64, actual: Option<f64>, output_tokens: Option<u64>) {
        if let Ok(mut budget) = self.0.lock() {
            budget.reserved = (budget.reserved - estimate).max(0.0);
            match actual {
                Some(cost) => budget.spent += cost,
                None => budget.unpriced = true,
            }
            budget.largest_output_tokens =
                budget.largest_output_tokens.max(output_tokens.unwrap_or(0));
        }
    }

    pub(super) fn largest_output_tokens(&self) -> u64 {
        self.0.lock().map_or(0, |b| b.largest_output_tokens)
    }
}

/// A cautious estimate of a call's cost: prompt characters / 4 tokens in, and the larger of
/// `max_tokens` and the largest output so far (at least 256) out.
pub(super) fn estimate_cost(request: &Request, price: Price, largest_output: u64) -> f64 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    let input = (chars as u64).div_ceil(4);
    let max_tokens = request
        .params
        .get("max_tokens")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let output = max_tokens.max(largest_output).max(256);
    price::cost(price, input, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_flight_count_against_the_limit_until_settled() {
        let budget = Budget::new(Some(1.0));
        assert!(budget.reserve(0.6).is_ok());
        assert!(budget.reserve(0.6).is_err(), "the reservation counts");
        budget.settle(0.6, Some(0.5), Some(10));
        assert!(budget.reserve(0.4).is_ok());
        assert!(
            budget.reserve(0.2).is_err(),
            "spent and reserved both count"
        );
        assert_eq!(budget.spent(), Some(0.5));
        assert_eq!(budget.largest_output_tokens(), 10);
        budget.settle(0.4, None, None);
        assert_eq!(
            budget.spent(),
            None,
            "an unpriced call leaves the spend unknown"
        );
    }
}
