//! `promptgate merge`: the shards of a `check --shard K/N` matrix, combined. Every shard
//! must come from the same base and head and together cover 1..N once; their cases are
//! joined per surface and side and judged exactly as a single run would be.

use std::collections::BTreeMap;

use super::check::{emit, Checked, ShardFile, SHARD_FILE};
use super::{Cli, MergeArgs};
use crate::error::{Error, Result};
use crate::eval::runner::{Latency, MetricValue, Shard};
use crate::gate::{self, SideResult, SurfaceInput};

pub(super) fn run(cli: &Cli, args: &MergeArgs) -> Result<i32> {
    let shards = args
        .dirs
        .iter()
        .map(|dir| read(&dir.join(SHARD_FILE)))
        .collect::<Result<Vec<_>>>()?;
    check_coverage(&shards)?;
    let mut shards = shards.into_iter();
    let first = shards
        .next()
        .ok_or_else(|| Error::usage("no shard directories given"))?;
    let context = first.context.clone();
    let mut inputs = first.inputs;
    for shard in shards {
        for (merged, part) in inputs.iter_mut().zip(shard.inputs) {
            merged.base = join(merged.base.take(), part.base);
            merged.head = join(merged.head.take(), part.head);
        }
    }
    let surfaces = inputs
        .into_iter()
        .map(sorted)
        .map(gate::judge_surface)
        .collect();
    let checked = Checked {
        report: gate::decide(context, surfaces),
        changes: None,
        sides: Vec::new(),
    };
    emit(cli, args.out.as_deref(), args.format, &checked)?;
    Ok(checked.report.exit_code)
}

fn read(path: &std::path::Path) -> Result<ShardFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not a promptgate shard file: {e}",
            path.display()
        ))
    })
}

/// The shards must share base and head and cover 1..N exactly once.
fn check_coverage(shards: &[ShardFile]) -> Result<()> {
    let parsed: Vec<Shard> = shards
        .iter()
        .map(|s| Shard::parse(&s.shard))
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::usage)?;
    let count = parsed.first().map_or(0, |s| s.count);
    let mut seen: Vec<u32> = parsed.iter().map(|s| s.index).collect();
    seen.sort_unstable();
    let complete =
        parsed.iter().all(|s| s.count == count) && seen == (1..=count).collect::<Vec<_>>();
    if !complete {
        let have: Vec<&str> = shards.iter().map(|s| s.shard.as_str()).collect();
        return Err(Error::usage(format!("the shards do not cover 1..N exactly once (got {}); pass the --out directory of every shard", have.join(", "))));
    }
    let revisions = |s: &ShardFile| (s.context.base.clone(), s.context.head.clone());
    if shards.iter().any(|s| revisions(s) != revisions(&shards[0])) {
        return Err(Error::usage(
            "the shards come from different base or head revisions".to_string(),
        ));
    }
    Ok(())
}

/// One side's results from two shards: cases joined, metrics re-weighted, costs summed.
fn join(a: Option<SideResult>, b: Option<SideResult>) -> Option<SideResult> {
    let (mut a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => return a.or(b),
    };
    let mut sums: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for (name, metric) in a.metrics.iter().chain(b.metrics.iter()) {
        let entry = sums.entry(name.clone()).or_default();
        entry.0 += metric.mean * metric.count as f64;
        entry.1 += metric.count;
    }
    a.metrics = sums
        .into_iter()
        .map(|(name, (sum, count))| {
            (
                name,
                MetricValue {
                    mean: sum / count.max(1) as f64,
                    count,
                },
            )
        })
        .collect();
    a.cost_usd = a.cost_usd.zip(b.cost_usd).map(|(x, y)| x + y);
    // Percentiles do not merge exactly; the slower shard's stand for the whole.
    a.latency_ms = Latency {
        p50: a.latency_ms.p50.max(b.latency_ms.p50),
        p95: a.latency_ms.p95.max(b.latency_ms.p95),
    };
    a.cases.extend(b.cases);
    Some(a)
}

/// Cases in id order, as a single run reports them.
fn sorted(mut input: SurfaceInput) -> SurfaceInput {
    for side in [&mut input.base, &mut input.head].into_iter().flatten() {
        side.cases.sort_by(|x, y| x.id.cmp(&y.id));
    }
    input
}
