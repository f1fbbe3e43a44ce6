//! Local git hooks: installing `hooks/pre-commit` and `hooks/pre-push` into the repository's
//! hooks directory (honouring `core.hooksPath` and linked worktrees), never over a hook
//! promptgate did not write unless forced (and then with a backup), and removing them again;
//! what the pre-push hook gates lives in [`push`].

pub mod push;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::git::Repo;

/// The line that marks a hook as promptgate's.
pub const MARKER: &str = "# promptgate-hook";
/// Suffix of the backup kept when `--force` replaces someone else's hook.
pub const BACKUP_SUFFIX: &str = ".promptgate-backup";

/// The hooks promptgate ships: name and script.
pub const HOOKS: &[(&str, &str)] = &[
    ("pre-commit", include_str!("../../hooks/pre-commit")),
    ("pre-push", include_str!("../../hooks/pre-push")),
];

/// What happened to one hook.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Installed(PathBuf),
    /// Someone else's hook was moved aside to this backup first.
    Replaced {
        hook: PathBuf,
        backup: PathBuf,
    },
    AlreadyInstalled(PathBuf),
    Removed(PathBuf),
    Restored {
        hook: PathBuf,
        from: PathBuf,
    },
    NotInstalled(PathBuf),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Installed(p) => write!(f, "installed {}", p.display()),
            Action::Replaced { hook, backup } => write!(
                f,
                "installed {} (the previous hook is kept as {})",
                hook.display(),
                backup.display()
            ),
            Action::AlreadyInstalled(p) => {
                write!(f, "{} is already promptgate's (updated)", p.display())
            }
            Action::Removed(p) => write!(f, "removed {}", p.display()),
            Action::Restored { hook, from } => write!(
                f,
                "removed promptgate's {} and restored {}",
                hook.display(),
                from.display()
            ),
            Action::NotInstalled(p) => write!(f, "{} is not promptgate's; left alone", p.display()),
        }
    }
}

/// The directory git runs hooks from: `core.hooksPath` (relative to the working tree's
/// root) when set, else `hooks` in the common git directory (shared by linked worktrees).
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    let raw = repo.raw();
    let configured = raw
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or_else(|| raw.path()).join(path),
        None => raw.commondir().join("hooks"),
    })
}

/// Installs the named hooks.
pub fn install(repo: &Repo, names: &[&str], force: bool) -> Result<Vec<Action>> {
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    // Refuse before writing anything, so a refusal leaves every hook as it was.
    for name in names {
        let path = dir.join(name);
        if path.exists() && !is_ours(&path) && !force {
            return Err(Error::usage(format!(
                "{} exists and was not written by promptgate\n  help: pass --force to replace it (it is kept as {name}{BACKUP_SUFFIX}), or call `promptgate hook {name}` from it yourself",
                path.display()
            )));
        }
    }
    names.iter().map(|name| install_one(&dir, name)).collect()
}

fn install_one(dir: &Path, name: &str) -> Result<Action> {
    let script = HOOKS
        .iter()
        .find(|(n, _)| n == &name)
        .map(|(_, s)| *s)
        .ok_or_else(|| Error::usage(format!("unknown hook `{name}`")))?;
    let path = dir.join(name);
    let action = if !path.exists() {
        Action::Installed(path.clone())
    } else if is_ours(&path) {
        Action::AlreadyInstalled(path.clone())
    } else {
        let backup = dir.join(format!("{name}{BACKUP_SUFFIX}"));
        std::fs::rename(&path, &backup).map_err(|e| Error::io("back up", &path, e))?;
        Action::Replaced {
            hook: path.clone(),
            backup,
        }
    };
    std::fs::write(&path, script).map_err(|e| Error::io("write", &path, e))?;
    make_executable(&path)?;
    Ok(action)
}

/// Removes the named hooks if they are promptgate's, restoring any backup.
pub fn uninstall(repo: &Repo, names: &[&str]) -> Result<Vec<Action>> {
    let dir = hooks_dir(repo)?;
    let mut actions = Vec::new();
    for name in names {
        let path = dir.join(name);
        if !path.exists() || !is_ours(&path) {
            actions.push(Action::NotInstalled(path));
            continue;
        }
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        let backup = dir.join(format!("{name}{BACKUP_SUFFIX}"));
        if backup.exists() {
            std::fs::rename(&backup, &path).map_err(|e| Error::io("restore", &backup, e))?;
            actions.push(Action::Restored {
                hook: path,
                from: backup,
            });
        } else {
            actions.push(Action::Removed(path));
        }
    }
    Ok(actions)
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(MARKER))
}

/// Git runs a hook only when it is executable (on Windows, Git for Windows runs it by its
/// `#!` line: nothing to set).
#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)
        .map_err(|e| Error::io("read", path, e))?
        .permissions();
    permissions.set_mode(permissions.mode() | 0o755);
    std::fs::set_permissions(path, permissions).map_err(|e| Error::io("make executable", path, e))
}
