//! Rollback drills: rehearse rolling a surface back to the version before its last change,
//! in a temporary git worktree (the real working tree, index and refs are never touched),
//! with the rollback plan written for that change, an eval of the rolled-back version
//! against the surface's thresholds, the surface's own `drill_command`, and a clock. Also
//! the drill records (`.promptgate/drills/<date>-<surface>.md`) that show when each surface
//! was last drilled, for `drill --status` and the gate's overdue note.

pub mod interrupt;
pub mod records;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::Oid;
use serde::Serialize;

use crate::changeset::{self, ConfigSource};
use crate::config::{self, Config, PromptGlobs, Surface};
use crate::gate::artifacts::{self, Document, Headings};
use crate::git::{FileEntry, GitError, Repo, Snapshot, TreeSnapshot};
use crate::prompts::includes::Closure;

pub use interrupt::Interrupted;

/// Why a drill did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrillError {
    /// Ctrl-C or SIGTERM: the worktree is removed and the command stopped; exit 130.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    /// The drill cannot run at all (no target, no worktree), and why.
    #[error("{0}")]
    Cannot(String),
}

impl From<String> for DrillError {
    fn from(message: String) -> Self {
        DrillError::Cannot(message)
    }
}

impl From<&str> for DrillError {
    fn from(message: &str) -> Self {
        DrillError::Cannot(message.to_string())
    }
}

/// How far back the last change of a surface is looked for.
const MAX_HISTORY: usize = 5000;

/// One timed step of a drill.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub seconds: f64,
}

/// A finished drill, as `drill.json` holds it.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub schema_version: u32,
    pub surface: String,
    pub date: String,
    pub from: String,
    pub to: String,
    /// The commit whose change is being rolled back.
    pub last_change: Option<String>,
    pub plan_found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_source: Option<String>,
    pub plan: Option<String>,
    pub restored_files: Vec<String>,
    pub eval: Option<EvalOutcome>,
    pub command: Option<CommandOutcome>,
    pub steps: Vec<Step>,
    pub seconds: f64,
    pub max_minutes: u32,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalOutcome {
    pub pass_rate: f64,
    pub passed: usize,
    pub cases: usize,
    pub rules: Vec<crate::gate::model::RuleResult>,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommandOutcome {
    pub argv: Vec<String>,
    pub exit_code: Option<i32>,
    pub output: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
}

/// The version a surface rolls back to, and the change it undoes.
pub struct Target {
    pub to: Oid,
    pub last_change: Option<Oid>,
}

/// Finds the commit that last changed `surface` (its prompt files, the templates they
/// include, or its config entry) on the first-parent history of `from`; the rollback target
/// is its parent.
pub fn find_target(
    repo: &Repo,
    from: Oid,
    surface: &str,
    config_path: &str,
) -> Result<Target, String> {
    let raw = repo.raw();
    let mut commit = raw.find_commit(from).map_err(|e| e.to_string())?;
    for _ in 0..MAX_HISTORY {
        let Ok(parent) = commit.parent(0) else {
            return Err(format!("surface `{surface}` has not changed since it was created in {}, so there is no earlier version to roll back to", crate::git::short(commit.id())));
        };
        if changes_surface(repo, parent.id(), commit.id(), surface, config_path)? {
            return Ok(Target {
                to: parent.id(),
                last_change: Some(commit.id()),
            });
        }
        commit = parent;
    }
    Err(format!(
        "no change to surface `{surface}` in the last {MAX_HISTORY} commits; pass --to REV"
    ))
}

fn changes_surface(
    repo: &Repo,
    old: Oid,
    new: Oid,
    surface: &str,
    config_path: &str,
) -> Result<bool, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (old_tree, new_tree) = (
        repo.tree_snapshot(old).map_err(|e| err(&e))?,
        repo.tree_snapshot(new).map_err(|e| err(&e))?,
    );
    let config = match new_tree.read(config_path).map_err(|e| err(&e))? {
        Some(FileEntry::File(bytes)) => bytes,
        _ => return Ok(false),
    };
    let source = ConfigSource {
        origin: config_path,
        repo_path: config_path,
        bytes: &config,
    };
    let set = changeset::assemble(repo, &old_tree, &new_tree, source, |_| {
        repo.diff_commits(old, new)
    })
    .map_err(|e| err(&e))?;
    Ok(set.surfaces.iter().any(|s| s == surface))
}

