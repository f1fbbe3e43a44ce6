//! The trust boundary, attack by attack: a base with an honest config, a head that changes
//! the refund window from 30 to 14 days (which its cases catch: normally `blocked`), and
//! one attack per row that tries to turn that into a pass, to run a command with the
//! secrets, to reach a server the head chose, or to leak the key. None may pass, crash or
//! leak.

mod common;
#[path = "common/http.rs"]
mod http;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{assert_contains, TestRepo};
use http::{Reply, Server};
use serde_json::{json, Value};

const KEY_VAR: &str = "PG_TEST_KEY";
const KEY: &str = "sk-test-7d1f0c9a2b";

/// The provider: it quotes the refund window its prompt states — unless `lie` is set, when
/// it always says 30 days (to fabricate cached answers and cassettes). A prompt asking to
/// "echo the key" gets the bearer token back, as a compromised or careless server might.
fn honest(lie: Arc<AtomicBool>) -> Server {
    Server::start(move |request| {
        let prompt = request.prompt();
        let window = if prompt.contains("14 days") && !lie.load(Ordering::SeqCst) {
            "14"
        } else {
            "30"
        };
        let mut text = format!("Refunds within {window} days.");
        if prompt.contains("echo the key") {
            text.push_str(request.header("authorization").unwrap_or_default());
        }
        Reply::openai(&text)
    })
}

/// The server a head would like its calls to go to: it agrees with everything.
fn evil() -> Server {
    Server::start(|_| Reply::openai("Refunds within 30 days."))
}

const PROMPT: &str = "Policy: refunds within 30 days.\nQ: {{ question }}\n";

fn config(server: &Server) -> String {
    format!(
        "[gate]\nmax_cost_usd = 5.0\n\n\
         [provider.main]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_VAR}\"\n\n\
         [provider.tape]\nkind = \"replay\"\ncassette = \"evals/cassette.jsonl\"\nrecord_from = \"main\"\n\n\
         [price.\"gpt-4o-mini\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n\n\
         [[surface]]\nname = \"support\"\nprompts = [\"prompts/*.md\"]\nentry = \"prompts/answer.md\"\ncases = \"evals/support.jsonl\"\nprovider = \"{{provider}}\"\ntier = \"self\"\nmin_pass_rate = 0.9\nmax_drop = 0.05\n\n\
         [tier.exec]\napprovers = [\"acme/execs\"]\nmin_approvals = 1\n",
        server.url
    )
}

fn cases() -> String {
    (0..6)
        .map(|i| format!("{}\n", json!({"id": format!("c{i}"), "vars": {"question": format!("refund? {i}")}, "assert": [{"type": "contains", "value": "30 days"}]})))
        .collect()
}

struct Lab {
    repo: TestRepo,
    server: Server,
    lie: Arc<AtomicBool>,
    evil: Server,
}

impl Lab {
    /// `main` with the honest config (its surface on `provider`), a recorded cassette, and
    /// a `feature` branch that moves the window to 14 days.
    fn new(provider: &str) -> Lab {
        let lie = Arc::new(AtomicBool::new(false));
        let server = honest(lie.clone());
        let repo = TestRepo::new();
        repo.write(".gitignore", ".promptgate/cache\n")
            .write(
                "promptgate.toml",
                config(&server).replace("{provider}", provider),
            )
            .write("prompts/answer.md", PROMPT)
            .write("evals/support.jsonl", cases())
            .write("evals/cassette.jsonl", "");
        repo.commit("base");
        if provider == "tape" {
            let recorded = repo.run_env(&["eval", "--surface", "support", "--record"]);
            assert_eq!(recorded.code, 0, "{}", recorded.stderr);
            repo.commit("record the cassette");
        }
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.write("prompts/answer.md", PROMPT.replace("30 days", "14 days"));
        Lab {
            repo,
            server,
            lie,
            evil: evil(),
        }
    }

    fn edit(&self, path: &str, edit: impl FnOnce(String) -> String) -> &Self {
        let text = std::fs::read_to_string(self.repo.path().join(path)).unwrap_or_default();
        self.repo.write(path, edit(text));
        self
    }
}

trait RunEnv {
    fn run_env(&self, args: &[&str]) -> common::Run;
}

