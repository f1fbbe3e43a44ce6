//! The command line: flags (each with its `PROMPTGATE_*` environment variable), dispatch
//! to the commands, and turning every outcome into the documented exit code.

mod changelog;
mod check;
mod compare;
mod diff;
mod drill;
mod eval;
mod hook;
mod merge;
mod pull;
mod record;
mod review;
mod validate;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::exit;
use crate::git::{Repo, Snapshot};

#[derive(Debug, Parser)]
#[command(
    name = "promptgate",
    version,
    about = "The merge gate for LLM prompts: diffs, eval deltas, artifacts and approvals",
    after_help = "Exit codes: 0 pass/success, 1 blocked, 2 usage error, 3 needs sign-off, \
                  4 could not finish (git, provider, GitHub, I/O), 5 invalid config, prompt or case file."
)]
pub struct Cli {
    /// The config file [default: promptgate.toml at the repository root]
    #[arg(long, global = true, env = "PROMPTGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// When to colour the output
    #[arg(
        long,
        global = true,
        env = "PROMPTGATE_COLOR",
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// An output format, as `--format` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// The format of a command that prints text or JSON only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole gate: evals on base and head, rules, artifacts, tier and verdict
    Check(CheckArgs),
    /// Show the prompt change set between the merge base of two revisions and the head
    Diff(DiffArgs),
    /// Run surfaces' eval suites on one revision
    Eval(EvalArgs),
    /// Check the config, prompt templates and eval cases without calling a model
    Validate(ValidateArgs),
    /// Rehearse rolling a surface back, or show when each was last drilled
    Drill(DrillArgs),
    /// Local git hooks: install them, and what they run
    Hook(HookArgs),
    /// Write a starting promptgate.toml and an example surface
    Init(InitArgs),
    /// Combine the shards of a `check --shard K/N` matrix into the verdict one run gives
    Merge(MergeArgs),
    /// Evaluate the gated surfaces at a revision and add the results to the ledger
    /// (git notes under refs/notes/promptgate)
    Record(RecordArgs),
    /// The Monday eval review from the ledger: headline trend per week, this week's
    /// regression flags with the change they started with, the tail, drift
    Review(ReviewArgs),
    /// The Friday "what changed in production": merged changes to surfaces with their eval,
    /// model, cost and latency deltas, oldest first
    Changelog(ChangelogArgs),
    /// Model-watch: one surface on its provider and on a candidate, same cases, paired statistics
    Compare(CompareArgs),
    /// The experiment log kept by `compare --log`, newest first
    Experiments(ExperimentsArgs),
    /// Print the JSON Schema of promptgate.toml (for editors: `#:schema` line)
    Schema,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The surface compared
    #[arg(long, env = "PROMPTGATE_SURFACE", value_name = "NAME")]
    pub surface: String,
    /// The candidate provider ([provider.CANDIDATE] in the default branch's config)
    #[arg(long, value_name = "CANDIDATE")]
    pub provider: String,
    /// The revision whose prompts and cases run
    #[arg(long, env = "PROMPTGATE_REV", default_value = "HEAD")]
    pub rev: String,
    /// Keep the comparison in the ledger as an experiment testing HYPOTHESIS
    #[arg(long, value_name = "HYPOTHESIS")]
    pub log: Option<String>,
    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct ExperimentsArgs {
    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: TextOrJson,
    /// Read the local ledger only (by default origin's is fetched and merged in first)
    #[arg(long, env = "PROMPTGATE_NO_FETCH")]
    pub no_fetch: bool,
}

/// The ledger's revision and remote, as `record` and `review` take them.
#[derive(Debug, Clone, Args)]
pub struct LedgerArgs {
    /// The revision recorded, or whose first-parent history is reviewed (the default branch's tip)
    #[arg(
        long,
        env = "PROMPTGATE_REV",
        value_name = "REV",
        default_value = "HEAD"
    )]
    pub rev: String,

    /// The remote the ledger is shared with: `review` fetches from it, `record --push` pushes
    #[arg(
        long,
        env = "PROMPTGATE_REMOTE",
        value_name = "NAME",
        default_value = "origin"
    )]
    pub remote: String,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Also record, for each of the last N UTC ISO weeks, the last first-parent commit of
    /// that week (cache first): a trend on day one
    #[arg(long, env = "PROMPTGATE_BACKFILL", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=520))]
    pub backfill: Option<u32>,

    /// Share the ledger: fetch the remote's, merge (union of lines), push, retry until it lands
    #[arg(long, env = "PROMPTGATE_PUSH")]
    pub push: bool,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,

    /// How many UTC ISO weeks, this one included
    #[arg(long, env = "PROMPTGATE_WEEKS", value_name = "N", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=104))]
    pub weeks: u32,

    /// Review only this surface (repeatable) [default: every gated surface]
    #[arg(
        long,
        env = "PROMPTGATE_SURFACE",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub surface: Vec<String>,

    /// Output format
    #[arg(
        long,
        env = "PROMPTGATE_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub format: Format,

    /// Write review.json, review.md and an SVG chart per surface into DIR
    #[arg(long, env = "PROMPTGATE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Open or update this week's review issue on GitHub, with a task-list item per
    /// regression flag (token from GITHUB_TOKEN, API from GITHUB_API_URL)
    #[arg(long, env = "PROMPTGATE_POST")]
    pub post: bool,

    /// The GitHub repository --post writes to [default: GITHUB_REPOSITORY, else the origin remote]
    #[arg(long, env = "PROMPTGATE_REPO", value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// Read the local ledger only (by default the remote's is fetched and merged in first)
    #[arg(long, env = "PROMPTGATE_NO_FETCH")]
    pub no_fetch: bool,

    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct ChangelogArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,

    /// Changes merged after this: a date (YYYY-MM-DD, UTC), Nd (N days ago) or a revision
    #[arg(
        long,
        env = "PROMPTGATE_SINCE",
        value_name = "WHEN",
        default_value = "7d"
    )]
    pub since: String,

    /// Changes merged up to this: a date, Nd or a revision [default: now]
    #[arg(
        long,
        env = "PROMPTGATE_UNTIL",
        value_name = "WHEN",
        default_value = "0d"
    )]
    pub until: String,

    /// Output format (text prints the Markdown)
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "markdown")]
    pub format: Format,

    /// The GitHub repository asked for pull requests messages do not name (with GITHUB_TOKEN) [default: GITHUB_REPOSITORY, else the origin remote]
    #[arg(long, env = "PROMPTGATE_REPO", value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// Read the local ledger only (by default the remote's is fetched and merged in first)
    #[arg(long, env = "PROMPTGATE_NO_FETCH")]
    pub no_fetch: bool,

    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The response cache, as every command that calls a model takes it.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Do not read cached responses (fresh responses are still stored)
    #[arg(long, env = "PROMPTGATE_NO_CACHE")]
    pub no_cache: bool,

    /// Where responses are cached [default: .promptgate/cache at the repository root]
    #[arg(long, env = "PROMPTGATE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CacheArgs {
    /// `--cache-dir` made absolute against where promptgate runs, as the flag reads (the
    /// library resolves a relative one against the checkout).
    pub fn dir(&self) -> Result<Option<PathBuf>> {
        match &self.cache_dir {
            Some(dir) if dir.is_relative() => Ok(Some(
                std::env::current_dir()
                    .map_err(|e| Error::io("read", "the current directory", e))?
                    .join(dir),
            )),
            dir => Ok(dir.clone()),
        }
    }
}

