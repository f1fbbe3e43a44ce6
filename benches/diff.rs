//! End-to-end timings of `promptgate diff` on git repositories built with `git fast-import`.
//!
//! The release binary is timed as a process (start-up included), because that is what a CI
//! job or a git hook pays. Two targets:
//! 1. `diff --base main --head feature` over a 224-file bulk rename in a 3,000-commit
//!    history: well under 100 ms.
//! 2. `diff --staged` with nothing relevant staged in a 50,000-file repository: within 2x
//!    of `git diff --cached --name-only`.
//! 3. `diff --base main --head feature` where the feature edits the last file of a
//!    10,000-file include chain (the prompt includes `partials/c00001.md`, which includes
//!    `partials/c00002.md`, …): near-linear, well under a second.
//!
//! Run with `cargo bench --bench diff`; `PROMPTGATE_BENCH_RUNS` sets the timed runs
//! (default 20, after 3 warm-ups). The bench panics if the binary's output is wrong; missed
//! timing targets are only reported, since wall-clock numbers vary between machines.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_promptgate");
const WARMUPS: usize = 3;
const DEFAULT_RUNS: usize = 20;

const CONFIG: &str = r#"[[surface]]
name = "support"
prompts = ["prompts/**/*.md"]
tier = "self"
gate = false
"#;

/// 8 areas x 28 prompts = 224 prompt files.
const AREAS: [&str; 8] = [
    "billing",
    "onboarding",
    "refunds",
    "shipping",
    "accounts",
    "security",
    "search",
    "escalation",
];
const PROMPTS_PER_AREA: usize = 28;
const HISTORY_COMMITS: usize = 3000;
/// How many of the moved prompts the `feature-edited` branch also edits.
const EDITED_RENAMES: usize = 20;
const RENAME_TARGET_MS: f64 = 100.0;

/// 500 directories x 100 files = 50,000 files.
const BIG_DIRS: usize = 500;
const FILES_PER_DIR: usize = 100;
const STAGED_TARGET_RATIO: f64 = 2.0;
const HOOK_TARGET_MS: f64 = 20.0;

/// Files in the include chain, all in one directory.
const CHAIN_FILES: usize = 10_000;
const CHAIN_TARGET_MS: f64 = 1000.0;

fn main() {
    let runs = runs();
    let renames = bench_bulk_rename(runs);
    let staged = bench_staged(runs);
    let chain = bench_include_chain(runs);
    print_table(runs, &renames, &staged, &chain);
}

fn runs() -> usize {
    match std::env::var("PROMPTGATE_BENCH_RUNS") {
        Ok(value) => match value.parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("PROMPTGATE_BENCH_RUNS must be a positive integer, got {value:?}"),
        },
        Err(_) => DEFAULT_RUNS,
    }
}

// ---------------------------------------------------------------------------------------
// The benchmarks

struct Timing {
    median: Duration,
    min: Duration,
}

/// Runs `f` after warm-ups (to fill the page cache and git's pack windows) and summarises.
fn time(runs: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..WARMUPS {
        f();
    }
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let mid = samples.len() / 2;
    let median = if samples.len() % 2 == 0 {
        (samples[mid - 1] + samples[mid]) / 2
    } else {
        samples[mid]
    };
    Timing {
        median,
        min: samples[0],
    }
}

/// Timings of the pure move (`feature`) and the move with edits (`feature-edited`).
struct RenameTimings {
    pure: Timing,
    edited: Timing,
}

fn bench_bulk_rename(runs: usize) -> RenameTimings {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let repo = dir.path();
    init_repo(repo);
    fast_import(repo, &rename_history());
    let time_head = |head: &str| {
        let args = ["diff", "--base", "main", "--head", head, "--format", "json"];
        check_renames(head, &stdout_of(promptgate(repo, &args)));
        time(runs, || quiet(promptgate(repo, &args)))
    };
    RenameTimings {
        pure: time_head("feature"),
        edited: time_head("feature-edited"),
    }
}

