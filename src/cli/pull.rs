//! `check --post`: what the library's [`check::pull::post`] wrote back to the pull request,
//! and every failure said loudly with its fix.

use crate::check::{self, GithubPull};
use crate::gate::Report;
use crate::github::actions;

/// Writes the verdict comment and the commit status. Every failure is printed with its fix
/// (and, in Actions, as an `::error`); the exit code stays the verdict's.
pub(super) fn post(pull: &GithubPull, report: &Report, markdown: &str, annotate: &dyn Fn(&str)) {
    let posted = check::pull::post(pull, report, markdown);
    for line in &posted.written {
        eprintln!("promptgate: {line}");
    }
    for failure in posted.failures {
        eprintln!("promptgate: {failure}");
        if pull.env.actions {
            annotate(&actions::error(None, "promptgate could not post", &failure));
        }
    }
}