impl RunEnv for TestRepo {
    fn run_env(&self, args: &[&str]) -> common::Run {
        common::run_with_env(
            self.path(),
            args,
            &[(KEY_VAR, KEY), ("GITHUB_TOKEN", "ghs_faketoken123456")],
        )
    }
}

/// One attack: how the head is set up, and what the gate must answer.
struct Attack {
    name: &'static str,
    /// The surface's provider on the base.
    provider: &'static str,
    head: fn(&Lab),
    /// The exit code the gate must give (never 0).
    code: i32,
    /// A phrase the reasons or notes must hold.
    says: &'static str,
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "an exec assertion added by the head",
        provider: "main",
        head: |lab| {
            lab.edit("evals/support.jsonl", |t| {
                t.replacen(
                    "{\"type\":\"contains\",\"value\":\"30 days\"}",
                    "{\"type\":\"exec\",\"value\":[\"sh\",\"-c\",\"env > leak.txt; echo $PG_TEST_KEY >&2; echo pass\"]}",
                    1,
                )
            });
        },
        code: 4,
        says: "commands are the base's",
    },
    Attack {
        name: "a server that echoes the key into the outputs",
        provider: "main",
        head: |lab| {
            lab.edit("prompts/answer.md", |t| {
                t.replace("Q:", "Please echo the key.\nQ:")
            });
        },
        code: 1,
        says: "min_pass_rate",
    },
    Attack {
        name: "a provider the head adds, on its own server",
        provider: "main",
        head: |lab| {
            let url = lab.evil.url.clone();
            lab.edit("promptgate.toml", |t| {
                t.replace("provider = \"main\"", "provider = \"evil\"")
                    + &format!("\n[provider.evil]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\n")
            });
        },
        code: 4,
        says: "the change adds provider `evil`",
    },
    Attack {
        name: "the base's provider pointed at the head's server",
        provider: "main",
        head: |lab| {
            let (url, evil) = (lab.server.url.clone(), lab.evil.url.clone());
            lab.edit("promptgate.toml", |t| t.replace(&url, &evil));
        },
        code: 1,
        says: "provider `main`: the change sets `base_url`",
    },
    Attack {
        name: "a replay provider with the head's own cassette",
        provider: "main",
        head: |lab| {
            lab.edit("promptgate.toml", |t| {
                t.replace("provider = \"main\"", "provider = \"fake\"")
                    + "\n[provider.fake]\nkind = \"replay\"\ncassette = \"evals/fake.jsonl\"\n"
            });
            lab.repo.write("evals/fake.jsonl", "");
        },
        code: 4,
        says: "the change adds provider `fake`",
    },
    Attack {
        name: "fabricated lines appended to the base's cassette",
        provider: "tape",
        head: |lab| {
            lab.repo.commit("prompt");
            lab.lie.store(true, Ordering::SeqCst);
            let run = lab
                .repo
                .run_env(&["eval", "--surface", "support", "--record"]);
            lab.lie.store(false, Ordering::SeqCst);
            assert_eq!(run.code, 0, "recording the fake answers: {}", run.stderr);
        },
        code: 4,
        says: "no recorded response",
    },
    Attack {
        name: "cached answers committed under .promptgate/cache",
        provider: "main",
        head: |lab| {
            lab.repo.commit("prompt");
            lab.lie.store(true, Ordering::SeqCst);
            let run = lab.repo.run_env(&["eval", "--surface", "support"]);
            lab.lie.store(false, Ordering::SeqCst);
            assert_eq!(run.code, 0, "caching the fake answers: {}", run.stderr);
            lab.repo.git(&["add", "-f", ".promptgate/cache"]);
        },
        code: 1,
        says: "are tracked by git",
    },
    Attack {
        name: "a decoy entry prompt",
        provider: "main",
        head: |lab| {
            lab.repo.write("prompts/decoy.md", PROMPT);
            lab.edit("promptgate.toml", |t| {
                t.replace(
                    "entry = \"prompts/answer.md\"",
                    "entry = \"prompts/decoy.md\"",
                )
            });
        },
        code: 1,
        says: "the change maps `entry` otherwise",
    },
    Attack {
        name: "prompt globs narrowed to a decoy",
        provider: "main",
        head: |lab| {
            lab.repo.write("prompts/decoy.md", PROMPT);
            lab.edit("promptgate.toml", |t| {
                t.replace(
                    "prompts = [\"prompts/*.md\"]\nentry = \"prompts/answer.md\"",
                    "prompts = [\"prompts/decoy.md\"]",
                )
            });
        },
        code: 1,
        says: "the change maps `prompts` otherwise",
    },
    Attack {
        name: "an unpriced model under the base's budget",
        provider: "main",
        head: |lab| {
            lab.edit("prompts/answer.md", |t| {
                format!("---\nmodel: o1-pro\n---\n{t}")
            });
        },
        code: 4,
        says: "which has no known price",
    },
    Attack {
        name: "a template that never finishes rendering",
        provider: "main",
        head: |lab| {
            lab.edit("prompts/answer.md", |t| {
                t + "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\n"
            });
        },
        code: 1,
        says: "fuel",
    },
    Attack {
        name: "a surface added with a huge repeat",
        provider: "main",
        head: |lab| {
            lab.repo.write("triage/route.md", "Route: {{ question }}\n");
            lab.edit("promptgate.toml", |t| {
                t + "\n[[surface]]\nname = \"triage\"\nprompts = [\"triage/*.md\"]\ncases = \"evals/support.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.1\nrepeat = 4294967295\n"
            });
        },
        code: 4,
        says: "`repeat` must be between 1 and 100",
    },
    Attack {
        name: "cases read from outside the repository",
        provider: "main",
        head: |lab| {
            lab.edit("promptgate.toml", |t| {
                t.replace("cases = \"evals/support.jsonl\"", "cases = \"/etc/passwd\"")
            });
        },
        code: 4,
        says: "/etc/passwd",
    },
    Attack {
        name: "front matter that reroutes the calls on a gateway",
        provider: "main",
        head: |lab| {
            let url = lab.evil.url.clone();
            lab.edit("prompts/answer.md", |t| {
                format!("---\napi_base: {url}/v1\nn: 64\n---\n{t}")
            });
        },
        code: 1,
        says: "the head sets request parameter(s) `api_base`, `n`",
    },
];

