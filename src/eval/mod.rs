//! Evaluation: eval cases and their assertions, the model providers, the on-disk response
//! cache, prices, the run that renders every case, calls the provider (bounded, retried,
//! budgeted), grades each trial and folds trials into case and surface results, and the
//! one way a side (or a revision's surfaces) is made ready to run.

pub mod assert;
pub mod cache;
pub mod case_diff;
pub mod cases;
pub mod command;
pub mod price;
pub mod providers;
pub mod revision;
pub mod run;
pub mod side;
pub mod suite;
