//! The prompt change set: the raw git changes between two snapshots, narrowed to the files
//! that matter to a surface (its prompt globs, the templates those include, its eval cases
//! and its entry in the config), each with the surfaces it affects, its old and new content,
//! and for a case file the cases added, removed and edited.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;
use serde::Serialize;

use crate::config::SurfaceMap;
use crate::diagnostic::Diagnostic;
use crate::eval::case_diff::{self, CaseChange};
use crate::git::{EntryKind, FileChange, FileSide, GitError, Repo, Snapshot, Status};
use crate::prompts::includes::Closure;
use crate::prompts::is_binary;

/// A file's content on one side, as far as promptgate looks into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// Binary (a NUL byte), with its size in bytes.
    Binary(usize),
    /// Not UTF-8 text, with its size in bytes.
    NotUtf8(usize),
    /// A symlink and its target; never followed.
    Symlink(String),
    /// A submodule at this commit; never entered.
    Submodule(String),
}

/// What kind of file a change is about, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Text,
    Binary,
    NotUtf8,
    Symlink,
    Submodule,
}

/// Why a file belongs to the change set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// It matches a surface's prompt globs.
    Prompt,
    /// A surface's prompt includes it.
    Include,
    /// It is the config file.
    Config,
    /// It is a surface's eval case file.
    Cases,
}

#[derive(Debug, Clone)]
pub struct PromptChange {
    pub status: Status,
    pub path: String,
    pub old_path: Option<String>,
    pub similarity: Option<u16>,
    pub surfaces: Vec<String>,
    pub via: Via,
    pub old: Option<Content>,
    pub new: Option<Content>,
    /// For a case file: the cases added, removed and edited, when both sides parse.
    pub cases: Option<Vec<CaseChange>>,
}

impl PromptChange {
    /// The kind of the newest side present.
    pub fn kind(&self) -> FileKind {
        match self.new.as_ref().or(self.old.as_ref()) {
            Some(Content::Binary(_)) => FileKind::Binary,
            Some(Content::NotUtf8(_)) => FileKind::NotUtf8,
            Some(Content::Symlink(_)) => FileKind::Symlink,
            Some(Content::Submodule(_)) => FileKind::Submodule,
            _ => FileKind::Text,
        }
    }
}

/// The change set between the merge base and the head (or HEAD and the index).
#[derive(Debug)]
pub struct ChangeSet {
    /// The revisions as the user named them (`origin/main`, `HEAD`, `the index`).
    pub base_label: String,
    pub head_label: String,
    pub base: Option<Oid>,
    /// `None` when the head is the index (`--staged`).
    pub head: Option<Oid>,
    pub merge_base: Option<Oid>,
    pub changes: Vec<PromptChange>,
    /// Every affected surface, sorted.
    pub surfaces: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// What the change set is built from.
pub struct Sides<'a> {
    pub repo: &'a Repo,
    pub old: &'a dyn Snapshot,
    pub new: &'a dyn Snapshot,
    /// The config as of the new side (its globs decide what is a prompt).
    pub new_map: &'a SurfaceMap,
    /// The config as of the old side, when it has one.
    pub old_map: Option<&'a SurfaceMap>,
    /// The base branch's config, whose surfaces the gate judges (it may have surfaces the
    /// old and new sides never had: added on the base after the branch started).
    pub policy_map: Option<&'a SurfaceMap>,
    /// Repo-relative path of the config file.
    pub config_path: &'a str,
}

impl Sides<'_> {
    /// Every config the paths are mapped with.
    fn maps(&self) -> impl Iterator<Item = &SurfaceMap> {
        std::iter::once(self.new_map)
            .chain(self.old_map)
            .chain(self.policy_map)
    }
}

/// The config a change set maps files with: its text and where it lives.
pub struct ConfigSource<'a> {
    /// How diagnostics name it.
    pub origin: &'a str,
    /// Repo-relative path, to recognise the config among changed files.
    pub repo_path: &'a str,
    pub bytes: &'a [u8],
}

