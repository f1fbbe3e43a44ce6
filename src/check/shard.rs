//! Shards: what one `check --shard K/N` run leaves for `promptgate merge`, and merging.
//! Every shard must come from the same revisions and together cover 1..N once; check
//! shards must judge the same surfaces and agree on their context (tier, approvals,
//! artifacts…), whose errors, blockers and notes are joined; their cases are joined per
//! surface, paired by name (and side), and judged or summed exactly as a single run would
//! be. `eval --shard K/N` results merge the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::Checked;
use crate::error::{Error, Result};
use crate::eval::run::{Accumulator, CaseRecord, RunResult, Shard};
use crate::gate::model::BaseSuiteSides;
use crate::gate::{self, Context, SideResult, SurfaceInput};
use crate::report::escape_controls;

/// The name of the shard file in `--out DIR`.
pub const SHARD_FILE: &str = "shard.json";

/// The file `eval --out DIR` writes.
pub const EVAL_FILE: &str = "eval.json";

/// What one `--shard K/N` run leaves for `promptgate merge`: the context and the partial
/// inputs, before judging.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ShardFile {
    pub schema_version: u32,
    pub shard: String,
    pub context: Context,
    /// Every surface's input after the shard's last round.
    pub inputs: Vec<SurfaceInput>,
    /// Every surface's input after each earlier round (a shard runs all `[gate]
    /// max_repeat` rounds; `merge` replays the looks on the joined data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Vec<SurfaceInput>>,
}

impl ShardFile {
    /// The shard's file: the inputs after each round it ran (`inputs` when it ran none).
    pub(super) fn new(
        shard: &str,
        context: &Context,
        inputs: &[SurfaceInput],
        mut by_round: Vec<Vec<SurfaceInput>>,
    ) -> ShardFile {
        let last = by_round.pop().unwrap_or_else(|| inputs.to_vec());
        ShardFile {
            schema_version: crate::gate::SCHEMA_VERSION,
            shard: shard.to_string(),
            context: context.clone(),
            inputs: last,
            rounds: by_round,
        }
    }

    /// The inputs after each round, the last one's included.
    fn rounds_or_inputs(self) -> Vec<Vec<SurfaceInput>> {
        let mut rounds = self.rounds;
        rounds.push(self.inputs);
        rounds
    }

    /// Writes it as `DIR/shard.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let path = dir.join(SHARD_FILE);
        let text = serde_json::to_string(self)
            .map_err(|e| Error::io("write", &path, std::io::Error::other(e)))?;
        std::fs::write(&path, text).map_err(|e| Error::io("write", &path, e))
    }
}

/// Whether `dirs` hold `eval` results only (else they are check shards).
pub fn only_evals(dirs: &[PathBuf]) -> bool {
    dirs.iter()
        .all(|dir| !dir.join(SHARD_FILE).exists() && dir.join(EVAL_FILE).exists())
}

/// `eval` shards joined: the revision, every case record in order, and the totals.
pub struct MergedEval {
    pub rev: String,
    pub records: Vec<CaseRecord>,
    pub result: RunResult,
}

/// Joins the shards of a `check --shard K/N` matrix (their `--out` directories) into the
/// check one run gives: each round's results joined across the shards, then the rounds
/// replayed look by look as one run would have taken them ([`settle`]).
pub fn merge_checks(dirs: &[PathBuf]) -> Result<Checked> {
    let shards: Vec<ShardFile> = dirs
        .iter()
        .map(|dir| read_json(&dir.join(SHARD_FILE), "shard file"))
        .collect::<Result<_>>()?;
    covers_all(&shards.iter().map(|s| s.shard.as_str()).collect::<Vec<_>>())?;
    let mut shards = shards.into_iter();
    let first = shards
        .next()
        .ok_or_else(|| Error::usage("no shard directories given"))?;
    let first_name = first.shard.clone();
    let mut context = first.context.clone();
    let names = surface_names(&first.shard, &first.inputs)?;
    let mut rounds = first.rounds_or_inputs();
    for shard in shards {
        join_context(
            &mut context,
            shard.context.clone(),
            &first_name,
            &shard.shard,
        )?;
        if surface_names(&shard.shard, &shard.inputs)? != names {
            return Err(Error::usage(format!(
                "shards {} and {} disagree on the surfaces they judge ({} vs {}): every shard must come from the same check; re-run all of them",
                first_name,
                shard.shard,
                list(&names),
                list(&surface_names(&shard.shard, &shard.inputs)?)
            )));
        }
        let name = shard.shard.clone();
        let parts = shard.rounds_or_inputs();
        if parts.len() != rounds.len() {
            return Err(Error::usage(format!(
                "shards {first_name} and {name} ran {} and {} rounds of trials: every shard must come from the same check; re-run all of them",
                rounds.len(),
                parts.len()
            )));
        }
        for (merged, part) in rounds.iter_mut().zip(parts) {
            join_inputs(merged, part, (&first_name, &name))?;
        }
    }
    let rounds = rounds
        .into_iter()
        .map(|inputs| inputs.into_iter().map(sorted).collect())
        .collect();
    let surfaces = settle(rounds)
        .into_iter()
        .map(gate::judge_surface)
        .collect();
    let mut checked = Checked::decided(gate::decide(context, surfaces), None);
    checked.redact();
    Ok(checked)
}

