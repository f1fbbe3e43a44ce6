//! Verdicts under noise, simulated: a seeded provider whose answers pass at random (no
//! network), run round by round through the gate's own code — each round's case results
//! added to the earlier ones (`SideResult::add_round`, majority quorum), every look judged
//! by `gate::judge_surface`, the next round run only while the surface is inconclusive,
//! exactly as `check` does. Per scenario it prints how often the gate blocked, how many
//! rounds it took and the calls it spent against one plain pass over both sides.
//!
//! The targets, at 200 cases, 85% per-trial pass, one trial per round,
//! `max_drop = 0.05`, `significance = 0.05`: no-op edits blocked at most 3% of runs, a
//! 10-point drop caught at least 95%, mean calls at most 2.5× a plain pass; a deterministic
//! provider at most one extra round; a clear-cut change none.
//!
//! The second part runs the same scenarios end to end: the release binary's `check` against
//! a local OpenAI-compatible server whose answers pass at random, fresh answers each run
//! (`--no-cache`), counting verdicts, rounds and the calls the server saw.
//!
//! Run with `cargo bench --bench sequential`; `PROMPTGATE_BENCH_RUNS` sets the simulated
//! runs per scenario (default 2000), `PROMPTGATE_BENCH_E2E_RUNS` the end-to-end ones
//! (default 100; 0 skips them) and `PROMPTGATE_BENCH_MAX_REPEAT` the rounds (default 3).

mod common;
#[path = "../tests/common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use promptgate::eval::run::{default_quorum, CaseStatus, CaseSummary, Latency};
use promptgate::gate::model::{
    Look, SidePair, SideResult, SurfaceChange, SurfaceInput, Thresholds,
};
use promptgate::gate::{judge_surface, SurfaceReport};

const CASES: usize = 200;

/// splitmix64: a small, well-mixed, seedable generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 >= 1.0 - p
    }
}

/// How a side answers: each case's probability of passing one trial.
type Side = Vec<f64>;

struct Scenario {
    name: &'static str,
    base: Side,
    head: Side,
}

/// One round: every case tried once.
fn round(side: &Side, rng: &mut Rng) -> SideResult {
    let cases = side
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let pass = rng.chance(p);
            CaseSummary {
                id: format!("c{i:04}"),
                status: if pass {
                    CaseStatus::Pass
                } else {
                    CaseStatus::Fail
                },
                flaky: false,
                passed_trials: u32::from(pass),
                trials: 1,
                difficulty: None,
                reason: None,
                output: None,
                metrics: Default::default(),
            }
        })
        .collect();
    SideResult {
        cases,
        complete: true,
        metrics: BTreeMap::new(),
        cost_usd: None,
        latency_ms: Latency::default(),
        models_reported: Default::default(),
    }
}

fn input(base: &SideResult, head: &SideResult, look: Look) -> SurfaceInput {
    SurfaceInput {
        name: "support".into(),
        change: SurfaceChange::Modified,
        changed_files: Vec::new(),
        gated: true,
        thresholds: Thresholds {
            min_pass_rate: None,
            max_drop: Some(0.05),
            tail_min_pass_rate: None,
            metrics: Vec::new(),
            significance: 0.05,
        },
        base: Some(base.clone()),
        head: Some(head.clone()),
        settings: SidePair::default(),
        suite_changes: Vec::new(),
        base_suite: None,
        notes: Vec::new(),
        look,
    }
}

/// One gate run: rounds until the surface settles; its report.
fn gate(scenario: &Scenario, max: u32, rng: &mut Rng) -> SurfaceReport {
    let mut base = round(&scenario.base, rng);
    let mut head = round(&scenario.head, rng);
    let mut look = Look { round: 1, max };
    loop {
        let report = judge_surface(input(&base, &head, look));
        if !report.inconclusive {
            return report;
        }
        look.round += 1;
        base = base.add_round(round(&scenario.base, rng), default_quorum);
        head = head.add_round(round(&scenario.head, rng), default_quorum);
    }
}

fn blocked(report: &SurfaceReport) -> bool {
    report.rules.iter().any(|r| !r.ok)
}

fn uniform(p: f64) -> Side {
    vec![p; CASES]
}