/// The change set from `old` to `new`: maps `raw` changes with the config as given (the new
/// side's) and as the old side has it. An unreadable old config is only a warning (it only
/// refines the mapping); an unreadable new one is an error.
pub fn assemble(
    repo: &Repo,
    old: &dyn Snapshot,
    new: &dyn Snapshot,
    config: ConfigSource<'_>,
    raw: impl FnOnce(&Sides<'_>) -> Result<Vec<FileChange>, GitError>,
) -> Result<ChangeSet, crate::error::Error> {
    assemble_with(repo, old, new, config, None, raw)
}

/// [`assemble`], also mapping paths with the base branch's surfaces (`policy`).
pub fn assemble_with(
    repo: &Repo,
    old: &dyn Snapshot,
    new: &dyn Snapshot,
    config: ConfigSource<'_>,
    policy: Option<&SurfaceMap>,
    raw: impl FnOnce(&Sides<'_>) -> Result<Vec<FileChange>, GitError>,
) -> Result<ChangeSet, crate::error::Error> {
    let new_map =
        SurfaceMap::parse(config.origin, config.bytes).map_err(crate::error::Error::Invalid)?;
    let mut warnings = Vec::new();
    let old_map = match old.read(config.repo_path)? {
        Some(crate::git::FileEntry::File(bytes)) => {
            let origin = format!("{}@{}", config.repo_path, old.describe());
            match SurfaceMap::parse(&origin, &bytes) {
                Ok(map) => Some(map),
                Err(diagnostics) => {
                    warnings.extend(diagnostics.into_iter().map(|mut d| {
                        d.severity = crate::diagnostic::Severity::Warning;
                        d.help = Some("the old side's config is unreadable, so old paths are mapped with the new config only".into());
                        d
                    }));
                    None
                }
            }
        }
        _ => None,
    };
    let sides = Sides {
        repo,
        old,
        new,
        new_map: &new_map,
        old_map: old_map.as_ref(),
        policy_map: policy,
        config_path: config.repo_path,
    };
    let (changes, more_warnings) = build(&sides, raw(&sides)?)?;
    warnings.extend(more_warnings);
    Ok(ChangeSet {
        base_label: String::new(),
        head_label: String::new(),
        base: None,
        head: None,
        merge_base: None,
        surfaces: affected_surfaces(&changes),
        changes,
        warnings,
    })
}

/// The staged change set: HEAD (or nothing, before the first commit) against the index,
/// mapped with `config` (read from the index by the caller). The hot path of the pre-commit
/// hook: when the index's cache-tree shows that nothing staged concerns a surface, libgit2's
/// full index load and rename detection are skipped.
pub fn staged(
    repo: &Repo,
    index: &crate::git::IndexSnapshot<'_>,
    head: Option<Oid>,
    config: ConfigSource<'_>,
) -> Result<ChangeSet, crate::error::Error> {
    let head_tree = head.map(|oid| repo.tree_snapshot(oid)).transpose()?;
    let old: &dyn Snapshot = match &head_tree {
        Some(tree) => tree,
        None => &crate::git::EmptySnapshot,
    };
    let quick = repo.staged_paths(index, head);
    let mut set = assemble(repo, old, index, config, |sides| {
        if let Some(paths) = &quick {
            if !any_relevant(sides, paths)? {
                return Ok(Vec::new());
            }
        }
        repo.diff_staged(head)
    })?;
    set.base_label = "HEAD".into();
    set.head_label = "the index".into();
    set.base = head;
    set.merge_base = head;
    Ok(set)
}

/// Decides which surfaces a changed path affects; the include graph is loaded only when a
/// path is neither a prompt nor the config.
struct Mapper<'s, 'a> {
    sides: &'s Sides<'a>,
    included: Option<BTreeMap<String, BTreeSet<String>>>,
    warnings: Vec<Diagnostic>,
}

impl<'s, 'a> Mapper<'s, 'a> {
    fn new(sides: &'s Sides<'a>) -> Self {
        Mapper {
            sides,
            included: None,
            warnings: Vec::new(),
        }
    }

    /// Why the file with these paths (new, then old) matters, and to which surfaces.
    fn surfaces(&mut self, paths: &[&str]) -> Result<(Via, BTreeSet<String>), GitError> {
        let sides = self.sides;
        if paths.contains(&sides.config_path) {
            let surfaces = match sides.old_map {
                Some(old) => old.changed_settings(sides.new_map),
                None => sides
                    .new_map
                    .surfaces
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
            };
            return Ok((Via::Config, surfaces.into_iter().collect()));
        }
        let by_cases: BTreeSet<String> = sides
            .maps()
            .flat_map(|map| paths.iter().flat_map(move |p| map.surfaces_with_cases(p)))
            .map(String::from)
            .collect();
        let globbed: BTreeSet<String> = sides
            .maps()
            .flat_map(|map| paths.iter().flat_map(move |p| map.surfaces_matching(p)))
            .map(String::from)
            .collect();
        // Every route counts: a partial that one surface's globs match is still a change to
        // each surface that includes it.
        if self.included.is_none() {
            self.included = Some(include_map(sides, &mut self.warnings)?);
        }
        let includes = self.included.as_ref();
        let through: BTreeSet<String> = paths
            .iter()
            .filter_map(|p| includes.and_then(|map| map.get(*p)))
            .flatten()
            .cloned()
            .collect();
        let via = if !by_cases.is_empty() {
            Via::Cases
        } else if !globbed.is_empty() {
            Via::Prompt
        } else {
            Via::Include
        };
        Ok((
            via,
            by_cases.into_iter().chain(globbed).chain(through).collect(),
        ))
    }

    /// Whether a changed path matters to any surface, by the cheap routes first (the
    /// include graph is loaded only when neither the config, a case file nor a glob says so).
    fn relevant(&mut self, path: &str) -> Result<bool, GitError> {
        let sides = self.sides;
        let cheap = path == sides.config_path
            || sides.maps().any(|map| {
                map.surfaces_with_cases(path).next().is_some()
                    || map.surfaces_matching(path).next().is_some()
            });
        if cheap {
            return Ok(true);
        }
        let (_, surfaces) = self.surfaces(&[path])?;
        Ok(!surfaces.is_empty())
    }
}

/// Narrows raw git changes to the prompt change set.
pub fn build(
    sides: &Sides<'_>,
    raw: Vec<FileChange>,
) -> Result<(Vec<PromptChange>, Vec<Diagnostic>), GitError> {
    let mut mapper = Mapper::new(sides);
    let mut changes = Vec::new();
    for change in raw {
        let paths: Vec<&str> = std::iter::once(change.path.as_str())
            .chain(change.old_path.as_deref())
            .collect();
        let (via, surfaces) = mapper.surfaces(&paths)?;
        if surfaces.is_empty() && via != Via::Config {
            continue;
        }
        changes.push(with_contents(
            sides.repo,
            change,
            via,
            surfaces.into_iter().collect(),
        )?);
    }
    Ok((changes, mapper.warnings))
}

/// Whether any of these changed paths belongs in the change set: the cheap question the
/// hook asks before paying for a full diff with rename detection.
pub fn any_relevant(sides: &Sides<'_>, paths: &[String]) -> Result<bool, GitError> {
    let mut mapper = Mapper::new(sides);
    for path in paths {
        if mapper.relevant(path)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Included path → surfaces including it (on either side). Also warns about globs that
/// match nothing on the new side.
fn include_map(
    sides: &Sides<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<BTreeMap<String, BTreeSet<String>>, GitError> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let plans: Vec<(&dyn Snapshot, &SurfaceMap)> = std::iter::once((sides.new, sides.new_map))
        .chain(sides.old_map.map(|m| (sides.old, m)))
        .chain(sides.policy_map.map(|m| (sides.new, m)))
        .collect();
    for (side, (snapshot, surfaces)) in plans.into_iter().enumerate() {
        for surface in &surfaces.surfaces {
            let files = list_matching(snapshot, &surface.globs)?;
            if side == 0 && files.is_empty() {
                warnings.push(
                    Diagnostic::warning(
                        &surfaces.origin,
                        format!(
                            "the prompt globs of surface `{}` match no file in {}",
                            surface.name,
                            snapshot.describe()
                        ),
                    )
                    .with_help(format!(
                        "check the patterns: {}",
                        surface.globs.patterns.join(", ")
                    )),
                );
            }
            let texts: Vec<(String, String)> = files
                .into_iter()
                .filter_map(|(path, kind)| {
                    (kind == EntryKind::File)
                        .then(|| snapshot.read_text(&path).ok().flatten().map(|t| (path, t)))
                        .flatten()
                })
                .collect();
            let closure = Closure::load(
                snapshot,
                texts.iter().map(|(p, t)| (p.as_str(), t.as_str())),
            )?;
            for path in closure.files.into_keys() {
                map.entry(path).or_default().insert(surface.name.clone());
            }
        }
    }
    Ok(map)
}

/// Every path under the globs' walk roots that the globs match, with its kind.
pub fn list_matching(
    snapshot: &dyn Snapshot,
    globs: &crate::config::PromptGlobs,
) -> Result<Vec<(String, EntryKind)>, GitError> {
    let mut out = Vec::new();
    for root in globs.walk_roots() {
        snapshot.walk(&root, &mut |path, kind| {
            if globs.is_match(path) {
                out.push((path.to_string(), kind));
            }
        })?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn with_contents(
    repo: &Repo,
    change: FileChange,
    via: Via,
    surfaces: Vec<String>,
) -> Result<PromptChange, GitError> {
    // A pure rename has nothing to show; its blobs are not read.
    let pure_rename = change.similarity == Some(100);
    let load = |side: &Option<FileSide>| -> Result<Option<Content>, GitError> {
        match side {
            Some(side) if !pure_rename || side.kind != EntryKind::File => {
                content(repo, side).map(Some)
            }
            _ => Ok(None),
        }
    };
    let old = load(&change.old)?;
    let new = load(&change.new)?;
    let similarity = match (&old, &new, change.similarity) {
        (_, _, Some(s)) => Some(s),
        (Some(Content::Text(a)), Some(Content::Text(b)), None)
            if change.status == Status::Renamed =>
        {
            Some(similarity(a, b))
        }
        _ => None,
    };
    let cases = (via == Via::Cases)
        .then(|| case_changes(&change, old.as_ref(), new.as_ref()))
        .flatten();
    Ok(PromptChange {
        status: change.status,
        path: change.path,
        old_path: change.old_path,
        similarity,
        surfaces,
        via,
        old,
        new,
        cases,
    })
}

/// The cases a case-file change adds, removes and edits; `None` when a side does not parse
/// (validation says why) or is not text.
fn case_changes(
    change: &FileChange,
    old: Option<&Content>,
    new: Option<&Content>,
) -> Option<Vec<CaseChange>> {
    let parse = |path: &str, content: Option<&Content>| match content {
        None => Some(Vec::new()),
        Some(Content::Text(text)) => crate::eval::cases::parse(path, text.as_bytes()).ok(),
        Some(_) => None,
    };
    let old_path = change.old_path.as_deref().unwrap_or(&change.path);
    // A pure rename keeps every case.
    if change.similarity == Some(100) {
        return Some(Vec::new());
    }
    Some(case_diff::compare(
        &parse(old_path, old)?,
        &parse(&change.path, new)?,
    ))
}

/// Git's notion of rename similarity: the bytes of the old file that survive unchanged in
/// the new one (here by whole lines), over the size of the larger file, in percent.
fn similarity(old: &str, new: &str) -> u16 {
    let larger = old.len().max(new.len());
    if larger == 0 {
        return 100;
    }
    let kept: usize = similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Equal)
        .map(|c| c.value().len())
        .sum();
    (kept * 100 / larger) as u16
}

fn content(repo: &Repo, side: &FileSide) -> Result<Content, GitError> {
    if side.kind == EntryKind::Submodule {
        return Ok(Content::Submodule(side.oid.to_string()));
    }
    let bytes = repo.blob(side.oid)?;
    Ok(match side.kind {
        EntryKind::Symlink => Content::Symlink(String::from_utf8_lossy(&bytes).into_owned()),
        _ if is_binary(&bytes) => Content::Binary(bytes.len()),
        _ => match String::from_utf8(bytes) {
            Ok(text) => Content::Text(text),
            Err(e) => Content::NotUtf8(e.into_bytes().len()),
        },
    })
}

/// Where change records live: Markdown files holding a change's artifacts.
pub const CHANGE_RECORDS: &str = ".promptgate/changes/";

/// Whether a file change adds or edits a change record.
pub fn is_change_record(change: &crate::git::FileChange) -> bool {
    change.path.starts_with(CHANGE_RECORDS)
        && change.path.ends_with(".md")
        && matches!(
            change.status,
            crate::git::Status::Added | crate::git::Status::Modified | crate::git::Status::Renamed
        )
}

/// The change records added or edited between two commits, as (path, text) read from
/// `snapshot` (the newer side).
pub fn change_records(
    repo: &Repo,
    old: git2::Oid,
    new: git2::Oid,
    snapshot: &dyn crate::git::Snapshot,
) -> Result<Vec<(String, String)>, GitError> {
    let mut records = Vec::new();
    for change in repo
        .diff_commits(old, new)?
        .iter()
        .filter(|c| is_change_record(c))
    {
        if let Some(text) = snapshot.read_text(&change.path)? {
            records.push((change.path.clone(), text));
        }
    }
    Ok(records)
}

/// All surfaces named by the changes, sorted and unique.
pub fn affected_surfaces(changes: &[PromptChange]) -> Vec<String> {
    let set: BTreeSet<&String> = changes.iter().flat_map(|c| &c.surfaces).collect();
    set.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::similarity;

    #[test]
    fn similarity_counts_surviving_bytes_over_the_larger_file() {
        assert_eq!(similarity("a\nb\n", "a\nb\n"), 100);
        assert_eq!(similarity("aaaa\nbbbb\n", "aaaa\ncccc\n"), 50);
        assert_eq!(similarity("aaaa\n", "aaaa\nbbbbbbbbbbbbbbb\n"), 23);
    }
}
