//! Fuzz smoke test: a fixed-seed mutation corpus over the inputs a pull request controls —
//! the config, eval cases (JSONL and YAML), prompt templates, the PR description and the
//! workflow's event payload — run through the real binary's `validate`, `eval` and `check`.
//! Whatever the input: no panic, no abort, no hang, only documented exit codes, and every
//! configuration error names its file. Deterministic (same seed, same inputs), bounded in
//! runs; a failure prints the input that caused it.

mod common;
#[path = "common/http.rs"]
mod http;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestRepo;
use http::{Reply, Server};

/// The documented exit codes.
const DOCUMENTED: [i32; 6] = [0, 1, 2, 3, 4, 5];
/// A run this long is a hang (the bounded work rules make real runs take milliseconds).
const HANG: Duration = Duration::from_secs(30);

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that have broken parsers before, or that a hostile input would try.
const TOKENS: &[&str] = &[
    "{%}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{% include 'x.md' %}",
    "{% include \"../../etc/passwd\" %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ q * 100000000 }}",
    "{% extends 'answer.md' %}",
    "\0",
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\n",
    "\r\n",
    "\t",
    "---\n",
    "4294967295",
    "18446744073709551615",
    "-1",
    "1e309",
    "NaN",
    "0.0",
    "..",
    "/etc/passwd",
    "../",
    "é",
    "🙂",
    "\u{200b}",
    "&nbsp;",
    "<!--",
    "-->",
    "<details>",
    "## Rollback plan\n",
    "TBD",
    "repeat = ",
    "timeout_secs = ",
    "concurrency = 0",
    "null",
    "true",
    "{\"type\": \"exec\", \"value\": [\"sh\", \"-c\", \"touch pwned\"]}",
    "- ",
    ": ",
    "&anchor",
    "*anchor",
    "!!binary",
    "~",
    "%YAML 1.2\n",
];

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            1 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            3 if !bytes.is_empty() => {
                let start = rng.below(bytes.len());
                let end = (start + 1 + rng.below(64)).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(at..at, copy);
            }
            4 => bytes
                .splice(at..at, std::iter::repeat_n(b'{', 1 + rng.below(3)))
                .for_each(drop),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.extend_from_slice(token.as_bytes());
            }
        }
    }
    bytes
}

const CONFIG: &str = "[gate]\nrepeat = 1\n\n[provider.local]\nkind = \"exec\"\ncommand = [\"cat\"]\ntimeout_secs = 10\n\n\
[[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\nentry = \"prompts/answer.md\"\ncases = \"evals/support.jsonl\"\nprovider = \"local\"\ntier = \"council\"\nmin_pass_rate = 0.5\nmax_drop = 0.5\n\n\
[[surface]]\nname = \"triage\"\nprompts = [\"triage/*.md\"]\ncases = \"evals/triage.yaml\"\nprovider = \"local\"\ntier = \"self\"\nmin_pass_rate = 0.5\n\n\
[tier.council]\napprovers = [\"alice\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n";
const TEMPLATE: &str = "---\ntemperature: 0\n---\nPolicy: refunds within 30 days.\n{% include 'tone.md' %}\nQ: {{ q }}\n";
const PARTIAL: &str = "Be {{ tone | default('kind') }}.\n";
const CASES: &str = "{\"id\": \"a\", \"vars\": {\"q\": \"refund?\"}, \"assert\": [{\"type\": \"icontains\", \"value\": \"refund\"}]}\n{\"id\": \"b\", \"vars\": {\"q\": \"when?\"}, \"assert\": [{\"type\": \"contains\", \"value\": \"30 days\", \"metric\": \"m\"}, {\"type\": \"not-contains\", \"value\": \"sorry\"}]}\n";
const YAML_CASES: &str = "- id: t1\n  vars:\n    q: route me\n  assert:\n    - type: contains\n      value: route\n- id: t2\n  vars: {q: \"help\"}\n  assert: [{type: regex, value: \"h.lp\"}]\n";
const TRIAGE: &str = "Route: {{ q }}\n";
const PR_BODY: &str = "# Shorter answers\n\n## Expected user impact\nShorter answers.\n\n## Rollback plan\nRevert the commit.\n";

/// The files a head can change, with their seed content.
const FILES: [(&str, &str); 6] = [
    ("promptgate.toml", CONFIG),
    ("prompts/answer.md", TEMPLATE),
    ("prompts/tone.md", PARTIAL),
    ("evals/support.jsonl", CASES),
    ("evals/triage.yaml", YAML_CASES),
    ("triage/route.md", TRIAGE),
];