/// Every prompt file must show up as a rename, and nothing else may.
fn check_renames(head: &str, json: &str) {
    let prompts = AREAS.len() * PROMPTS_PER_AREA;
    let renamed = json.matches(r#""status": "renamed""#).count();
    let changes = json.matches(r#""status":"#).count();
    assert!(
        renamed == prompts && changes == prompts,
        "diff --head {head}: expected {prompts} changes, all renamed; got {changes} changes, {renamed} renamed:\n{json}"
    );
}

struct StagedTimings {
    promptgate: Timing,
    hook: Timing,
    git: Timing,
}

fn bench_staged(runs: usize) -> StagedTimings {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let repo = dir.path();
    init_repo(repo);
    fast_import(repo, &big_tree());
    // A real index (with stat data and cache-tree) and working tree, as after a clone.
    quiet(git(repo, &["reset", "-q", "--hard"]));
    let changed = big_file_path(1, 0);
    std::fs::write(repo.join(&changed), "an irrelevant edit\n").expect("edit a file");
    quiet(git(repo, &["add", "--", &changed]));

    let promptgate_args = ["diff", "--staged", "--format", "json"];
    let git_args = ["diff", "--cached", "--name-only"];
    check_staged(
        &stdout_of(promptgate(repo, &promptgate_args)),
        &stdout_of(git(repo, &git_args)),
        &changed,
    );
    let hook_args = ["hook", "pre-commit"];
    quiet(promptgate(repo, &hook_args));
    StagedTimings {
        promptgate: time(runs, || quiet(promptgate(repo, &promptgate_args))),
        hook: time(runs, || quiet(promptgate(repo, &hook_args))),
        git: time(runs, || quiet(git(repo, &git_args))),
    }
}

/// git must see the one staged file, and promptgate no prompt change.
fn check_staged(promptgate_json: &str, git_names: &str, changed: &str) {
    assert_eq!(git_names.trim(), changed, "git diff --cached --name-only");
    assert!(
        promptgate_json.contains(r#""changes": []"#),
        "diff --staged: expected no prompt changes, got:\n{promptgate_json}"
    );
}

fn bench_include_chain(runs: usize) -> Timing {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let repo = dir.path();
    init_repo(repo);
    fast_import(repo, &include_chain());
    let args = [
        "diff", "--base", "main", "--head", "feature", "--format", "json",
    ];
    check_chain(&stdout_of(promptgate(repo, &args)));
    time(runs, || quiet(promptgate(repo, &args)))
}

/// The edit at the end of the chain must reach the surface through the includes.
fn check_chain(json: &str) {
    let last = chain_path(CHAIN_FILES - 1);
    let changes = json.matches(r#""status":"#).count();
    assert!(
        changes == 1
            && json.contains(&format!(r#""path": "{last}""#))
            && json.contains(r#""via": "include""#)
            && json.contains(r#""support""#),
        "diff --head feature: expected one change to {last} via include of surface support, got:\n{json}"
    );
}

fn print_table(runs: usize, renames: &RenameTimings, staged: &StagedTimings, chain: &Timing) {
    let prompts = AREAS.len() * PROMPTS_PER_AREA;
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let rename_line = |label: &str, t: &Timing| {
        let ok = ms(t.median) < RENAME_TARGET_MS;
        println!(
            "bulk rename diff, {label} ({prompts} files, {HISTORY_COMMITS} commits): median {:.1} ms, min {:.1} ms  [target < {RENAME_TARGET_MS} ms: {}]",
            ms(t.median),
            ms(t.min),
            verdict(ok)
        );
    };
    let ratio = ms(staged.promptgate.median) / ms(staged.git.median);
    println!();
    println!("{runs} timed runs each, after {WARMUPS} warm-ups");
    rename_line("pure", &renames.pure);
    rename_line(&format!("{EDITED_RENAMES} also edited"), &renames.edited);
    println!(
        "staged diff, nothing relevant ({} files): promptgate median {:.1} ms (min {:.1}), git diff --cached --name-only median {:.1} ms (min {:.1}), ratio {ratio:.2}  [target <= {STAGED_TARGET_RATIO:.1}: {}]",
        BIG_DIRS * FILES_PER_DIR,
        ms(staged.promptgate.median),
        ms(staged.promptgate.min),
        ms(staged.git.median),
        ms(staged.git.min),
        verdict(ratio <= STAGED_TARGET_RATIO)
    );
    println!(
        "hook pre-commit, nothing relevant ({} files): median {:.1} ms (min {:.1})  [target < {HOOK_TARGET_MS} ms: {}]",
        BIG_DIRS * FILES_PER_DIR,
        ms(staged.hook.median),
        ms(staged.hook.min),
        verdict(ms(staged.hook.median) < HOOK_TARGET_MS)
    );
    println!(
        "include chain diff ({CHAIN_FILES} files, last one edited): median {:.1} ms, min {:.1} ms  [target < {CHAIN_TARGET_MS} ms: {}]",
        ms(chain.median),
        ms(chain.min),
        verdict(ms(chain.median) < CHAIN_TARGET_MS)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------
// Processes

/// A command that sees only the repository under test: no system or user git config, no
/// inherited repository or promptgate settings, and an identity so commits work anywhere.
fn isolated(program: &str, repo: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(repo);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "PROMPTGATE_CONFIG",
        "PROMPTGATE_CONFIG_REV",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com");
    cmd
}

fn git(repo: &Path, args: &[&str]) -> Command {
    isolated("git", repo, args)
}

fn promptgate(repo: &Path, args: &[&str]) -> Command {
    isolated(BIN, repo, args)
}

/// Runs with stdout discarded (the timed form); panics with stderr on failure.
fn quiet(mut cmd: Command) {
    let output = cmd.stdout(Stdio::null()).output().expect("spawn");
    check_status(&cmd, &output);
}

fn stdout_of(mut cmd: Command) -> String {
    let output = cmd.output().expect("spawn");
    check_status(&cmd, &output);
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn check_status(cmd: &Command, output: &Output) {
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn init_repo(repo: &Path) {
    quiet(git(repo, &["init", "-q", "-b", "main"]));
}

fn fast_import(repo: &Path, stream: &[u8]) {
    let mut child = git(repo, &["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn git fast-import");
    // Dropping stdin after the write closes it, which ends the import.
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stream)
        .expect("write the fast-import stream");
    let status = child.wait().expect("wait for git fast-import");
    assert!(status.success(), "git fast-import failed: {status}");
}

// ---------------------------------------------------------------------------------------
// Repository contents

/// A `git fast-import` stream, written in memory (a few MB at most).
#[derive(Default)]
struct Stream {
    bytes: Vec<u8>,
    commits: u64,
}

impl Stream {
    /// Starts a commit on `branch`; without `from` it follows the branch's previous commit.
    fn commit(&mut self, branch: &str, message: &str, from: Option<&str>) {
        let time = 1_700_000_000 + self.commits * 60;
        self.commits += 1;
        self.line(&format!("commit refs/heads/{branch}"));
        self.line(&format!("committer Bench <bench@example.com> {time} +0000"));
        self.data(message.as_bytes());
        if let Some(from) = from {
            self.line(&format!("from refs/heads/{from}"));
        }
    }

    fn modify(&mut self, path: &str, content: &str) {
        self.line(&format!("M 100644 inline {path}"));
        self.data(content.as_bytes());
    }

    fn rename(&mut self, from: &str, to: &str) {
        self.line(&format!("R {from} {to}"));
    }

    fn data(&mut self, data: &[u8]) {
        self.line(&format!("data {}", data.len()));
        self.bytes.extend_from_slice(data);
        self.bytes.push(b'\n');
    }

    fn line(&mut self, line: &str) {
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.push(b'\n');
    }
}

/// A prompt file below `prompts/old/`, with its current content.
struct Prompt {
    path: String,
    content: String,
}

/// `main`: 3,000 commits of a file or two each, creating then tweaking 224 prompts among
/// code and docs changes. `feature` moves `prompts/old` to `prompts/new`; `feature-edited`
/// does the same and also edits some moved prompts (still well above 50% similar).
fn rename_history() -> Vec<u8> {
    let mut rng = Rng(42);
    let mut prompts: Vec<Prompt> = AREAS
        .iter()
        .flat_map(|area| (0..PROMPTS_PER_AREA).map(move |n| (*area, n)))
        .map(|(area, n)| Prompt {
            path: format!(
                "{area}/{}-{n:02}.md",
                TOPICS[n % TOPICS.len()].replace(' ', "-")
            ),
            content: prompt_text(&mut rng, area, n),
        })
        .collect();
    let mut s = Stream::default();
    s.commit("main", "Add promptgate config", None);
    s.modify("promptgate.toml", CONFIG);
    s.modify(
        "README.md",
        "# Support bot\n\nPrompts live in prompts/, gated by promptgate.\n",
    );
    for p in &prompts {
        s.commit("main", &format!("Add prompt {}", p.path), None);
        s.modify(&format!("prompts/old/{}", p.path), &p.content);
    }
    for i in 1 + prompts.len()..HISTORY_COMMITS {
        s.commit("main", &format!("Change {i}"), None);
        if i % 3 == 0 {
            let which = rng.below(prompts.len());
            let p = &mut prompts[which];
            p.content
                .push_str(&format!("- {}\n", pick(&mut rng, &RULES)));
            s.modify(&format!("prompts/old/{}", p.path), &p.content);
        } else {
            s.modify(
                &format!("src/module_{:02}.rs", i % 40),
                &format!("// revision {i}\npub fn value() -> u32 {{\n    {i}\n}}\n"),
            );
        }
        if i % 5 == 0 {
            s.modify(
                &format!("docs/notes_{}.md", i % 10),
                &format!("# Notes\n\nUpdated in change {i}.\n"),
            );
        }
    }
    s.commit("feature", "Move prompts to prompts/new", Some("main"));
    s.rename("prompts/old", "prompts/new");
    s.commit(
        "feature-edited",
        "Move prompts to prompts/new and tune some",
        Some("main"),
    );
    s.rename("prompts/old", "prompts/new");
    for p in prompts
        .iter()
        .step_by(prompts.len() / EDITED_RENAMES)
        .take(EDITED_RENAMES)
    {
        let edited = format!(
            "{}- Always link the relevant help-center article.\n",
            p.content
        );
        s.modify(&format!("prompts/new/{}", p.path), &edited);
    }
    s.bytes
}

/// One commit of 50,000 small distinct files under `src/`, a few prompts and the config.
fn big_tree() -> Vec<u8> {
    let mut rng = Rng(7);
    let mut s = Stream::default();
    s.commit("main", "Import the monorepo", None);
    s.modify("promptgate.toml", CONFIG);
    for (n, area) in AREAS.iter().enumerate() {
        s.modify(
            &format!("prompts/{area}.md"),
            &prompt_text(&mut rng, area, n),
        );
    }
    for d in 0..BIG_DIRS {
        for i in 0..FILES_PER_DIR {
            let n = d * FILES_PER_DIR + i;
            s.modify(
                &big_file_path(d, i),
                &format!("file {n}\nchecksum {:016x}\n", rng.next()),
            );
        }
    }
    s.bytes
}

/// `main`: `prompts/support.md` includes `partials/c00001.md`, each partial includes the
/// next, up to `CHAIN_FILES - 1` partials in one directory. `feature` edits the last one.
fn include_chain() -> Vec<u8> {
    let mut s = Stream::default();
    s.commit("main", "Add a long include chain", None);
    s.modify("promptgate.toml", CONFIG);
    s.modify(
        "prompts/support.md",
        &format!(
            "You answer support questions.\n{{% include \"{}\" %}}\n",
            chain_path(1)
        ),
    );
    for i in 1..CHAIN_FILES {
        let next = if i + 1 < CHAIN_FILES {
            format!("{{% include \"{}\" %}}\n", chain_path(i + 1))
        } else {
            String::new()
        };
        s.modify(&chain_path(i), &format!("Rule {i}: be kind.\n{next}"));
    }
    s.commit("feature", "Reword the last rule", Some("main"));
    s.modify(
        &chain_path(CHAIN_FILES - 1),
        &format!("Rule {}: be kind and brief.\n", CHAIN_FILES - 1),
    );
    s.bytes
}

fn chain_path(i: usize) -> String {
    format!("partials/c{i:05}.md")
}

fn big_file_path(dir: usize, i: usize) -> String {
    format!("src/d{dir:03}/f{:05}.txt", dir * FILES_PER_DIR + i)
}

// ---------------------------------------------------------------------------------------
// Prompt text: a few hundred bytes of distinct, realistic-looking instructions

const ROLES: [&str; 6] = [
    "support agent",
    "billing assistant",
    "onboarding guide",
    "account specialist",
    "triage assistant",
    "escalation desk",
];
const PRODUCTS: [&str; 5] = [
    "Acme Cloud",
    "Nimbus Notes",
    "Orbit CRM",
    "Harbor Pay",
    "Lumen Docs",
];
const TOPICS: [&str; 7] = [
    "greeting",
    "faq answer",
    "policy check",
    "handoff",
    "summary",
    "follow up",
    "apology",
];
const RULES: [&str; 14] = [
    "Answer in a friendly, concise tone and avoid jargon.",
    "Never promise a refund; explain the 30-day policy and offer to open a ticket.",
    "If the user is angry, acknowledge the frustration before giving steps.",
    "Ask one clarifying question when the request is ambiguous.",
    "Do not reveal internal tooling, ticket IDs or employee names.",
    "Quote prices only from the provided plan table.",
    "Keep answers under 120 words unless the user asks for detail.",
    "Offer a link to the status page when an outage is mentioned.",
    "Use numbered steps for any procedure with more than two actions.",
    "Escalate to a human when the user mentions legal action or a data breach.",
    "Reply in the language of the user's last message.",
    "Summarise the account state before suggesting changes.",
    "Never ask for passwords or full card numbers.",
    "End with a short question that checks whether the issue is solved.",
];

fn prompt_text(rng: &mut Rng, area: &str, n: usize) -> String {
    let mut text = format!(
        "# {area} / prompt {n}\n\nYou are the {} for {}, handling {} conversations about {area}.\n\nRules:\n",
        pick(rng, &ROLES),
        pick(rng, &PRODUCTS),
        pick(rng, &TOPICS),
    );
    for _ in 0..5 {
        text.push_str(&format!("- {}\n", pick(rng, &RULES)));
    }
    text.push_str(&format!(
        "\nCase reference: {area}-{n:03}-{:08x}\n\nUser: {{{{ question }}}}\n",
        rng.next() as u32
    ));
    text
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

/// SplitMix64: deterministic content without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
