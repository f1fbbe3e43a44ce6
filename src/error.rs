//! The errors a command can end with, each mapped to exactly one exit code of the spec's
//! table: invalid user files (5), git, GitHub and I/O failures (4), and usage mistakes (2).

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;
use crate::exit;
use crate::git::GitError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The invocation itself is wrong (a flag combination, a missing argument).
    #[error("{message}")]
    Usage { message: String },

    /// Configuration, prompt or case files are invalid; each diagnostic says where.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),

    #[error(transparent)]
    Git(#[from] GitError),

    /// A GitHub API or Actions failure (`github::GithubError`, converted where it is raised:
    /// this module depends on no feature module).
    #[error(transparent)]
    GitHub(Box<dyn std::error::Error + Send + Sync>),

    /// The ledger (`refs/notes/promptgate`) could not be read or written (`ledger::LedgerError`,
    /// converted where it is raised).
    #[error(transparent)]
    Ledger(Box<dyn std::error::Error + Send + Sync>),

    /// A commit the pull request names is not in the local clone.
    #[error("{what} is not in this clone\n  help: run `{fetch}`{shallow}")]
    MissingCommit {
        what: String,
        fetch: String,
        /// Extra advice for a shallow clone.
        shallow: String,
    },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }

    pub fn invalid(diagnostic: Diagnostic) -> Self {
        Error::Invalid(vec![diagnostic])
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::Invalid(_) => exit::INVALID,
            Error::Git(_)
            | Error::GitHub(_)
            | Error::Ledger(_)
            | Error::MissingCommit { .. }
            | Error::Io { .. } => exit::ERROR,
        }
    }
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
