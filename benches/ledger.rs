//! The ledger's two performance targets, measured as CI pays them: the release binary as a
//! process, wall clock and peak memory (max RSS from `wait4`).
//! 1. `review` over 12 weeks × 10 surfaces × 1,000 cases (60 first-parent commits, one
//!    record per surface per week, this week's regression flags traced through the week's
//!    commits): under 1 s and 50 MiB;
//! 2. `record` of an unchanged, fully cached commit: under 50 ms more than `eval` of it.
//!
//! Run with `cargo bench --bench ledger`. Missed targets are reported, not failed, since
//! wall-clock numbers vary between machines.

mod common;
#[path = "../tests/common/http.rs"]
mod http;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_promptgate");
const SURFACES: usize = 10;
const CASES: usize = 1000;
const WEEKS: i64 = 12;
const COMMITS_PER_WEEK: i64 = 5;
const DAY: i64 = 86_400;

fn main() {
    let repo = review_repo();
    let (seconds, rss) = time_review(repo.path());
    let fast = http::Server::start(|_| http::Reply::openai("Refunds take 5 days."));
    let (eval, record) = record_overhead(&fast.url);

    println!("\nledger benchmarks (release binary)");
    report(
        &format!("review, {WEEKS} weeks x {SURFACES} surfaces x {CASES} cases (best of 5)"),
        &format!("{seconds:.3} s, peak {rss:.1} MiB"),
        seconds < 1.0 && rss < 50.0,
        "< 1 s, < 50 MiB",
    );
    let overhead_ms = (record - eval) * 1000.0;
    report(
        &format!("record of an unchanged, cached {CASES}-case commit (best of 5)"),
        &format!(
            "eval {:.1} ms, record {:.1} ms: {overhead_ms:+.1} ms",
            eval * 1000.0,
            record * 1000.0
        ),
        overhead_ms < 50.0,
        "< 50 ms over eval",
    );
}

