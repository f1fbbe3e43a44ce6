//! The composite GitHub Action in `action.yml`, run the way the Actions runner runs it. Each
//! step's `run:` script is written to a file and executed with
//! `bash --noprofile --norc -eo pipefail <file>` (GitHub's `shell: bash`), with the step's `env:`
//! and `working-directory` evaluated by a tiny expression evaluator, in a simulated runner:
//! fresh `GITHUB_OUTPUT`/`GITHUB_PATH`/`GITHUB_ENV`/`GITHUB_STEP_SUMMARY` files per step,
//! `GITHUB_PATH` lines prepended to `PATH` for later steps, `RUNNER_TEMP`, `RUNNER_OS=Linux`,
//! `RUNNER_ARCH=X64`, and a hermetic `PATH` (symlinks to the few system tools the scripts use)
//! behind fake `curl`, `cargo` and `promptgate` scripts that record their argv and environment.
//! `action_validator_accepts_action_yml` checks the file against the action schema with
//! `action-validator`: it uses `$ACTION_VALIDATOR` when set (a path to the binary, e.g. from
//! `npm install @action-validator/cli` in a scratch dir), else
//! `tests/github/node_modules/.bin/action-validator` (installed by `npm ci --prefix tests/github`),
//! and fails, never skips, when neither exists.
//! `the_real_binary_posts_through_the_action` runs the action with the real promptgate on
//! `PATH` against the fake GitHub API of `tests/common/github.rs`.
#![cfg(unix)]

mod common;
#[path = "common/github.rs"]
mod github;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TOKEN: &str = "ghs_FakeTokenValue0123456789abcdef";
const LINUX_X64: &str = "x86_64-unknown-linux-gnu";

// ---------------------------------------------------------------------------------------------
// action.yml, as far as the simulator needs it (unknown keys are errors: a key the simulator
// would silently ignore, like a step `if:`, must be modelled first).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    description: String,
    author: String,
    branding: Branding,
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, OutputDef>,
    runs: Runs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Branding {
    icon: String,
    color: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputDef {
    description: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    id: Option<String>,
    name: Option<String>,
    shell: Option<String>,
    run: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(rename = "working-directory")]
    working_directory: Option<String>,
}

fn action() -> Action {
    let path = Path::new(MANIFEST_DIR).join("action.yml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str::<Action>(&text).unwrap_or_else(|e| panic!("action.yml: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Workflow-command files: `name=value` lines and the `name<<DELIM` heredoc form.

fn parse_file_command(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                pairs.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                let mut value = Vec::new();
                loop {
                    let next = lines
                        .next()
                        .unwrap_or_else(|| panic!("heredoc {name}<<{delim} is never closed"));
                    if next == delim {
                        break;
                    }
                    value.push(next);
                }
                pairs.push((name.to_string(), value.join("\n")));
            }
            _ => panic!("invalid workflow-command line (the runner rejects it): {line:?}"),
        }
    }
    pairs
}

