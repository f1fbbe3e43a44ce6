//! `promptgate diff`: resolves the two sides, reads the config of each, builds the change
//! set and prints it in the chosen format.

use super::Format;
use super::{open_repo, print_warnings, read_config, use_color, Cli, DiffArgs};
use crate::changeset::{self, ChangeSet, Sides};
use crate::error::Result;
use crate::exit;
use crate::git::{GitError, Repo, Snapshot};
use crate::report::{self, terminal::Style};

pub(super) fn run(cli: &Cli, args: &DiffArgs) -> Result<i32> {
    let repo = open_repo()?;
    let set = if args.staged {
        staged(cli, args, &repo)?
    } else {
        between_revisions(cli, args, &repo)?
    };
    print_warnings(&set.warnings);
    let text = match args.format {
        Format::Text => report::terminal::change_set(
            &set,
            Style {
                color: use_color(cli.color),
            },
        ),
        Format::Json => report::json::change_set(&set),
        Format::Markdown => report::markdown::change_set(&set),
    };
    print!("{text}");
    Ok(exit::PASS)
}

fn between_revisions(cli: &Cli, args: &DiffArgs, repo: &Repo) -> Result<ChangeSet> {
    let crate::check::range::Range {
        base_name,
        base,
        head,
        merge_base,
        defaulted,
    } = crate::check::range::resolve(
        repo,
        args.range.base.as_deref(),
        args.range.head_or_default(),
    )?;
    if let Some(note) = defaulted {
        eprintln!("promptgate: {note}");
    }
    let old = repo.tree_snapshot(merge_base)?;
    let new = repo.tree_snapshot(head)?;
    let mut set = build(cli, args, repo, &old, &new, |_| {
        repo.diff_commits(merge_base, head)
    })?;
    set.base_label = base_name;
    set.head_label = args.range.head_or_default().to_string();
    set.base = Some(base);
    set.head = Some(head);
    set.merge_base = Some(merge_base);
    Ok(set)
}

fn staged(cli: &Cli, args: &DiffArgs, repo: &Repo) -> Result<ChangeSet> {
    let head = repo.head_if_any()?;
    let index = repo.index_snapshot()?;
    let config = read_config(cli, repo, args.config_rev.as_deref(), &index)?;
    let source = changeset::ConfigSource {
        origin: &config.origin,
        repo_path: &config.repo_path,
        bytes: &config.bytes,
    };
    changeset::staged(repo, &index, head, source)
}

fn build(
    cli: &Cli,
    args: &DiffArgs,
    repo: &Repo,
    old: &dyn Snapshot,
    new: &dyn Snapshot,
    raw: impl FnOnce(&Sides<'_>) -> Result<Vec<crate::git::FileChange>, GitError>,
) -> Result<ChangeSet> {
    let config = read_config(cli, repo, args.config_rev.as_deref(), new)?;
    let source = changeset::ConfigSource {
        origin: &config.origin,
        repo_path: &config.repo_path,
        bytes: &config.bytes,
    };
    changeset::assemble(repo, old, new, source, raw)
}
