//! promptgate: the merge gate for LLM prompts. The modules follow the data's path:
//! config → git change set → prompts → eval → gate → report → github, with `check` (the
//! gate as one library call), the hooks and the drills on them and the CLI on top.

pub mod changeset;
pub mod check;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod drill;
pub mod error;
pub mod eval;
pub mod exit;
pub mod gate;
pub mod git;
pub mod github;
pub mod hook;
pub mod init;
pub mod ledger;
pub mod prompts;
pub mod report;
pub mod secrets;
pub mod util;
pub mod validate;