/// The two sides of a change.
#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// The revision the change is compared against [default: the remote's default branch:
    /// origin/HEAD, else origin/main, origin/master, else a local main or master]
    #[arg(long, env = "PROMPTGATE_BASE", value_name = "REF")]
    pub base: Option<String>,

    /// The revision holding the change [default: HEAD]
    #[arg(long, env = "PROMPTGATE_HEAD", value_name = "REF")]
    pub head: Option<String>,
}

impl RangeArgs {
    /// The head revision as given, else `HEAD`.
    pub fn head_or_default(&self) -> &str {
        self.head.as_deref().unwrap_or("HEAD")
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub range: RangeArgs,

    /// Write report.json, report.md, junit.xml and prompts.diff into DIR
    #[arg(long, env = "PROMPTGATE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: Format,

    /// The pull request description (Markdown), searched for the required artifacts
    #[arg(long, env = "PROMPTGATE_PR_BODY", value_name = "FILE")]
    pub pr_body: Option<PathBuf>,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Run only shard K of N of the cases; with --out, leaves DIR/shard.json for `promptgate merge`
    #[arg(long, env = "PROMPTGATE_SHARD", value_name = "K/N", requires = "out")]
    pub shard: Option<String>,

    /// Gate pull request N: its base, head, description and approvals are read from GitHub
    /// [default in Actions: the event's pull request]
    #[arg(long, env = "PROMPTGATE_PR", value_name = "N")]
    pub pr: Option<u64>,

    /// The GitHub repository [default: GITHUB_REPOSITORY, else the origin remote]
    #[arg(long, env = "PROMPTGATE_REPO", value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// Write the verdict comment on the pull request and the `promptgate` commit status
    /// (token from GITHUB_TOKEN, API from GITHUB_API_URL)
    #[arg(long, env = "PROMPTGATE_POST")]
    pub post: bool,

    /// Use the head's own providers, surface file mappings and commands (for a maintainer
    /// running the gate by hand on a change they vouch for; never set it in CI, so it has
    /// no environment variable)
    #[arg(long)]
    pub trust_head: bool,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The surface to drill
    #[arg(
        long,
        env = "PROMPTGATE_SURFACE",
        value_name = "NAME",
        required_unless_present = "status"
    )]
    pub surface: Option<String>,

    /// The version rolled back from [default: HEAD]
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,

    /// The version to roll back to [default: the version before the surface's last change]
    #[arg(long, value_name = "REV")]
    pub to: Option<String>,

    /// Write drill.json and drill.md into DIR
    #[arg(long, env = "PROMPTGATE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// List every surface with its last drill and whether it is overdue
    #[arg(long, conflicts_with_all = ["surface", "from", "to"])]
    pub status: bool,

    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Install hooks/pre-commit and hooks/pre-push into this repository's hooks directory
    Install {
        /// Only the pre-commit hook
        #[arg(long)]
        pre_commit: bool,
        /// Only the pre-push hook
        #[arg(long)]
        pre_push: bool,
        /// Replace hooks promptgate did not write (a backup is kept)
        #[arg(long)]
        force: bool,
    },
    /// Remove promptgate's hooks (restoring any hook they replaced)
    Uninstall {
        /// Only the pre-commit hook
        #[arg(long)]
        pre_commit: bool,
        /// Only the pre-push hook
        #[arg(long)]
        pre_push: bool,
    },
    /// Check the staged change: config, templates, cases, change records; no model call
    PreCommit,
    /// Gate the pushed commits (git's pre-push refs on stdin)
    PrePush {
        /// The remote's name, as git passes it
        remote: Option<String>,
        /// The remote's URL, as git passes it
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The --out directories of every `check --shard K/N` run
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,

    /// Write report.json, report.md, junit.xml into DIR
    #[arg(long, env = "PROMPTGATE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub range: RangeArgs,

    /// Compare the index (staged changes) with HEAD instead of two revisions
    #[arg(long, conflicts_with = "base")]
    pub staged: bool,

    /// Read the config from this revision instead of the head
    #[arg(long, env = "PROMPTGATE_CONFIG_REV", value_name = "REV")]
    pub config_rev: Option<String>,

    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Evaluate the prompts, cases and config as committed at this revision [default: the
    /// working tree, uncommitted edits included]
    #[arg(long, env = "PROMPTGATE_REV", value_name = "REV")]
    pub rev: Option<String>,

    /// Evaluate only this surface (repeatable) [default: every gated surface]
    #[arg(long, value_name = "NAME")]
    pub surface: Vec<String>,

    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: TextOrJson,

    /// Also write the full results to DIR/eval.json
    #[arg(long, env = "PROMPTGATE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Run only shard K of N (a deterministic split of the cases, for CI matrices)
    #[arg(long, env = "PROMPTGATE_SHARD", value_name = "K/N")]
    pub shard: Option<String>,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Fill replay cassettes by calling each replay provider's `record_from` provider
    #[arg(long)]
    pub record: bool,

    /// Read the config from this revision instead of --rev
    #[arg(long, env = "PROMPTGATE_CONFIG_REV", value_name = "REV")]
    pub config_rev: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate the files as committed at this revision instead of the working tree
    #[arg(long, env = "PROMPTGATE_REV", value_name = "REV")]
    pub rev: Option<String>,

    /// Output format
    #[arg(long, env = "PROMPTGATE_FORMAT", default_value = "text")]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Overwrite files that already exist
    #[arg(long)]
    pub force: bool,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", error_text(&error));
            error.exit_code()
        }
    }
}