/// A deterministic provider: 85% of the cases always pass.
fn fixed(fail_every: usize, extra_fails: usize) -> Side {
    (0..CASES)
        .map(|i| {
            let fails =
                i % fail_every == 0 || (i % fail_every == 1 && i / fail_every < extra_fails);
            if fails {
                0.0
            } else {
                1.0
            }
        })
        .collect()
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runs: usize = setting("PROMPTGATE_BENCH_RUNS", 2000);
    let e2e_runs: usize = setting("PROMPTGATE_BENCH_E2E_RUNS", 100);
    let max: u32 = setting("PROMPTGATE_BENCH_MAX_REPEAT", 3);
    let scenarios = [
        Scenario {
            name: "no-op edit (85% → 85%)",
            base: uniform(0.85),
            head: uniform(0.85),
        },
        Scenario {
            name: "10-point drop (85% → 75%)",
            base: uniform(0.85),
            head: uniform(0.75),
        },
        Scenario {
            name: "5-point drop (85% → 80%)",
            base: uniform(0.85),
            head: uniform(0.80),
        },
        Scenario {
            name: "deterministic, 4-point drop",
            base: fixed(7, 0),
            head: fixed(7, 8),
        },
        Scenario {
            name: "deterministic, no flips",
            base: fixed(7, 0),
            head: fixed(7, 0),
        },
        Scenario {
            name: "clear-cut 30-point drop (85% → 55%)",
            base: uniform(0.85),
            head: uniform(0.55),
        },
    ];
    println!(
        "{runs} runs per scenario, {CASES} cases, one trial per round, at most {max} rounds, max_drop 0.05, significance 0.05\n"
    );
    println!(
        "{:<38} {:>9} {:>12} {:>10} {:>14}",
        "scenario", "blocked", "mean rounds", "max rounds", "calls / plain"
    );
    let mut rng = Rng(0x5EED_2026_1201);
    for scenario in &scenarios {
        let mut blocks = 0usize;
        let mut rounds = 0u64;
        let mut most = 0u32;
        for _ in 0..runs {
            let report = gate(scenario, max, &mut rng);
            blocks += usize::from(blocked(&report));
            rounds += u64::from(report.rounds);
            most = most.max(report.rounds);
        }
        let mean_rounds = rounds as f64 / runs as f64;
        println!(
            "{:<38} {:>8.2}% {:>12.2} {:>10} {:>13.2}×",
            scenario.name,
            100.0 * blocks as f64 / runs as f64,
            mean_rounds,
            most,
            // Every round calls both sides once per case, as one plain pass does.
            mean_rounds
        );
    }
    if e2e_runs > 0 {
        end_to_end(e2e_runs, max);
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_promptgate");

/// The scenarios again, through the binary and a server that answers at random.
fn end_to_end(runs: usize, max: u32) {
    let state = AtomicU64::new(0x5EED_0E2E);
    let server = http::Server::start(move |request| {
        let prompt = request.prompt();
        let p: f64 = prompt
            .lines()
            .find_map(|l| l.strip_prefix("PASS: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1.0);
        let mut rng = Rng(state.fetch_add(1, Ordering::Relaxed));
        http::Reply::openai(if rng.chance(p) { "correct" } else { "wrong" })
    });
    println!(
        "\nend to end: {runs} runs of `check --no-cache` per scenario against a local server, {CASES} cases\n"
    );
    println!(
        "{:<38} {:>9} {:>12} {:>14} {:>10}",
        "scenario", "blocked", "mean rounds", "calls / plain", "s / run"
    );
    for (name, base, head) in [
        ("no-op edit (85% → 85%)", 0.85, 0.85),
        ("10-point drop (85% → 75%)", 0.85, 0.75),
        ("5-point drop (85% → 80%)", 0.85, 0.80),
    ] {
        let repo = e2e_repo(&server.url, base, head, max);
        let (mut blocks, mut rounds, mut seconds) = (0usize, 0u64, 0.0f64);
        let calls_before = server.requests().len();
        for _ in 0..runs {
            let started = std::time::Instant::now();
            let output = Command::new(BIN)
                .args(["check", "--base", "main", "--format", "json", "--no-cache"])
                .current_dir(repo.path())
                .env("PG_BENCH_KEY", "sk-bench")
                .output()
                .expect("run promptgate");
            seconds += started.elapsed().as_secs_f64();
            let report: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("a JSON report");
            blocks += usize::from(report["verdict"] == "blocked");
            rounds += report["surfaces"][0]["rounds"].as_u64().unwrap_or(0);
        }
        let calls = server.requests().len() - calls_before;
        println!(
            "{:<38} {:>8.2}% {:>12.2} {:>13.2}× {:>10.2}",
            name,
            100.0 * blocks as f64 / runs as f64,
            rounds as f64 / runs as f64,
            calls as f64 / (runs * 2 * CASES) as f64,
            seconds / runs as f64
        );
    }
}

fn e2e_repo(url: &str, base: f64, head: f64, max: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    };
    write(
        "promptgate.toml",
        &format!(
            "[gate]\nrepeat = 1\nmax_repeat = {max}\n\n[provider.local]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"PG_BENCH_KEY\"\nconcurrency = 16\n\n\
             [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.5\nmax_drop = 0.05\n"
        ),
    );
    write(".gitignore", ".promptgate/\n");
    let cases: String = (0..CASES)
        .map(|i| {
            format!(
                "{{\"id\":\"c{i:04}\",\"vars\":{{\"question\":\"question {i}\"}},\"assert\":[{{\"type\":\"contains\",\"value\":\"correct\"}}]}}\n"
            )
        })
        .collect();
    write("evals/support.jsonl", &cases);
    write(
        "prompts/answer.md",
        &format!("PASS: {base}\nQ: {{{{ question }}}}\n"),
    );
    common::git(dir.path(), &["init", "-q", "-b", "main"]);
    common::git(dir.path(), &["add", "-A"]);
    common::git(dir.path(), &["commit", "-q", "-m", "base"]);
    common::git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    write(
        "prompts/answer.md",
        &format!("PASS: {head}\nQuestion: {{{{ question }}}}\n"),
    );
    common::git(dir.path(), &["commit", "-q", "-am", "edit"]);
    dir
}
