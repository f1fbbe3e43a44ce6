//! Evaluation inputs and runs. So far: eval cases, read from JSONL or YAML and checked
//! before any model call.

pub mod cases;