struct Outcome {
    code: Option<i32>,
    stderr: String,
    hung: bool,
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut child = Command::new(common::BIN)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_EVENT_PATH")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promptgate");
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            return Outcome {
                code: status.code(),
                stderr,
                hung: false,
            };
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return Outcome {
                code: None,
                stderr: String::new(),
                hung: true,
            };
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What went wrong with one run, if anything.
fn judge(outcome: &Outcome, mutated: &str) -> Option<String> {
    if outcome.hung {
        return Some(format!("hung for more than {}s", HANG.as_secs()));
    }
    let Some(code) = outcome.code else {
        return Some(format!("killed by a signal: {}", outcome.stderr));
    };
    if !DOCUMENTED.contains(&code) {
        return Some(format!("exit {code}: {}", outcome.stderr));
    }
    if outcome.stderr.contains("panicked") {
        return Some(format!("panicked: {}", outcome.stderr));
    }
    if code == 5
        && !outcome.stderr.contains(mutated)
        && !FILES.iter().any(|(f, _)| outcome.stderr.contains(f))
    {
        return Some(format!(
            "a config error that names no file: {}",
            outcome.stderr
        ));
    }
    None
}

fn seeded_repo() -> TestRepo {
    let repo = TestRepo::new();
    for (path, content) in FILES {
        repo.write(path, content);
    }
    repo.commit("base");
    repo
}

struct Failures(Vec<String>);

impl Failures {
    fn record(&mut self, what: &str, file: &str, input: &[u8], problem: String) {
        if self.0.len() < 10 {
            self.0.push(format!(
                "{what} with {file} = {:?}\n  → {problem}",
                String::from_utf8_lossy(input)
            ));
        }
    }

    fn assert_none(self, runs: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {runs} runs failed; first ones:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

#[test]
fn validate_and_eval_survive_mutated_inputs() {
    let repo = seeded_repo();
    let mut rng = Rng(0x5eed_0001);
    let mut failures = Failures(Vec::new());
    let runs = 2000;
    for index in 0..runs {
        let (file, seed) = FILES[rng.below(FILES.len())];
        let input = mutate(&mut rng, seed);
        repo.write(file, &input);
        let args: &[&str] = if index % 4 == 0 {
            &["eval"]
        } else {
            &["validate"]
        };
        let outcome = run(repo.path(), args, &[]);
        if let Some(problem) = judge(&outcome, file) {
            failures.record(args[0], file, &input, problem);
        }
        repo.write(file, seed);
    }
    assert!(
        !repo.path().join("pwned").exists(),
        "a command from a case ran in validate"
    );
    failures.assert_none(runs);
}

#[test]
fn check_survives_mutated_heads_and_pr_bodies() {
    let repo = seeded_repo();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let body = repo.path().join("body.md");
    let mut rng = Rng(0x5eed_0002);
    let mut failures = Failures(Vec::new());
    let runs = 300;
    for _ in 0..runs {
        let (file, seed) = FILES[rng.below(FILES.len())];
        let input = mutate(&mut rng, seed);
        repo.write(file, &input);
        repo.commit("mutated");
        std::fs::write(&body, mutate(&mut rng, PR_BODY)).expect("write the PR body");
        let outcome = run(
            repo.path(),
            &[
                "check",
                "--base",
                "main",
                "--pr-body",
                "body.md",
                "--format",
                "json",
            ],
            &[],
        );
        if let Some(problem) = judge(&outcome, file) {
            failures.record("check", file, &input, problem);
        }
        repo.git(&["reset", "-q", "--hard", "main"]);
    }
    assert!(
        !repo.path().join("pwned").exists(),
        "a command the head added ran"
    );
    failures.assert_none(runs);
}

#[test]
fn check_survives_mutated_event_payloads() {
    let repo = seeded_repo();
    let api = Server::start(|_| Reply::json(404, serde_json::json!({"message": "Not Found"})));
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/github/events/pull_request.opened.json"),
    )
    .expect("the pull_request fixture");
    let event = repo.path().join("event.json");
    let event_path = event.display().to_string();
    let mut rng = Rng(0x5eed_0003);
    let mut failures = Failures(Vec::new());
    let runs = 300;
    for _ in 0..runs {
        let input = mutate(&mut rng, &seed);
        std::fs::write(&event, &input).expect("write the event");
        let outcome = run(
            repo.path(),
            &["check", "--format", "json"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_PATH", &event_path),
                ("GITHUB_REPOSITORY", "acme/app"),
                ("GITHUB_API_URL", &api.url),
            ],
        );
        if let Some(problem) = judge(&outcome, "event.json") {
            failures.record("check", "event.json", &input, problem);
        }
    }
    failures.assert_none(runs);
}
