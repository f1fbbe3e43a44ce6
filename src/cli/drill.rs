//! `promptgate drill`: rehearse rolling a surface back (the library's [`Drill`], step by
//! step against the clock), and `drill --status`: when each surface was last drilled.

use super::{open_repo, Cli, DrillArgs};
use crate::diagnostic::Diagnostic;
use crate::drill::run::{render, write_outputs, Drill, DrillRequest};
use crate::drill::{self, records, Outcome};
use crate::error::{Error, Result};
use crate::exit;
use crate::git::{Repo, WorkTreeSnapshot};

/// The exit code of an interrupted drill: 128 + SIGINT, as shells report Ctrl-C.
const INTERRUPTED: i32 = 130;

pub(super) fn run(cli: &Cli, args: &DrillArgs) -> Result<i32> {
    let repo = open_repo()?;
    let config_path = super::config_path(cli, &repo);
    if args.status {
        return status(&repo, &config_path);
    }
    let name = args
        .surface
        .as_deref()
        .ok_or_else(|| Error::usage("pass --surface NAME (or --status)"))?;
    let from = repo.resolve(args.from.as_deref().unwrap_or("HEAD"))?;
    let config = drill::config_at(&repo, from, &config_path).ok_or_else(|| {
        Error::invalid(
            Diagnostic::error(
                &config_path,
                format!("no valid promptgate config at {}", crate::git::short(from)),
            )
            .with_help("run `promptgate validate --rev <rev>`"),
        )
    })?;
    let surface = config.surface_named(name).ok_or_else(|| {
        Error::invalid(
            Diagnostic::error(&config_path, format!("unknown surface `{name}`")).with_help(
                format!("the config declares: {}", config.surface_names().join(", ")),
            ),
        )
    })?;
    let request = DrillRequest {
        to: args.to.clone(),
        cache_dir: args.cache.dir()?,
        read_cache: !args.cache.no_cache,
    };
    let mut drill = Drill::new(&repo, &config, surface, from, &request);
    let report = match drill.perform(&config_path) {
        Ok(report) => report,
        Err(drill::DrillError::Interrupted(_)) => {
            eprintln!("promptgate: drill interrupted; its temporary worktree was removed");
            return Ok(INTERRUPTED);
        }
        Err(drill::DrillError::Cannot(message)) => {
            eprintln!("error: the drill could not run: {message}");
            return Ok(exit::ERROR);
        }
    };
    if let Some(record) = write_outputs(&repo, args.out.as_deref(), &report)? {
        eprintln!(
            "promptgate: drill record written to {} (commit it)",
            record.display()
        );
    }
    print!("{}", render(&report));
    Ok(if report.outcome == Outcome::Pass {
        exit::PASS
    } else {
        exit::BLOCKED
    })
}

/// Every surface with its last drill and whether it is overdue.
fn status(repo: &Repo, config_path: &str) -> Result<i32> {
    let head = repo.head()?;
    let config = drill::config_at(repo, head, config_path).ok_or_else(|| {
        Error::invalid(Diagnostic::error(
            config_path,
            "no valid promptgate config at HEAD",
        ))
    })?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::usage("the repository is bare"))?;
    let all = records::list(&WorkTreeSnapshot::new(root))?;
    let today = crate::util::time::today();
    println!(
        "{:<24} {:<12} {:<8} overdue (every {} days)",
        "surface", "last drill", "outcome", config.drill.every_days
    );
    let mut any_overdue = false;
    for surface in config.surface.iter().map(|s| s.get_ref().name.get_ref()) {
        let (last, _) = records::latest(&all, surface);
        let due = records::overdue(&all, surface, config.drill.every_days, &today).is_some();
        any_overdue |= due;
        let overdue = if due { "yes" } else { "no" };
        let (date, outcome) = last.map_or(("never".to_string(), "-"), |r| {
            (
                r.date.clone(),
                if r.outcome == Outcome::Pass {
                    "pass"
                } else {
                    "fail"
                },
            )
        });
        println!("{surface:<24} {date:<12} {outcome:<8} {overdue}");
    }
    // A scheduled `drill --status` fails while any drill is overdue.
    Ok(if any_overdue {
        exit::BLOCKED
    } else {
        exit::PASS
    })
}