/// Each surface at the first round whose look settles its rules (else at the last round):
/// the rounds a single run would have taken, replayed on the data of a run that took them
/// all. `rounds[k]` holds every surface's input after round k + 1.
pub fn settle(rounds: Vec<Vec<SurfaceInput>>) -> Vec<SurfaceInput> {
    let mut rounds = rounds.into_iter();
    let Some(mut settled) = rounds.next() else {
        return Vec::new();
    };
    let mut open: Vec<bool> = settled
        .iter()
        .map(|input| gate::judge_surface(input.clone()).inconclusive)
        .collect();
    for round in rounds {
        for (i, input) in round.into_iter().enumerate() {
            if open.get(i).copied().unwrap_or(false) {
                open[i] = gate::judge_surface(input.clone()).inconclusive;
                settled[i] = input;
            }
        }
    }
    settled
}

/// One round's inputs of another shard joined into the merged ones, surface by surface.
fn join_inputs(
    inputs: &mut [SurfaceInput],
    parts: Vec<SurfaceInput>,
    (first, shard): (&str, &str),
) -> Result<()> {
    for part in parts {
        let Some(merged) = inputs.iter_mut().find(|i| i.name == part.name) else {
            continue;
        };
        if let Some(key) = differing(
            &fields(&*merged)?,
            &fields(&part)?,
            &["base", "head", "base_suite", "notes"],
        ) {
            return Err(Error::usage(format!(
                "shards {first} and {shard} disagree on surface `{}` (`{key}` differs): every shard must come from the same check of the same revisions; re-run all of them",
                escape_controls(&part.name)
            )));
        }
        for note in part.notes {
            if !merged.notes.contains(&note) {
                merged.notes.push(note);
            }
        }
        merged.base = join(merged.base.take(), part.base);
        merged.head = join(merged.head.take(), part.head);
        merged.base_suite = match (merged.base_suite.take(), part.base_suite) {
            (Some(a), Some(b)) => join(Some(a.base), Some(b.base))
                .zip(join(Some(a.head), Some(b.head)))
                .map(|(base, head)| BaseSuiteSides { base, head }),
            (a, b) => a.or(b),
        };
    }
    Ok(())
}

/// The names of a shard's surfaces, each once.
fn surface_names(shard: &str, inputs: &[SurfaceInput]) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for input in inputs {
        if !names.insert(input.name.clone()) {
            return Err(Error::usage(format!(
                "shard {shard} lists surface `{}` twice; it is not a file `check --shard` wrote",
                escape_controls(&input.name)
            )));
        }
    }
    Ok(names)
}

fn list(names: &BTreeSet<String>) -> String {
    let names: Vec<String> = names
        .iter()
        .map(|n| format!("`{}`", escape_controls(n)))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The context fields that shards may see differently, and that are joined (each item
/// once, in order): problems and observations found while one shard ran. Every other
/// field (revisions, tier and its reasons, changed files, artifacts, approvals, and any
/// field added later) comes from the same base and head and must agree, or the merge is
/// refused.
const JOINED_CONTEXT: &[&str] = &["errors", "blockers", "notes"];

/// Checks that a later shard's context agrees with the merged one, and joins its
/// errors, blockers and notes.
fn join_context(merged: &mut Context, part: Context, first: &str, shard: &str) -> Result<()> {
    if let Some(key) = differing(&fields(&*merged)?, &fields(&part)?, JOINED_CONTEXT) {
        let what = match key.as_str() {
            "base" | "head" | "merge_base" => "come from different base or head revisions",
            _ => "disagree",
        };
        return Err(Error::usage(format!(
            "shards {first} and {shard} {what} (`{key}` differs): every shard must come from the same check of the same revisions; re-run all of them"
        )));
    }
    for (into, from) in [
        (&mut merged.errors, part.errors),
        (&mut merged.blockers, part.blockers),
        (&mut merged.notes, part.notes),
    ] {
        for item in from {
            if !into.contains(&item) {
                into.push(item);
            }
        }
    }
    Ok(())
}

/// A shard's record as its JSON fields, to compare field by field.
fn fields(value: &impl serde::Serialize) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(Error::usage("a shard's record could not be compared")),
    }
}