/// The rollback plan written for the change: the `rollback` section of a change record the
/// change added or modified, or of its commit message (where merged PR descriptions land).
pub fn find_plan(repo: &Repo, change: Oid) -> Result<artifacts::ArtifactStatus, GitError> {
    let raw = repo.raw();
    let commit = raw.find_commit(change).map_err(|e| GitError::Git {
        context: "cannot read the change's commit".into(),
        source: e,
    })?;
    let message = commit.message().map(str::to_string).unwrap_or_default();
    let mut texts: Vec<(String, String)> = Vec::new();
    if let Ok(parent) = commit.parent(0) {
        let snapshot = repo.tree_snapshot(change)?;
        texts.extend(crate::changeset::change_records(
            repo,
            parent.id(),
            change,
            &snapshot,
        )?);
    }
    texts.push((
        format!("the message of commit {}", crate::git::short(change)),
        message,
    ));
    let documents: Vec<Document<'_>> = texts
        .iter()
        .map(|(source, markdown)| Document { source, markdown })
        .collect();
    let statuses = artifacts::check(&["rollback".to_string()], &documents, &Headings::default());
    Ok(statuses
        .into_iter()
        .next()
        .unwrap_or(artifacts::ArtifactStatus {
            name: "rollback".into(),
            found: false,
            source: None,
            reason: Some("no rollback section found".into()),
        }))
}

/// The rollback plan's text, from the source the check found it in: the section
/// [`find_plan`]'s check accepted, found again by the same finder.
pub fn plan_text(repo: &Repo, change: Oid, source: &str) -> Option<String> {
    let text = if source.starts_with("the message of commit") {
        repo.raw()
            .find_commit(change)
            .ok()?
            .message()
            .ok()?
            .to_string()
    } else {
        repo.tree_snapshot(change).ok()?.read_text(source).ok()??
    };
    let document = Document {
        source,
        markdown: &text,
    };
    match artifacts::find(&[document], &Headings::default().names_for("rollback")) {
        artifacts::Finding::Written { section, .. } => Some(section.body),
        artifacts::Finding::Missing { .. } => None,
    }
}

/// Every file the surface's prompts are made of at `snapshot`: its prompt files and the
/// templates they include.
pub fn surface_files(snapshot: &dyn Snapshot, surface: &Surface) -> Result<Vec<String>, GitError> {
    let patterns = surface.prompt_patterns();
    let Ok(globs) = PromptGlobs::new(patterns) else {
        return Ok(Vec::new());
    };
    let files = changeset::list_matching(snapshot, &globs)?;
    let texts: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|(path, _)| {
            snapshot
                .read_text(&path)
                .ok()
                .flatten()
                .map(|text| (path, text))
        })
        .collect();
    let closure = Closure::load(
        snapshot,
        texts.iter().map(|(p, t)| (p.as_str(), t.as_str())),
    )?;
    Ok(closure.files.into_keys().collect())
}