fn error_text(error: &Error) -> String {
    match error {
        Error::Invalid(_) => error.to_string(),
        _ => format!("error: {error}"),
    }
}

fn run(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Check(args) => check::run(cli, args),
        Command::Merge(args) => merge::run(cli, args),
        Command::Record(args) => record::run(cli, args),
        Command::Review(args) => review::run(cli, args),
        Command::Changelog(args) => changelog::run(cli, args),
        Command::Compare(args) => compare::run(cli, args),
        Command::Experiments(args) => compare::list(args),
        Command::Hook(args) => hook::run(cli, args),
        Command::Drill(args) => drill::run(cli, args),
        Command::Diff(args) => diff::run(cli, args),
        Command::Eval(args) => eval::run(cli, args),
        Command::Validate(args) => validate::run(cli, args),
        Command::Schema => {
            print!("{}", crate::config::schema::json_schema());
            Ok(exit::PASS)
        }
        Command::Init(args) => {
            let written = crate::init::write(&args.dir, args.force)?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            println!("next: edit promptgate.toml, then run `promptgate validate`");
            Ok(exit::PASS)
        }
    }
}

/// Whether to colour stdout, from `--color`, `NO_COLOR`, `CLICOLOR_FORCE` and the terminal.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                return false;
            }
            if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                return true;
            }
            std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// Opens the repository git would: `GIT_DIR` when set, else the one around the current