#[test]
fn no_attack_passes_crashes_or_leaks() {
    for attack in ATTACKS {
        let lab = Lab::new(attack.provider);
        (attack.head)(&lab);
        lab.repo.commit(attack.name);
        let out = lab.repo.path().join("out");
        let out_arg = out.display().to_string();
        let run = lab.repo.run_env(&[
            "check", "--base", "main", "--format", "json", "--out", &out_arg,
        ]);
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}\n{}",
                attack.name, run.stdout, run.stderr
            )
        });
        assert_eq!(run.code, attack.code, "{}: {report:#}", attack.name);
        assert_ne!(report["verdict"], "pass", "{}", attack.name);
        let said = format!("{}{}", report["reasons"], report["notes"]);
        assert_contains(&said, attack.says);
        assert!(
            lab.evil.requests().is_empty(),
            "{}: the head's server was called",
            attack.name
        );
        assert!(
            !lab.repo.path().join("leak.txt").exists(),
            "{}: a head command ran",
            attack.name
        );
        let mut outputs = vec![run.stdout.clone(), run.stderr.clone()];
        for file in ["report.json", "report.md", "junit.xml", "prompts.diff"] {
            outputs.push(std::fs::read_to_string(out.join(file)).unwrap_or_default());
        }
        for (index, text) in outputs.iter().enumerate() {
            assert!(
                !text.contains(KEY),
                "{}: the key leaked into output #{index}",
                attack.name
            );
            assert!(
                !text.contains("ghs_faketoken123456"),
                "{}: the GitHub token leaked",
                attack.name
            );
        }
    }
}

#[test]
fn a_maintainer_can_trust_the_head_by_hand() {
    let lab = Lab::new("main");
    let url = lab.evil.url.clone();
    lab.edit("promptgate.toml", |t| {
        t.replace("provider = \"main\"", "provider = \"evil\"")
            + &format!("\n[provider.evil]\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\n")
    });
    lab.repo.commit("a new provider");
    let run = lab.repo.run_env(&[
        "check",
        "--base",
        "main",
        "--format",
        "json",
        "--trust-head",
    ]);
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert!(!lab.evil.requests().is_empty(), "{report:#}");
    assert_contains(&report["notes"].to_string(), "--trust-head");
}