fn report(what: &str, measured: &str, ok: bool, target: &str) {
    println!(
        "{what}: {measured}  [target {target}: {}]",
        if ok { "ok" } else { "MISSED" }
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Commits with both dates at `at`.
fn commit_at(dir: &Path, message: &str, at: i64) {
    common::git(dir, &["add", "-A"]);
    common::git_at(dir, at, &["commit", "-q", "--allow-empty", "-m", message]);
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .expect("git rev-parse");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One surface's entry: `failed` are the failing case numbers.
fn entry(kind: &str, commit: &str, surface: usize, failed: &[usize]) -> serde_json::Value {
    let passed = CASES - failed.len();
    json!({
        "schema_version": 1, "run_id": "bench", "kind": kind,
        "recorded_at": "2026-01-05T06:00:00Z", "commit": commit,
        "surface": format!("s{surface}"), "provider": "main", "model": "gpt-4o-mini",
        "model_reported": "gpt-4o-mini-2024-07-18",
        "cases": CASES, "passed": passed, "pass_rate": passed as f64 / CASES as f64,
        "ci_low": 0.9, "ci_high": 0.97, "tail_pass_rate": 0.8,
        "metrics": {"accuracy": 0.93}, "cost_usd": 0.12,
        "latency_ms": {"p50": 400, "p95": 900},
        "failed": failed.iter().map(|n| format!("case-{n:06}")).collect::<Vec<_>>(),
        "flaky": ["case-000900", "case-000901"],
        "suite": "a".repeat(64), "prompt": "b".repeat(64),
    })
}

/// Twelve weeks of five commits each; the last commit of each week holds one entry per
/// surface. This week, surface s3 loses five cases to a merged pull request (with its gate
/// entry) and s7 three cases with no change to it (traced through every commit of the week).
fn review_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    common::git(path, &["init", "-q", "-b", "main"]);
    let mut config = String::from(
        "[provider.main]\nkind = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[provider.candidate]\nkind = \"openai\"\nmodel = \"gpt-4.1-mini\"\n",
    );
    for s in 0..SURFACES {
        config.push_str(&format!(
            "\n[[surface]]\nname = \"s{s}\"\nprompts = [\"prompts/s{s}/*.md\"]\ncases = \"evals/s{s}.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\n"
        ));
        std::fs::create_dir_all(path.join(format!("prompts/s{s}"))).expect("mkdir");
        std::fs::write(path.join(format!("prompts/s{s}/answer.md")), "Q: {{ q }}\n")
            .expect("prompt");
    }
    std::fs::write(path.join("promptgate.toml"), config).expect("config");
    let today = now().div_euclid(DAY);
    let monday = today - (today + 3).rem_euclid(7);
    let base_failures: Vec<usize> = (0..50).collect();
    let notes = dir.path().join(".git/bench-note");
    for back in (0..WEEKS).rev() {
        for i in 0..COMMITS_PER_WEEK {
            let at = (monday - 7 * back + i) * DAY + 12 * 3600;
            let this_week = back == 0;
            if this_week && i == 2 {
                std::fs::write(path.join("prompts/s3/answer.md"), "Be brief. Q: {{ q }}\n")
                    .expect("prompt");
                commit_at(
                    path,
                    "Merge pull request #42 from acme/brief\n\nBe brief",
                    at,
                );
                let mut failed = base_failures.clone();
                failed.extend(990..995);
                let commit = head(path);
                let mut gate = entry("gate", &commit, 3, &failed);
                for (key, value) in [
                    ("base", json!("0".repeat(40))),
                    ("head", json!(commit)),
                    ("pr", json!(42)),
                    ("verdict", json!("needs-signoff")),
                    ("tier", json!("council")),
                ] {
                    gate[key] = value;
                }
                std::fs::write(&notes, format!("{gate}\n")).expect("note");
                common::git(
                    path,
                    &[
                        "notes",
                        "--ref=promptgate",
                        "add",
                        "-F",
                        notes.to_str().expect("utf-8"),
                        "HEAD",
                    ],
                );
                continue;
            }
            std::fs::write(path.join("notes.md"), format!("{back} {i}\n")).expect("notes");
            commit_at(path, &format!("notes {back} {i}"), at);
            if i == COMMITS_PER_WEEK - 1 {
                let commit = head(path);
                let lines: String = (0..SURFACES)
                    .map(|s| {
                        let mut failed = base_failures.clone();
                        if this_week && s == 3 {
                            failed.extend(990..995);
                        }
                        if this_week && s == 7 {
                            failed.extend(980..983);
                        }
                        format!("{}\n", entry("eval", &commit, s, &failed))
                    })
                    .collect();
                std::fs::write(&notes, lines).expect("note");
                common::git(
                    path,
                    &[
                        "notes",
                        "--ref=promptgate",
                        "add",
                        "-F",
                        notes.to_str().expect("utf-8"),
                        "HEAD",
                    ],
                );
            }
        }
    }
    dir
}

/// `review --format json`, best of 5: wall seconds and peak MiB; checks the flags.
fn time_review(dir: &Path) -> (f64, f64) {
    let mut best = (f64::MAX, 0.0);
    for _ in 0..5 {
        let out = dir.join(".git/review.json");
        let file = std::fs::File::create(&out).expect("review file");
        let started = Instant::now();
        // Reaped by `wait4`, which also reports its peak memory.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(BIN)
            .args(["review", "--no-fetch", "--format", "json"])
            .current_dir(dir)
            .env_remove("CI")
            .stdout(Stdio::from(file))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn promptgate review");
        let (status, rss_kib) = common::wait_with_rusage(child.id() as i32);
        let seconds = started.elapsed().as_secs_f64();
        assert!(status.success(), "promptgate review failed: {status:?}");
        let review: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("review JSON");
        let flags = |s: usize| {
            review["surfaces"][s]["regressions"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(
            (flags(3), flags(7)),
            (5, 3),
            "the flags are not the expected ones"
        );
        assert_eq!(review["surfaces"][3]["regressions"][0]["since"]["pr"], 42);
        if seconds < best.0 {
            best = (seconds, rss_kib as f64 / 1024.0);
        }
    }
    best
}

/// `eval` then `record` of the same cached 1000-case commit whose change touched no surface:
/// the best wall times of each, in seconds.
fn record_overhead(url: &str) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let config = format!(
        "[provider.local]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.9\n"
    );
    std::fs::create_dir_all(path.join("prompts")).expect("mkdir");
    std::fs::create_dir_all(path.join("evals")).expect("mkdir");
    std::fs::write(path.join("promptgate.toml"), config).expect("config");
    std::fs::write(
        path.join("prompts/answer.md"),
        "Question {{ n }}: {{ q }}\n",
    )
    .expect("prompt");
    let lines: String = (0..CASES)
        .map(|i| format!("{{\"id\":\"case-{i:06}\",\"vars\":{{\"n\":{i},\"q\":\"refunds {i}?\"}},\"assert\":[{{\"type\":\"icontains\",\"value\":\"5 days\"}}]}}\n"))
        .collect();
    std::fs::write(path.join("evals/support.jsonl"), lines).expect("cases");
    std::fs::write(path.join(".gitignore"), ".promptgate/\n").expect("ignore");
    common::git(path, &["init", "-q", "-b", "main"]);
    common::git(path, &["add", "-A"]);
    common::git(path, &["commit", "-q", "-m", "suite"]);
    std::fs::write(path.join("README.md"), "docs\n").expect("readme");
    common::git(path, &["add", "-A"]);
    common::git(path, &["commit", "-q", "-m", "docs"]);
    let run = |command: &str| {
        let started = Instant::now();
        let status = Command::new(BIN)
            .args([command, "--rev", "HEAD"])
            .current_dir(path)
            .env_remove("CI")
            .stdout(Stdio::null())
            .status()
            .expect("run promptgate");
        assert!(status.success(), "promptgate {command} failed");
        started.elapsed().as_secs_f64()
    };
    run("eval");
    let eval = common::best_of(5, || run("eval"));
    let record = common::best_of(5, || run("record"));
    (eval, record)
}
