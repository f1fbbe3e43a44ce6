//! `promptgate merge`: the shards of a `check --shard K/N` (or `eval --shard K/N`) matrix,
//! combined by the library ([`crate::check::shard`]) and printed or written as one run's.

use super::check::emit;
use super::Format;
use super::{Cli, MergeArgs};
use crate::check::shard;
use crate::error::Result;
use crate::report;

pub(super) fn run(cli: &Cli, args: &MergeArgs) -> Result<i32> {
    if !shard::only_evals(&args.dirs) {
        let checked = shard::merge_checks(&args.dirs)?;
        emit(cli, args.out.as_deref(), args.format, &checked)?;
        return Ok(checked.report.exit_code);
    }
    let merged = shard::merge_evals(&args.dirs)?;
    let mut stream =
        report::json::CaseStream::new(args.format == Format::Json, args.out.as_deref())?;
    stream.begin(&merged.rev, None)?;
    merged.records.iter().for_each(|record| stream.case(record));
    stream.finish(&merged.result)?;
    if args.format != Format::Json {
        let rev = &merged.rev[..merged.rev.len().min(7)];
        super::eval::print_summary(cli, &merged.result, rev);
    }
    Ok(if merged.result.complete() {
        crate::exit::PASS
    } else {
        crate::exit::ERROR
    })
}
