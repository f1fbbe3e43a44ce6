//! A direct reader of `.git/index` (versions 2–4, SHA-1) and its cache-tree, for the hook's
//! hot path: libgit2 checksums and indexes every entry on load, which costs several times
//! what `git diff --cached` takes on a large repository. With the cache-tree, directories
//! whose staged tree equals HEAD's are skipped whole. Anything unusual (split or sparse
//! index, SHA-256, a malformed file) makes the reader step aside, and libgit2 is used.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;

use git2::{ObjectType, Oid, Repository, Tree};

/// The stage-0 entries of an index, sorted by path bytes as git keeps them, with all paths
/// in one buffer (a large index has tens of thousands of them).
#[derive(Debug, Default)]
pub struct Entries {
    paths: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    start: usize,
    end: usize,
    mode: u32,
    oid: Oid,
}

impl Entries {
    pub fn push(&mut self, path: &str, mode: u32, oid: Oid) {
        let start = self.paths.len();
        self.paths.push_str(path);
        self.items.push(Item {
            start,
            end: self.paths.len(),
            mode,
            oid,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub fn path(&self, i: usize) -> &str {
        let item = &self.items[i];
        &self.paths[item.start..item.end]
    }

    pub fn mode(&self, i: usize) -> u32 {
        self.items[i].mode
    }

    pub fn oid(&self, i: usize) -> Oid {
        self.items[i].oid
    }

    /// The index of the entry at exactly `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.search(0..self.len(), path)
    }

    fn search(&self, within: Range<usize>, path: &str) -> Option<usize> {
        let slice = &self.items[within.clone()];
        slice
            .binary_search_by(|item| self.bytes(item).cmp(path.as_bytes()))
            .ok()
            .map(|i| within.start + i)
    }

    fn bytes(&self, item: &Item) -> &[u8] {
        &self.paths.as_bytes()[item.start..item.end]
    }

    /// The contiguous entries (within `within`) whose path starts with `prefix`.
    pub fn starting_with(&self, within: Range<usize>, prefix: &str) -> Range<usize> {
        let slice = &self.items[within.clone()];
        let start = slice.partition_point(|item| self.bytes(item) < prefix.as_bytes());
        let len =
            slice[start..].partition_point(|item| self.bytes(item).starts_with(prefix.as_bytes()));
        within.start + start..within.start + start + len
    }
}

/// What the index file holds for promptgate: its entries, its valid cache-tree directories,
/// and whether it has entries a plain comparison would misread.
pub struct IndexFile {
    pub entries: Entries,
    /// Some entry is unmerged (a conflict) or marked intent-to-add.
    pub has_special_entries: bool,
    /// Directory path (`""` for the root) → the tree OID the index holds for it.
    cache_tree: HashMap<String, Oid>,
}

const OID_LEN: usize = 20;
/// Bytes before the path in an entry without extended flags.
const PATH_OFFSET: usize = 62;
const EXTENDED: u16 = 0x4000;
const INTENT_TO_ADD: u16 = 1 << 13;

impl IndexFile {
    /// Reads the repository's index, or `None` where this reader does not apply.
    pub fn read(repo: &Repository) -> Option<IndexFile> {
        let data = std::fs::read(path(repo)).ok()?;
        parse(&data)
    }

    /// The index as libgit2 reads it, for when [`IndexFile::read`] steps aside; it has no
    /// cache-tree, so [`IndexFile::changed_paths`] defers to a full diff.
    pub fn from_libgit2(index: &git2::Index) -> IndexFile {
        let mut entries = Entries::default();
        let mut has_special_entries = false;
        for entry in index.iter() {
            if (entry.flags >> 12) & 0x3 == 0 {
                entries.push(&String::from_utf8_lossy(&entry.path), entry.mode, entry.id);
            } else {
                has_special_entries = true;
            }
        }
        IndexFile {
            entries,
            has_special_entries,
            cache_tree: HashMap::new(),
        }
    }

    /// Paths that differ between `head` (a tree, or none) and the index, without rename
    /// pairing: added, deleted and modified paths. `None` when it cannot be told here.
    pub fn changed_paths(&self, repo: &Repository, head: Option<&Tree<'_>>) -> Option<Vec<String>> {
        if self.has_special_entries {
            return None;
        }
        let mut walker = Walker {
            repo,
            index: self,
            out: Vec::new(),
        };
        walker.dir("", head, 0..self.entries.len())?;
        Some(walker.out)
    }
}

/// The index file: the one `GIT_INDEX_FILE` names (relative to the current directory, as
/// git and libgit2 read it) when set, else `index` in the git directory. [`crate::git::Repo`]
/// opens every repository with libgit2's `FROM_ENV`, so libgit2 reads the same file when
/// this reader steps aside. Git sets the variable for its hooks: `git commit -a` and
/// `git commit <paths>` stage into a temporary index, and that is what gets committed.
pub fn path(repo: &Repository) -> PathBuf {
    match std::env::var_os("GIT_INDEX_FILE").filter(|v| !v.is_empty()) {
        Some(file) => PathBuf::from(file),
        None => repo.path().join("index"),
    }
}

struct Walker<'a, 'r> {
    repo: &'r Repository,
    index: &'a IndexFile,
    out: Vec<String>,
}

impl Walker<'_, '_> {
    /// Compares one directory: `tree` is HEAD's (if it has the directory), `range` the
    /// index entries under it.
    fn dir(&mut self, dir: &str, tree: Option<&Tree<'_>>, range: Range<usize>) -> Option<()> {
        let entries = &self.index.entries;
        if let (Some(tree), Some(cached)) = (tree, self.index.cache_tree.get(dir)) {
            if tree.id() == *cached {
                return Some(());
            }
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut seen: HashSet<String> = HashSet::new();
        for item in tree.iter().flat_map(|t| t.iter()) {
            let name = std::str::from_utf8(item.name_bytes()).ok()?;
            let path = format!("{prefix}{name}");
            let file = entries.search(range.clone(), &path);
            let under = entries.starting_with(range.clone(), &format!("{path}/"));
            if item.kind() == Some(ObjectType::Tree) {
                // Checked before loading the subtree: most directories are unchanged.
                if self.index.cache_tree.get(&path) != Some(&item.id()) {
                    let subtree = self.repo.find_tree(item.id()).ok()?;
                    self.dir(&path, Some(&subtree), under)?;
                }
                if let Some(i) = file {
                    self.out.push(entries.path(i).to_string());
                }
            } else {
                let same = file.is_some_and(|i| {
                    entries.oid(i) == item.id() && entries.mode(i) as i32 == item.filemode()
                });
                if !same {
                    self.out.push(path);
                }
                self.out.extend(under.map(|i| entries.path(i).to_string()));
            }
            seen.insert(name.to_string());
        }
        // Index entries under names HEAD does not have here are added; one check per
        // name, jumping over each subdirectory's entries.
        let mut i = range.start;
        while i < range.end {
            let rest = &entries.path(i)[prefix.len()..];
            let (name, is_dir) = match rest.split_once('/') {
                Some((name, _)) => (name, true),
                None => (rest, false),
            };
            let group = if is_dir {
                entries.starting_with(i..range.end, &format!("{prefix}{name}/"))
            } else {
                i..i + 1
            };
            if !seen.contains(name) {
                self.out
                    .extend(group.clone().map(|j| entries.path(j).to_string()));
            }
            i = group.end.max(i + 1);
        }
        Some(())
    }
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// Git's offset varint (used by index v4 path compression).
fn varint(data: &[u8], at: &mut usize) -> Option<usize> {
    let mut byte = *data.get(*at)?;
    *at += 1;
    let mut value = usize::from(byte & 0x7f);
    while byte & 0x80 != 0 {
        byte = *data.get(*at)?;
        *at += 1;
        value = value.checked_add(1)?.checked_shl(7)? | usize::from(byte & 0x7f);
    }
    Some(value)
}

fn parse(data: &[u8]) -> Option<IndexFile> {
    if data.get(..4)? != b"DIRC" || data.len() < 12 + OID_LEN {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len() - OID_LEN;
    let mut at = 12;
    let mut entries = Entries {
        paths: String::with_capacity(data.len() / 2),
        items: Vec::with_capacity(count),
    };
    let mut has_special_entries = false;
    // Index v4 compresses each path against the previous one.
    let mut previous = String::new();
    for _ in 0..count {
        let start = at;
        let mode = be32(data, start + 24)?;
        let oid = Oid::from_bytes(data.get(start + 40..start + 40 + OID_LEN)?).ok()?;
        let flags = be16(data, start + 60)?;
        let mut path_at = start + PATH_OFFSET;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return None;
            }
            has_special_entries |= be16(data, path_at)? & INTENT_TO_ADD != 0;
            path_at += 2;
        }
        let path = if version == 4 {
            let strip = varint(data, &mut path_at)?;
            let nul = data.get(path_at..end)?.iter().position(|&b| b == 0)?;
            let keep = previous.len().checked_sub(strip)?;
            if !previous.is_char_boundary(keep) {
                return None;
            }
            previous.truncate(keep);
            previous.push_str(std::str::from_utf8(&data[path_at..path_at + nul]).ok()?);
            at = path_at + nul + 1;
            previous.as_str()
        } else {
            let nul = data.get(path_at..end)?.iter().position(|&b| b == 0)?;
            at = start + ((path_at - start + nul + 8) & !7);
            std::str::from_utf8(&data[path_at..path_at + nul]).ok()?
        };
        if (flags >> 12) & 0x3 == 0 {
            entries.push(path, mode, oid);
        } else {
            has_special_entries = true;
        }
        if at > end {
            return None;
        }
    }
    let cache_tree = extensions(data, at, end)?;
    Some(IndexFile {
        entries,
        has_special_entries,
        cache_tree,
    })
}

/// Reads the extensions; `None` for ones that change what the entries mean (split index,
/// sparse directories).
fn extensions(data: &[u8], mut at: usize, end: usize) -> Option<HashMap<String, Oid>> {
    let mut cache_tree = HashMap::new();
    while at + 8 <= end {
        let signature = data.get(at..at + 4)?;
        let size = be32(data, at + 4)? as usize;
        let body = data.get(at + 8..(at + 8).checked_add(size)?)?;
        match signature {
            b"TREE" => {
                let mut cursor = 0;
                tree_cache(body, &mut cursor, "", &mut cache_tree)?;
            }
            b"link" | b"sdir" => return None,
            // Other optional extensions (REUC, UNTR, FSMN, EOIE, IEOT…) do not matter here.
            _ => {}
        }
        at += 8 + size;
    }
    Some(cache_tree)
}

/// One cache-tree node and its children, preorder.
fn tree_cache(
    body: &[u8],
    at: &mut usize,
    parent: &str,
    out: &mut HashMap<String, Oid>,
) -> Option<()> {
    let nul = body.get(*at..)?.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&body[*at..*at + nul]).ok()?;
    let path = match (parent.is_empty(), name.is_empty()) {
        (_, true) => parent.to_string(),
        (true, false) => name.to_string(),
        (false, false) => format!("{parent}/{name}"),
    };
    *at += nul + 1;
    let space = body.get(*at..)?.iter().position(|&b| b == b' ')?;
    let entry_count: i64 = std::str::from_utf8(&body[*at..*at + space])
        .ok()?
        .parse()
        .ok()?;
    *at += space + 1;
    let newline = body.get(*at..)?.iter().position(|&b| b == b'\n')?;
    let children: usize = std::str::from_utf8(&body[*at..*at + newline])
        .ok()?
        .parse()
        .ok()?;
    *at += newline + 1;
    if entry_count >= 0 {
        let oid = Oid::from_bytes(body.get(*at..*at + OID_LEN)?).ok()?;
        out.insert(path.clone(), oid);
        *at += OID_LEN;
    }
    for _ in 0..children {
        tree_cache(body, at, &path, out)?;
    }
    Some(())
}