fn last_wins(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// The simulated runner.

/// Tools the step scripts and the fakes may use; everything else is off PATH.
const TOOLS: &[&str] = &[
    "bash", "awk", "basename", "cat", "chmod", "cp", "dirname", "find", "grep", "gzip", "head",
    "ls", "mkdir", "mv", "od", "rm", "sed", "tail", "tar", "tr",
];

fn which(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{tool}` is not on PATH; the action test needs it"))
}

fn write_exe(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Appends one call record (cwd, argv, token presence, config) to `$FAKE_LOG/<name>.log`.
fn recorder(name: &str) -> String {
    format!(
        r#"{{
  printf 'call\ncwd=%s\n' "$PWD"
  for a in "$@"; do printf 'arg=%s\n' "$a"; done
  printf 'token=%s\n' "${{GITHUB_TOKEN:+set}}"
  printf 'token_hex=%s\n' "$(printf %s "${{GITHUB_TOKEN-}}" | od -An -tx1 | tr -d ' \n')"
  printf 'config=%s\n' "${{PROMPTGATE_CONFIG-<unset>}}"
}} >>"$FAKE_LOG/{name}.log"
"#
    )
}

fn fake_curl(bash: &Path) -> String {
    format!(
        r###"#!{bash}
set -eu
{rec}
out=""
url=""
while (($#)); do
  case "$1" in
    -o | --output) out="$2"; shift 2 ;;
    --retry | --retry-delay | --retry-max-time) shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
if [[ -z "${{FAKE_CURL_TARBALL:-}}" ]]; then
  echo "curl: (22) The requested URL returned error: 404" >&2
  exit 22
fi
if [[ -n "$out" ]]; then cp "$FAKE_CURL_TARBALL" "$out"; else cat "$FAKE_CURL_TARBALL"; fi
"###,
        bash = bash.display(),
        rec = recorder("curl")
    )
}

fn fake_cargo(bash: &Path) -> String {
    format!(
        r###"#!{bash}
set -eu
{rec}
root=""
prev=""
for a in "$@"; do
  if [[ "$prev" == --root ]]; then root="$a"; fi
  prev="$a"
done
if [[ "${{1:-}}" != install || -z "$root" ]]; then
  echo "fake cargo: unexpected arguments: $*" >&2
  exit 101
fi
mkdir -p "$root/bin"
cp "$FAKE_PROMPTGATE_SRC" "$root/bin/promptgate"
chmod +x "$root/bin/promptgate"
echo "  Installed package promptgate (fake) to $root/bin" >&2
"###,
        bash = bash.display(),
        rec = recorder("cargo")
    )
}

fn fake_promptgate(bash: &Path) -> String {
    format!(
        r###"#!{bash}
set -eu
{rec}
if [[ "${{1:-}}" == --version ]]; then
  echo "promptgate ${{FAKE_PG_VERSION:-0.1.0}}"
  exit 0
fi
code="${{FAKE_PG_EXIT:-0}}"
verdict="${{FAKE_PG_VERDICT:-pass}}"
if [[ "${{FAKE_PG_WRITES:-1}}" == 1 ]]; then
  {{
    echo "verdict=$verdict"
    echo "exit-code=$code"
    echo "report=$RUNNER_TEMP/promptgate/report.json"
    # A multi-line output in the heredoc form, whose body must not be read as the verdict.
    echo "notes<<promptgate_$$"
    echo "verdict=not-this-one"
    echo "promptgate_$$"
  }} >>"$GITHUB_OUTPUT"
  echo "## promptgate: $verdict" >>"$GITHUB_STEP_SUMMARY"
fi
echo "promptgate: verdict $verdict"
exit "$code"
"###,
        bash = bash.display(),
        rec = recorder("promptgate")
    )
}

#[derive(Debug)]
struct Call {
    cwd: String,
    args: Vec<String>,
    token_set: bool,
    token_hex: String,
    config: String,
}

#[derive(Debug)]
struct StepRun {
    id: String,
    code: i32,
    stdout: String,
    stderr: String,
    /// The step's `env:` after evaluation.
    env: BTreeMap<String, String>,
    /// The raw GITHUB_OUTPUT file and its parsed outputs (last value wins, like the runner).
    output_file: String,
    outputs: BTreeMap<String, String>,
    path_file: String,
    summary: String,
}

#[derive(Debug)]
struct Run {
    steps: Vec<StepRun>,
    /// The action's `outputs:`, evaluated after the steps.
    outputs: BTreeMap<String, String>,
}

impl Run {
    fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("step {id} did not run: {self:#?}"))
    }

    fn ran(&self, id: &str) -> bool {
        self.steps.iter().any(|s| s.id == id)
    }

    fn succeeded(&self) -> bool {
        self.steps.iter().all(|s| s.code == 0)
    }

    /// Everything the steps printed or wrote to a workflow-command file.
    fn all_text(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                format!(
                    "{}\n{}\n{}\n{}\n{}",
                    s.stdout, s.stderr, s.output_file, s.path_file, s.summary
                )
            })
            .collect()
    }
}

struct Sim {
    root: tempfile::TempDir,
    action: Action,
    bash: PathBuf,
    inputs: BTreeMap<String, String>,
    action_repository: String,
    runner_os: String,
    runner_arch: String,
    /// Environment for every step process, besides the runner's own variables (fake controls).
    base_env: BTreeMap<String, String>,
    /// Directories on PATH before the fakes (e.g. a pre-installed promptgate).
    extra_path: Vec<PathBuf>,
}

impl Sim {
    fn new() -> Sim {
        let root = tempfile::tempdir().expect("tempdir");
        let bash = which("bash");
        let sim = Sim {
            action: action(),
            bash: bash.clone(),
            inputs: BTreeMap::new(),
            action_repository: String::new(),
            runner_os: "Linux".into(),
            runner_arch: "X64".into(),
            base_env: BTreeMap::new(),
            extra_path: Vec::new(),
            root,
        };
        for dir in [
            "fakebin",
            "tools",
            "payload",
            "log",
            "runner_temp",
            "workspace",
            "home",
        ] {
            fs::create_dir_all(sim.dir(dir)).unwrap();
        }
        for tool in TOOLS {
            std::os::unix::fs::symlink(which(tool), sim.dir("tools").join(tool)).unwrap();
        }
        write_exe(&sim.dir("fakebin").join("curl"), &fake_curl(&bash));
        write_exe(&sim.dir("fakebin").join("cargo"), &fake_cargo(&bash));
        write_exe(
            &sim.dir("payload").join("promptgate"),
            &fake_promptgate(&bash),
        );
        let (log, src) = (sim.dir("log"), sim.dir("payload").join("promptgate"));
        sim.env("FAKE_LOG", log).env("FAKE_PROMPTGATE_SRC", src)
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn runner_temp(&self) -> PathBuf {
        self.dir("runner_temp")
    }

    fn env(mut self, key: &str, value: impl AsRef<Path>) -> Sim {
        let value = value.as_ref().to_str().unwrap().to_string();
        self.base_env.insert(key.into(), value);
        self
    }

    fn input(mut self, name: &str, value: &str) -> Sim {
        assert!(
            self.action.inputs.contains_key(name),
            "action.yml declares no input {name}"
        );
        self.inputs.insert(name.into(), value.into());
        self
    }

    /// What the fake promptgate does in `check`: its exit code and verdict.
    fn verdict(self, code: i32, verdict: &str) -> Sim {
        self.env("FAKE_PG_EXIT", code.to_string())
            .env("FAKE_PG_VERDICT", verdict)
    }

    /// The fake promptgate exits with `code` without writing any output.
    fn dies(self, code: i32) -> Sim {
        self.env("FAKE_PG_EXIT", code.to_string())
            .env("FAKE_PG_WRITES", "0")
    }

    /// The fake curl serves a release tarball (`promptgate-<target>/promptgate` inside).
    fn release(self, target: &str) -> Sim {
        let stage = self.dir("release").join(format!("promptgate-{target}"));
        fs::create_dir_all(&stage).unwrap();
        fs::copy(
            self.dir("payload").join("promptgate"),
            stage.join("promptgate"),
        )
        .unwrap();
        let tarball = self
            .dir("release")
            .join(format!("promptgate-{target}.tar.gz"));
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(self.dir("release"))
            .arg(format!("promptgate-{target}"))
            .status()
            .unwrap();
        assert!(status.success(), "tar failed");
        self.env("FAKE_CURL_TARBALL", tarball)
    }

    fn without_cargo(self) -> Sim {
        fs::remove_file(self.dir("fakebin").join("cargo")).unwrap();
        self
    }

    /// A promptgate reporting `version` already on PATH (e.g. installed by an earlier step).
    fn preinstalled(mut self, version: &str) -> Sim {
        let dir = self.dir("preinstalled");
        fs::create_dir_all(&dir).unwrap();
        fs::copy(
            self.dir("payload").join("promptgate"),
            dir.join("promptgate"),
        )
        .unwrap();
        self.extra_path.push(dir);
        self.env("FAKE_PG_VERSION", version)
    }

    /// The calls a fake recorded, in order.
    fn calls(&self, tool: &str) -> Vec<Call> {
        let Ok(text) = fs::read_to_string(self.dir("log").join(format!("{tool}.log"))) else {
            return Vec::new();
        };
        let mut calls: Vec<Call> = Vec::new();
        for line in text.lines() {
            if line == "call" {
                calls.push(Call {
                    cwd: String::new(),
                    args: Vec::new(),
                    token_set: false,
                    token_hex: String::new(),
                    config: String::new(),
                });
                continue;
            }
            let call = calls.last_mut().expect("record starts with `call`");
            let (key, value) = line.split_once('=').expect("key=value");
            match key {
                "cwd" => call.cwd = value.into(),
                "arg" => call.args.push(value.into()),
                "token" => call.token_set = value == "set",
                "token_hex" => call.token_hex = value.into(),
                "config" => call.config = value.into(),
                _ => panic!("unexpected record line {line:?}"),
            }
        }
        calls
    }

    /// The fake promptgate's `check` calls (not its `--version` probes).
    fn checks(&self) -> Vec<Call> {
        self.calls("promptgate")
            .into_iter()
            .filter(|c| c.args.first().is_some_and(|a| a == "check"))
            .collect()
    }

    /// Evaluates the `${{ … }}` expressions in `text`; an expression it does not know fails.
    fn eval(&self, text: &str, steps: &BTreeMap<String, BTreeMap<String, String>>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            let end = after
                .find("}}")
                .unwrap_or_else(|| panic!("unterminated expression in {text:?}"));
            out.push_str(&self.value(after[..end].trim(), steps));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn value(&self, expr: &str, steps: &BTreeMap<String, BTreeMap<String, String>>) -> String {
        if let Some(name) = expr.strip_prefix("inputs.") {
            let input = self
                .action
                .inputs
                .get(name)
                .unwrap_or_else(|| panic!("expression uses undeclared input {name}"));
            return match self.inputs.get(name) {
                Some(value) => value.clone(),
                None => self.eval(input.default.as_deref().unwrap_or(""), steps),
            };
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, rest) = rest.split_once('.').expect("steps.<id>.outputs.<name>");
            let name = rest
                .strip_prefix("outputs.")
                .unwrap_or_else(|| panic!("unsupported expression {expr}"));
            // Like Actions: a missing step or output is an empty string.
            return steps
                .get(id)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default();
        }
        match expr {
            "github.token" => TOKEN.into(),
            "github.action_repository" => self.action_repository.clone(),
            _ => panic!("action.yml uses an expression the simulator does not know: {expr}"),
        }
    }

    fn run(&self) -> Run {
        let mut path: Vec<PathBuf> = self.extra_path.clone();
        path.push(self.dir("fakebin"));
        path.push(self.dir("tools"));
        let mut job_env: BTreeMap<String, String> = BTreeMap::new();
        let mut step_outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut steps = Vec::new();

        for (i, step) in self.action.runs.steps.iter().enumerate() {
            let id = step.id.clone().unwrap_or_else(|| format!("__{i}"));
            assert_eq!(step.shell.as_deref(), Some("bash"), "step {id}: shell");
            let script = step.run.as_deref().expect("run step");
            let files = self.dir("files").join(format!("{i}-{id}"));
            fs::create_dir_all(&files).unwrap();
            let file = |name: &str| {
                let p = files.join(name);
                fs::write(&p, "").unwrap();
                p
            };
            let (output, path_file, env_file, summary, state) = (
                file("output"),
                file("path"),
                file("env"),
                file("summary"),
                file("state"),
            );
            let script_file = files.join("script.sh");
            fs::write(&script_file, script).unwrap();

            let workdir = self.dir("workspace").join(self.eval(
                step.working_directory.as_deref().unwrap_or("."),
                &step_outputs,
            ));
            fs::create_dir_all(&workdir).unwrap();
            let env: BTreeMap<String, String> = step
                .env
                .iter()
                .map(|(k, v)| (k.clone(), self.eval(v, &step_outputs)))
                .collect();

            let mut cmd = Command::new(&self.bash);
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_file)
                .current_dir(&workdir)
                .env_clear()
                .env("PATH", std::env::join_paths(&path).unwrap())
                .env("HOME", self.dir("home"))
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_WORKSPACE", self.dir("workspace"))
                .env("GITHUB_ACTION_PATH", MANIFEST_DIR)
                .env("RUNNER_TEMP", self.runner_temp())
                .env("RUNNER_OS", &self.runner_os)
                .env("RUNNER_ARCH", &self.runner_arch)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_PATH", &path_file)
                .env("GITHUB_ENV", &env_file)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_STATE", &state)
                .envs(&self.base_env)
                .envs(&job_env)
                .envs(&env);
            let out = cmd.output().expect("run bash");
            let read = |p: &Path| fs::read_to_string(p).unwrap();
            let output_file = read(&output);
            let outputs = last_wins(parse_file_command(&output_file));
            let path_text = read(&path_file);
            // The runner prepends each GITHUB_PATH line, so the last one written comes first.
            for line in path_text.lines().filter(|l| !l.is_empty()) {
                path.insert(0, PathBuf::from(line));
            }
            job_env.extend(parse_file_command(&read(&env_file)));
            step_outputs.insert(id.clone(), outputs.clone());
            let run = StepRun {
                id,
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
                env,
                output_file,
                outputs,
                path_file: path_text,
                summary: read(&summary),
            };
            let failed = run.code != 0;
            steps.push(run);
            if failed {
                break; // later steps are skipped (none uses `if: always()`)
            }
        }

        let outputs = self
            .action
            .outputs
            .iter()
            .map(|(name, def)| (name.clone(), self.eval(&def.value, &step_outputs)))
            .collect();
        Run { steps, outputs }
    }
}

fn hex(s: &str) -> String {
    s.bytes().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

// ---------------------------------------------------------------------------------------------
// Structure.

#[test]
fn action_yml_is_a_composite_action_with_the_documented_interface() {
    let action = action();
    assert!(!action.name.is_empty() && !action.description.is_empty() && !action.author.is_empty());
    assert!(!action.branding.icon.is_empty() && !action.branding.color.is_empty());
    assert_eq!(action.runs.using, "composite");

    let defaults: BTreeMap<&str, Option<&str>> = action
        .inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.default.as_deref()))
        .collect();
    let expected = BTreeMap::from([
        ("config", Some("")),
        ("github-token", Some("${{ github.token }}")),
        ("command", Some("check")),
        ("args", Some("")),
        ("post", Some("true")),
        ("version", Some("latest")),
        ("fail-on-needs-signoff", Some("true")),
        ("working-directory", Some(".")),
    ]);
    assert_eq!(defaults, expected);
    for (name, input) in &action.inputs {
        assert!(
            !input.description.trim().is_empty(),
            "input {name} has no description"
        );
        assert!(
            !input.required,
            "input {name} has a default, so it is not required"
        );
    }

    let outputs: BTreeMap<&str, &str> = action
        .outputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        outputs,
        BTreeMap::from([
            ("verdict", "${{ steps.check.outputs.verdict }}"),
            ("exit-code", "${{ steps.check.outputs.exit-code }}"),
            ("report", "${{ steps.check.outputs.report }}"),
        ])
    );
    for (name, output) in &action.outputs {
        assert!(
            !output.description.trim().is_empty(),
            "output {name} has no description"
        );
    }

    let ids: Vec<Option<&str>> = action.runs.steps.iter().map(|s| s.id.as_deref()).collect();
    assert_eq!(ids, [Some("install"), Some("check")]);
    for step in &action.runs.steps {
        assert!(step.name.is_some(), "every step is named");
        assert_eq!(step.shell.as_deref(), Some("bash"));
        assert!(step.run.is_some());
    }
    let check = &action.runs.steps[1];
    assert_eq!(
        check.working_directory.as_deref(),
        Some("${{ inputs.working-directory }}")
    );
}

#[test]
fn run_scripts_never_interpolate_expressions_and_the_token_only_reaches_check_as_env() {
    let action = action();
    for step in &action.runs.steps {
        let run = step.run.as_deref().unwrap_or("");
        assert!(
            !run.contains("${{"),
            "step {:?} interpolates an expression into its script (script injection): pass it via env:",
            step.id
        );
        for (key, value) in &step.env {
            let token = value.contains("inputs.github-token") || value.contains("github.token");
            assert_eq!(
                token,
                step.id.as_deref() == Some("check") && key == "GITHUB_TOKEN",
                "step {:?} env {key}={value}: the token goes only to the check step's GITHUB_TOKEN",
                step.id
            );
        }
    }
    // Every input reaches a step (through env: or working-directory:).
    let uses: String = action
        .runs
        .steps
        .iter()
        .flat_map(|s| s.env.values().chain(s.working_directory.iter()))
        .cloned()
        .collect();
    for name in action.inputs.keys() {
        assert!(
            uses.contains(&format!("${{{{ inputs.{name} }}}}")),
            "input {name} is never used"
        );
    }
}

#[test]
fn action_validator_accepts_action_yml() {
    let manifest = Path::new(MANIFEST_DIR);
    let bin = std::env::var_os("ACTION_VALIDATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("tests/github/node_modules/.bin/action-validator"));
    assert!(
        bin.exists(),
        "action-validator is not installed at {}: run `npm ci --prefix tests/github` \
         (or point ACTION_VALIDATOR at an action-validator binary)",
        bin.display()
    );
    let out = Command::new(&bin)
        .arg(manifest.join("action.yml"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "action-validator rejects action.yml:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Install.

#[test]
fn without_a_release_it_builds_the_action_checkout_with_cargo_and_checks_with_post() {
    let sim = Sim::new();
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");

    let curl = sim.calls("curl");
    assert_eq!(curl.len(), 1);
    assert_eq!(
        curl[0].args.last().unwrap(),
        &format!(
            "https://github.com/promptgate/promptgate/releases/latest/download/promptgate-{LINUX_X64}.tar.gz"
        )
    );
    assert!(curl[0]
        .args
        .starts_with(&["-fsSL".into(), "--retry".into(), "3".into()]));

    let cargo = sim.calls("cargo");
    assert_eq!(cargo.len(), 1);
    let root = sim.runner_temp().join("promptgate-cargo");
    assert_eq!(
        cargo[0].args,
        [
            "install",
            "--locked",
            "--path",
            MANIFEST_DIR,
            "--root",
            root.to_str().unwrap()
        ]
    );
    let install = run.step("install");
    assert!(install.stdout.contains("::notice::"), "{}", install.stdout);
    assert!(install.stdout.contains("building from source"));
    let bin = root.join("bin");
    assert_eq!(install.path_file.trim(), bin.to_str().unwrap());
    assert_eq!(
        install.outputs["path"],
        bin.join("promptgate").to_str().unwrap()
    );

    let checks = sim.checks();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].args, ["check", "--post"]);
}

#[test]
fn a_release_tarball_is_used_without_cargo() {
    let sim = Sim::new().release(LINUX_X64);
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert!(sim.calls("cargo").is_empty(), "cargo must not run");
    let bin = sim.runner_temp().join("promptgate-bin");
    assert_eq!(run.step("install").path_file.trim(), bin.to_str().unwrap());
    assert!(!run.step("install").stdout.contains("::notice::"));
    assert_eq!(sim.checks().len(), 1);
}

#[test]
fn a_pinned_version_downloads_that_release_from_the_action_repository() {
    let mut sim = Sim::new().release(LINUX_X64).input("version", "v0.2.0");
    sim.action_repository = "acme/promptgate".into();
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert_eq!(
        sim.calls("curl")[0].args.last().unwrap(),
        &format!("https://github.com/acme/promptgate/releases/download/v0.2.0/promptgate-{LINUX_X64}.tar.gz")
    );
    assert!(sim.calls("cargo").is_empty());
}

#[test]
fn version_source_always_builds_with_cargo() {
    let sim = Sim::new().release(LINUX_X64).input("version", "source");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert!(sim.calls("curl").is_empty(), "source never downloads");
    assert_eq!(sim.calls("cargo").len(), 1);
}

#[test]
fn a_promptgate_of_the_requested_version_on_path_is_reused() {
    let sim = Sim::new().preinstalled("0.3.0").input("version", "0.3.0");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert!(sim.calls("curl").is_empty() && sim.calls("cargo").is_empty());
    assert_eq!(run.step("install").path_file, "", "already on PATH");
    let checks = sim.checks();
    assert_eq!(checks.len(), 1);

    // Another version on PATH is not good enough.
    let sim = Sim::new()
        .preinstalled("0.3.0")
        .release(LINUX_X64)
        .input("version", "0.4.0");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert_eq!(sim.calls("curl").len(), 1);
    assert!(run.step("install").stdout.contains("not 0.4.0"));
}

#[test]
fn a_runner_without_a_release_target_builds_from_source() {
    let mut sim = Sim::new().release(LINUX_X64);
    sim.runner_arch = "ARM".into();
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert!(sim.calls("curl").is_empty());
    assert_eq!(sim.calls("cargo").len(), 1);
    assert!(run.step("install").stdout.contains("Linux/ARM"));
}

#[test]
fn without_a_release_or_cargo_the_install_fails_naming_the_fix() {
    let sim = Sim::new().without_cargo();
    let run = sim.run();
    assert!(!run.succeeded());
    let install = run.step("install");
    assert_eq!(install.code, 1);
    assert!(install.stdout.contains("::error::"), "{}", install.stdout);
    assert!(
        install.stdout.contains("rust-toolchain"),
        "{}",
        install.stdout
    );
    assert!(!run.ran("check"));
}

#[test]
fn a_malformed_version_is_rejected_before_any_download() {
    let sim = Sim::new().input("version", "1.0; touch pwned");
    let run = sim.run();
    assert_eq!(run.step("install").code, 1);
    assert!(run.step("install").stdout.contains("::error::"));
    assert!(sim.calls("curl").is_empty() && sim.calls("cargo").is_empty());
    assert!(!run.ran("check"));
}

// ---------------------------------------------------------------------------------------------
// Check.

#[test]
fn pass_succeeds_and_maps_the_outputs() {
    let sim = Sim::new().release(LINUX_X64).verdict(0, "pass");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert_eq!(run.outputs["verdict"], "pass");
    assert_eq!(run.outputs["exit-code"], "0");
    let report = sim.runner_temp().join("promptgate/report.json");
    assert_eq!(run.outputs["report"], report.to_str().unwrap());
    assert_eq!(run.step("check").outputs["notes"], "verdict=not-this-one");
    assert!(run.step("check").summary.contains("promptgate: pass"));
    assert!(!run.step("check").stdout.contains("::error::"));
}

#[test]
fn blocked_fails_the_step_with_an_error_annotation() {
    let sim = Sim::new().release(LINUX_X64).verdict(1, "blocked");
    let run = sim.run();
    let check = run.step("check");
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("::error::promptgate verdict blocked (exit code 1)"),
        "{}",
        check.stdout
    );
    assert_eq!(run.outputs["verdict"], "blocked");
    assert_eq!(run.outputs["exit-code"], "1");
}

#[test]
fn needs_signoff_fails_by_default() {
    let sim = Sim::new().release(LINUX_X64).verdict(3, "needs-signoff");
    let run = sim.run();
    let check = run.step("check");
    assert_eq!(check.code, 3);
    assert!(check
        .stdout
        .contains("::error::promptgate verdict needs-signoff (exit code 3)"));
    assert_eq!(run.outputs["verdict"], "needs-signoff");
}

#[test]
fn needs_signoff_passes_when_allowed_and_says_the_pending_status_blocks() {
    let sim = Sim::new()
        .release(LINUX_X64)
        .verdict(3, "needs-signoff")
        .input("fail-on-needs-signoff", "false");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    let check = run.step("check");
    assert!(check.stdout.contains("::notice::"), "{}", check.stdout);
    assert!(check.stdout.contains("pending"));
    assert!(!check.stdout.contains("::error::"));
    assert_eq!(run.outputs["verdict"], "needs-signoff");
    assert_eq!(run.outputs["exit-code"], "3");
}

#[test]
fn a_binary_dying_without_outputs_is_an_error_verdict() {
    let sim = Sim::new().release(LINUX_X64).dies(101);
    let run = sim.run();
    let check = run.step("check");
    assert_eq!(check.code, 101);
    assert!(
        check.output_file.contains("exit-code=101\n"),
        "{}",
        check.output_file
    );
    assert!(check.output_file.contains("verdict=error\n"));
    assert!(check
        .stdout
        .contains("::error::promptgate verdict error (exit code 101)"));
    assert_eq!(run.outputs["verdict"], "error");
    assert_eq!(run.outputs["exit-code"], "101");
}

#[test]
fn exit_zero_without_a_verdict_fails_closed() {
    let sim = Sim::new().release(LINUX_X64).dies(0);
    let run = sim.run();
    assert_eq!(run.step("check").code, 1);
    assert_eq!(run.outputs["verdict"], "error");
    assert_eq!(run.outputs["exit-code"], "0");
}

#[test]
fn args_are_separate_argv_entries_and_config_becomes_promptgate_config() {
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("args", "--base main --format json")
        .input("config", "ci/promptgate.toml");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    let checks = sim.checks();
    assert_eq!(
        checks[0].args,
        ["check", "--post", "--base", "main", "--format", "json"]
    );
    assert_eq!(checks[0].config, "ci/promptgate.toml");

    // Without the input, PROMPTGATE_CONFIG is not set at all (not even to "").
    let sim = Sim::new().release(LINUX_X64);
    sim.run();
    assert_eq!(sim.checks()[0].config, "<unset>");
}

#[test]
fn args_are_not_globbed_and_check_runs_in_the_working_directory() {
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("working-directory", "sub/dir")
        .input("args", "--surface *\n--out  report");
    let workdir = sim.dir("workspace").join("sub/dir");
    fs::create_dir_all(&workdir).unwrap();
    fs::write(workdir.join("some-file"), "").unwrap();
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    let checks = sim.checks();
    assert_eq!(
        checks[0].args,
        ["check", "--post", "--surface", "*", "--out", "report"]
    );
    assert_eq!(
        fs::canonicalize(&checks[0].cwd).unwrap(),
        fs::canonicalize(&workdir).unwrap()
    );
}

#[test]
fn post_false_omits_post() {
    let sim = Sim::new().release(LINUX_X64).input("post", "false");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert_eq!(sim.checks()[0].args, ["check"]);

    // needs-signoff allowed without --post: nothing blocks the merge, and the action says so.
    let sim = Sim::new()
        .release(LINUX_X64)
        .verdict(3, "needs-signoff")
        .input("post", "false")
        .input("fail-on-needs-signoff", "false");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert!(run.step("check").stdout.contains("::warning::"));
}

#[test]
fn record_and_review_run_their_command_with_the_exit_code_as_is() {
    // The push workflow: `record --push`; `post` does not apply to it.
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("command", "record")
        .input("args", "--push");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    let calls: Vec<Vec<String>> = sim
        .calls("promptgate")
        .into_iter()
        .map(|c| c.args)
        .filter(|a| a.first().is_some_and(|a| a != "--version"))
        .collect();
    assert_eq!(calls, [["record", "--push"]]);
    assert_eq!(run.step("check").outputs["exit-code"], "0");

    // The weekly schedule: `review --post`, with the token for the issue.
    let sim = Sim::new().release(LINUX_X64).input("command", "review");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    let review: Vec<_> = sim
        .calls("promptgate")
        .into_iter()
        .filter(|c| c.args.first().is_some_and(|a| a == "review"))
        .collect();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].args, ["review", "--post"]);
    assert!(review[0].token_set);

    // A failing record fails the step with its own code, whatever the verdict logic says.
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("command", "record")
        .dies(4);
    let run = sim.run();
    let step = run.step("check");
    assert_eq!(step.code, 4);
    assert!(
        step.stdout.contains("::error::promptgate record failed"),
        "{}",
        step.stdout
    );
}

#[test]
fn an_unknown_command_is_an_error() {
    let sim = Sim::new().release(LINUX_X64).input("command", "deploy");
    let run = sim.run();
    let check = run.step("check");
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.contains("must be check, record or review"),
        "{}",
        check.stdout
    );
    assert!(sim
        .calls("promptgate")
        .iter()
        .all(|c| c.args.first().is_some_and(|a| a == "--version")));
}

#[test]
fn a_misspelt_boolean_input_is_an_error() {
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("fail-on-needs-signoff", "flase");
    let run = sim.run();
    let check = run.step("check");
    assert_eq!(check.code, 1);
    assert!(check.stdout.contains("::error::"), "{}", check.stdout);
    assert!(sim.checks().is_empty());
}

#[test]
fn the_token_reaches_only_promptgate_and_only_through_env() {
    let scenarios = [
        Sim::new().verdict(0, "pass"),
        Sim::new().release(LINUX_X64).verdict(1, "blocked"),
        Sim::new().release(LINUX_X64).dies(101),
        Sim::new()
            .release(LINUX_X64)
            .input("args", "--base main")
            .input("post", "false"),
    ];
    for sim in scenarios {
        let run = sim.run();
        assert!(
            !run.all_text().contains(TOKEN),
            "the token leaked into step output: {run:#?}"
        );
        assert!(
            !run.step("install").env.values().any(|v| v.contains(TOKEN)),
            "the install step gets no token"
        );
        for tool in ["curl", "cargo"] {
            for call in sim.calls(tool) {
                assert!(!call.token_set, "{tool} saw GITHUB_TOKEN");
                assert!(!call.args.iter().any(|a| a.contains(TOKEN)));
            }
        }
        let checks = sim.checks();
        assert_eq!(checks.len(), 1);
        assert!(checks[0].token_set);
        assert_eq!(checks[0].token_hex, hex(TOKEN), "GITHUB_TOKEN is the input");
        for call in sim.calls("promptgate") {
            assert!(
                !call.args.iter().any(|a| a.contains(TOKEN)),
                "token in argv"
            );
        }
    }

    // An explicit github-token input wins over github.token.
    let sim = Sim::new()
        .release(LINUX_X64)
        .input("github-token", "ghp_other");
    sim.run();
    assert_eq!(sim.checks()[0].token_hex, hex("ghp_other"));
}

/// A git repository in `dir` whose `feature` branch edits a tracked, ungated `self` surface;
/// returns (base, head).
fn product_repo(dir: &Path) -> (String, String) {
    let git = |args: &[&str]| common::git_in(dir, args);
    git(&["init", "-q", "-b", "main"]);
    fs::write(
        dir.join("promptgate.toml"),
        common::config(&[("notes", "prompts/*.md")]),
    )
    .unwrap();
    fs::create_dir_all(dir.join("prompts")).unwrap();
    fs::write(dir.join("prompts/notes.md"), "Summarise {{ text }}\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    let base = git(&["rev-parse", "HEAD"]);
    git(&["checkout", "-q", "-b", "feature"]);
    fs::write(
        dir.join("prompts/notes.md"),
        "Summarise briefly: {{ text }}\n",
    )
    .unwrap();
    git(&["commit", "-q", "-am", "shorter notes"]);
    (base, git(&["rev-parse", "HEAD"]))
}

#[test]
fn the_real_binary_posts_through_the_action() {
    let api = github::GitHub::start();
    api.add_integration_token(TOKEN, "github-actions[bot]");
    let mut sim = Sim::new();
    let (base, head) = product_repo(&sim.dir("workspace"));
    let real = sim.dir("real");
    fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_promptgate"), real.join("promptgate")).unwrap();
    sim.extra_path.push(real);
    let event = serde_json::json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": {"number": 7, "body": "", "user": {"login": "author"},
            "base": {"sha": base, "ref": "main"}, "head": {"sha": head, "ref": "feature"}},
    });
    let event_path = sim.dir("event.json");
    fs::write(&event_path, event.to_string()).unwrap();
    let sim = sim
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_REPOSITORY", "acme/prompts")
        .env("GITHUB_API_URL", api.url())
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_RUN_ID", "99");
    let run = sim.run();
    assert!(run.succeeded(), "{run:#?}");
    assert_eq!(run.outputs["verdict"], "pass", "{run:#?}");
    assert_eq!(run.outputs["exit-code"], "0");
    assert!(run.outputs["report"].ends_with("report.json"));
    assert!(run.step("check").summary.contains("promptgate: pass"));
    let statuses = api.statuses();
    assert_eq!(statuses.len(), 1, "{run:#?}");
    assert_eq!(
        (statuses[0].sha.as_str(), statuses[0].state.as_str()),
        (head.as_str(), "success")
    );
    let comments = api.comments(7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.starts_with("<!-- promptgate:verdict -->"));
    assert!(!run.all_text().contains(TOKEN));
}
