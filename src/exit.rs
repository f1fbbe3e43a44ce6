//! The process exit codes of every promptgate command, defined once, exactly as the
//! spec's table: CI systems and the git hooks branch on these numbers.

/// `check`: the gate passed. Other commands: success.
pub const PASS: i32 = 0;
/// `check`: a rule failed or a required artifact is missing.
pub const BLOCKED: i32 = 1;
/// Bad flags or arguments (clap uses this code too).
pub const USAGE: i32 = 2;
/// `check`: every rule holds but approvals are missing.
pub const NEEDS_SIGNOFF: i32 = 3;
/// The command could not finish (provider, git, GitHub, I/O); the gate fails closed.
pub const ERROR: i32 = 4;
/// Invalid configuration, prompt or case file.
pub const INVALID: i32 = 5;