/// directory; with `GIT_WORK_TREE` and `GIT_INDEX_FILE` (what git hands its hooks).
fn open_repo() -> Result<Repo> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", "the current directory", e))?;
    // git hands its hooks `GIT_WORK_TREE=.` (relative to the current directory); libgit2
    // would read a relative one against the git directory. Made absolute here, before any
    // thread is started, for libgit2 and for every command promptgate runs.
    if let Some(work_tree) = std::env::var_os("GIT_WORK_TREE").filter(|v| !v.is_empty()) {
        if PathBuf::from(&work_tree).is_relative() {
            std::env::set_var("GIT_WORK_TREE", cwd.join(work_tree));
        }
    }
    Ok(Repo::from_env(&cwd)?)
}

/// The config's path in the repository (see [`config::source::repo_path`]).
pub(crate) fn config_path(cli: &Cli, repo: &Repo) -> String {
    config::source::repo_path(repo, cli.config.as_deref())
}

/// The config `--config` and `--config-rev` name, else the default path in `fallback` (see
/// [`config::source::read`]).
fn read_config(
    cli: &Cli,
    repo: &Repo,
    config_rev: Option<&str>,
    fallback: &dyn Snapshot,
) -> Result<config::source::ConfigText> {
    let repo_path = config_path(cli, repo);
    config::source::read(repo, cli.config.as_deref(), repo_path, config_rev, fallback)
}

/// Prints warnings to stderr, where they do not mix with machine-readable stdout.
fn print_warnings(warnings: &[Diagnostic]) {
    let mut stderr = std::io::stderr().lock();
    for warning in warnings {
        let _ = writeln!(stderr, "{warning}");
    }
}