/// A temporary linked worktree of the repository, removed when dropped, whatever happened.
pub struct TempWorktree {
    repo_dir: PathBuf,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempWorktree {
    /// Checks out `commit` (detached) in a new temporary worktree.
    pub fn add(repo_dir: &Path, commit: Oid) -> Result<TempWorktree, String> {
        // Worktrees whose directories are gone (an earlier crash) are pruned first.
        let _ = git(repo_dir, &["worktree", "prune"]);
        let dir = tempfile::Builder::new()
            .prefix("promptgate-drill-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let path = dir.path().join("tree");
        // From here an interruption unwinds the drill (so this guard removes the worktree)
        // instead of ending the process.
        interrupt::watch();
        git(
            repo_dir,
            &[
                "worktree",
                "add",
                "--detach",
                "--quiet",
                &path.to_string_lossy(),
                &commit.to_string(),
            ],
        )?;
        Ok(TempWorktree {
            repo_dir: repo_dir.to_path_buf(),
            path,
            _dir: dir,
        })
    }
}

impl Drop for TempWorktree {
    fn drop(&mut self) {
        remove_worktree(&self.repo_dir, &self.path);
    }
}

fn remove_worktree(repo_dir: &Path, path: &Path) {
    let _ = git(
        repo_dir,
        &["worktree", "remove", "--force", &path.to_string_lossy()],
    );
    let _ = git(repo_dir, &["worktree", "prune"]);
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Writes each of `files` in the worktree as it is at `target` (deleting those it lacks).
pub fn restore(worktree: &Path, target: &TreeSnapshot<'_>, files: &[String]) -> Result<(), String> {
    for file in files {
        let path = worktree.join(file);
        match target.read(file).map_err(|e| e.to_string())? {
            Some(FileEntry::File(bytes)) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(&path, bytes).map_err(|e| format!("cannot restore {file}: {e}"))?;
            }
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

/// Runs the surface's `drill_command` in the worktree with the drill's revisions in its
/// environment, killed at the deadline.
pub fn run_command(
    argv: &[String],
    worktree: &Path,
    env: &[(&str, String)],
    timeout: Duration,
) -> CommandOutcome {
    let Some((program, args)) = argv.split_first() else {
        return CommandOutcome {
            argv: argv.to_vec(),
            exit_code: None,
            output: "empty drill_command".into(),
        };
    };
    let child = std::process::Command::new(program)
        .args(args)
        .current_dir(worktree)
        // The drill command is the base's operations step: it keeps the environment it
        // runs in, less every secret promptgate knows of.
        .env_clear()
        .envs(crate::secrets::without_secrets(&[]))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            return CommandOutcome {
                argv: argv.to_vec(),
                exit_code: None,
                output: format!("cannot start `{program}`: {e}"),
            }
        }
    };
    wait_for(child, argv, timeout)
}

/// Waits for the command, killing it at the deadline (stopping it when the drill is
/// interrupted), and collects its output.
fn wait_for(mut child: std::process::Child, argv: &[String], timeout: Duration) -> CommandOutcome {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if interrupt::interrupted() => {
                interrupt::stop(&mut child);
                return CommandOutcome {
                    argv: argv.to_vec(),
                    exit_code: None,
                    output: "stopped: the drill was interrupted".into(),
                };
            }
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return CommandOutcome {
                    argv: argv.to_vec(),
                    exit_code: None,
                    output: format!("timed out after {}s and was killed", timeout.as_secs()),
                };
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return CommandOutcome {
                    argv: argv.to_vec(),
                    exit_code: None,
                    output: e.to_string(),
                }
            }
        }
    }
    match child.wait_with_output() {
        Ok(output) => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            CommandOutcome {
                argv: argv.to_vec(),
                exit_code: output.status.code(),
                output: crate::util::text::excerpt(&text),
            }
        }
        Err(e) => CommandOutcome {
            argv: argv.to_vec(),
            exit_code: None,
            output: e.to_string(),
        },
    }
}

/// The config at a revision, if it has a valid one.
pub fn config_at(repo: &Repo, commit: Oid, path: &str) -> Option<Config> {
    let snapshot = repo.tree_snapshot(commit).ok()?;
    match snapshot.read(path).ok()?? {
        FileEntry::File(bytes) => config::load(path, &bytes).ok().map(|l| l.config),
        _ => None,
    }
}