/// The first field, other than `except`, where two records differ.
fn differing(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
    except: &[&str],
) -> Option<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .find(|key| !except.contains(&key.as_str()) && a.get(*key) != b.get(*key))
        .cloned()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not a promptgate {what}: {e}",
            path.display()
        ))
    })
}

/// The `K/N` labels must cover 1..N exactly once.
fn covers_all(labels: &[&str]) -> Result<()> {
    let parsed: Vec<Shard> = labels
        .iter()
        .map(|s| Shard::parse(s))
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::usage)?;
    let count = parsed.first().map_or(0, |s| s.count);
    let mut seen: Vec<u32> = parsed.iter().map(|s| s.index).collect();
    seen.sort_unstable();
    if parsed.iter().all(|s| s.count == count) && seen == (1..=count).collect::<Vec<_>>() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "the shards do not cover 1..N exactly once (got {}); pass the --out directory of every shard",
        labels.join(", ")
    )))
}

/// One side's results from two shards: cases joined, metrics re-weighted, costs summed.
fn join(a: Option<SideResult>, b: Option<SideResult>) -> Option<SideResult> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.join_cases(b)),
        (a, b) => a.or(b),
    }
}

/// Cases in id order, as a single run reports them.
fn sorted(mut input: SurfaceInput) -> SurfaceInput {
    let base_suite = input
        .base_suite
        .as_mut()
        .map(|s| [&mut s.base, &mut s.head]);
    for side in [input.base.as_mut(), input.head.as_mut()]
        .into_iter()
        .flatten()
        .chain(base_suite.into_iter().flatten())
    {
        side.cases.sort_by(|x, y| x.id.cmp(&y.id));
    }
    input
}

/// What `eval --out DIR` wrote, as far as merging needs it.
#[derive(serde::Deserialize)]
struct EvalFile {
    rev: String,
    #[serde(default)]
    shard: Option<String>,
    cases: Vec<CaseRecord>,
    surfaces: Vec<EvalSurface>,
}

#[derive(serde::Deserialize)]
struct EvalSurface {
    name: String,
    provider: String,
}

/// Joins `eval --shard K/N --out DIR` results into the results of one run: every case
/// record, and surface totals recomputed from them (latency percentiles exactly).
pub fn merge_evals(dirs: &[PathBuf]) -> Result<MergedEval> {
    let files: Vec<EvalFile> = dirs
        .iter()
        .map(|dir| read_json(&dir.join(EVAL_FILE), "eval result"))
        .collect::<Result<_>>()?;
    covers_all(
        &files
            .iter()
            .map(|f| f.shard.as_deref().unwrap_or(""))
            .collect::<Vec<_>>(),
    )?;
    let rev = files.first().map(|f| f.rev.clone()).unwrap_or_default();
    if files.iter().any(|f| f.rev != rev) {
        return Err(Error::usage(
            "the eval shards come from different revisions",
        ));
    }
    let providers: BTreeMap<String, String> = files
        .iter()
        .flat_map(|f| &f.surfaces)
        .map(|s| (s.name.clone(), s.provider.clone()))
        .collect();
    let mut records: Vec<CaseRecord> = files.into_iter().flat_map(|f| f.cases).collect();
    records.sort_by(|a, b| (&a.surface, &a.id).cmp(&(&b.surface, &b.id)));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for record in &records {
        *counts.entry(record.surface.as_str()).or_default() += 1;
    }
    let mut totals: BTreeMap<&str, Accumulator> = counts
        .iter()
        .map(|(name, n)| (*name, Accumulator::new(*n, 1, false)))
        .collect();
    for record in &records {
        if let Some(total) = totals.get_mut(record.surface.as_str()) {
            total.add(record);
        }
    }
    let surfaces = totals
        .into_iter()
        .map(|(name, t)| t.finish(name, providers.get(name).map_or("", String::as_str)))
        .collect();
    let result = RunResult {
        surfaces,
        calls: 0,
        cache_hits: 0,
        spent_usd: None,
    };
    Ok(MergedEval {
        rev,
        records,
        result,
    })
}
