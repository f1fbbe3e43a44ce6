//! The config schema as Rust types, and the semantic checks serde cannot express.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{bounds, paths, PromptGlobs};
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How the evals are run and judged: trials, significance, cost limit, grader.
    #[serde(default)]
    pub gate: Gate,
    /// Where model calls go, by name; surfaces name one (the base's table decides).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Provider>")]
    pub provider: BTreeMap<String, Spanned<Provider>>,
    /// The prompt surfaces: their prompt files, cases, thresholds and tier.
    #[serde(default)]
    #[schemars(with = "Vec<Surface>")]
    pub surface: Vec<Spanned<Surface>>,
    /// Who approves a change of each tier, and which artifacts it carries.
    #[serde(default)]
    pub tier: Tiers,
    /// Rules that raise a change's tier.
    #[serde(default)]
    pub policy: Policy,
    /// Per-model prices overriding the built-in table, keyed by model name.
    #[serde(default)]
    pub price: BTreeMap<String, Price>,
    /// The rollback-drill rhythm.
    #[serde(default)]
    pub drill: Drill,
    /// What the Monday review calls a stealth problem.
    #[serde(default)]
    pub review: Review,
    /// What the local git hooks ask of a change.
    #[serde(default)]
    pub hooks: Hooks,
    /// The config as written, to compare what the typed fields do not carry key by key
    /// (governance tables, provider endpoints, surface file mappings); filled by
    /// `config::load`.
    #[serde(skip)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub raw: toml::Table,
}

/// The tables that decide who approves and how the gate is run: any change to them is a
/// governance change.
pub const GOVERNANCE_TABLES: [&str; 4] = ["tier", "policy", "drill", "hooks"];

impl Config {
    /// The surface named `name`, if the config declares one.
    pub fn surface_named(&self, name: &str) -> Option<&Surface> {
        self.surface
            .iter()
            .map(|s| s.get_ref())
            .find(|s| s.name.get_ref() == name)
    }

    /// Every surface's name, in config order (for "the config declares: …").
    pub fn surface_names(&self) -> Vec<&str> {
        self.surface
            .iter()
            .map(|s| s.get_ref().name.get_ref().as_str())
            .collect()
    }

    /// The governance tables as written.
    pub fn governance(&self) -> toml::Table {
        self.raw
            .iter()
            .filter(|(key, _)| GOVERNANCE_TABLES.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// The rollback-drill rhythm.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// A surface whose last passing drill is older than this is overdue (quarterly).
    #[serde(default = "ninety", deserialize_with = "bounds::every_days")]
    pub every_days: u32,
    /// Whether an overdue drill only warns in the verdict comment or blocks the change.
    #[serde(default)]
    pub overdue: Overdue,
    /// A drill that takes longer than this fails.
    #[serde(default = "thirty", deserialize_with = "bounds::max_minutes")]
    pub max_minutes: u32,
}

impl Default for Drill {
    fn default() -> Self {
        Drill {
            every_days: ninety(),
            overdue: Overdue::Warn,
            max_minutes: thirty(),
        }
    }
}

/// What the local git hooks ask of a change.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Whether a missing artifact stops the commit and the push, or is only said.
    #[serde(default)]
    pub artifacts: HookArtifacts,
}

/// `[hooks] artifacts`: the pull request's description can hold the artifacts, so by
/// default the hooks only say what it will need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookArtifacts {
    #[default]
    Warn,
    Require,
}

/// What the Monday review calls a stealth problem.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The tail falling this much (a fraction) between weeks...
    #[serde(default = "tenth", deserialize_with = "bounds::tail_drop")]
    pub tail_drop: f64,
    /// ...while the average moved less than this is a stealth problem.
    #[serde(default = "twentieth", deserialize_with = "bounds::average_hold")]
    pub average_hold: f64,
}

impl Default for Review {
    fn default() -> Self {
        Review {
            tail_drop: tenth(),
            average_hold: twentieth(),
        }
    }
}

fn tenth() -> f64 {
    0.10
}

fn twentieth() -> f64 {
    0.05
}

fn ninety() -> u32 {
    90
}

fn thirty() -> u32 {
    30
}

/// What an overdue drill does: `warn` in the comment, or `block` the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Overdue {
    #[default]
    Warn,
    Block,
}

/// A model's price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million input (prompt) tokens.
    #[serde(deserialize_with = "bounds::price_per_mtok")]
    pub input_per_mtok: f64,
    /// USD per million output (completion) tokens.
    #[serde(deserialize_with = "bounds::price_per_mtok")]
    pub output_per_mtok: f64,
}

/// How the evals are run and judged.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Trials per case per side.
    #[serde(default = "one", deserialize_with = "bounds::repeat")]
    #[schemars(with = "u32")]
    pub repeat: Spanned<u32>,
    /// Rounds of `repeat` trials a surface gets at most while its rules are inconclusive.
    #[serde(
        default = "default_max_repeat",
        deserialize_with = "bounds::max_repeat"
    )]
    #[schemars(with = "u32")]
    pub max_repeat: Spanned<u32>,
    /// Trials that must pass for a case to pass; default a strict majority of `repeat`.
    #[serde(default, deserialize_with = "bounds::quorum")]
    #[schemars(with = "Option<u32>")]
    pub quorum: Option<Spanned<u32>>,
    /// Alpha of the paired McNemar test.
    #[serde(default = "default_significance")]
    #[schemars(with = "f64")]
    pub significance: Spanned<f64>,
    /// A run stops before its new model calls would cost more than this.
    #[schemars(with = "Option<f64>")]
    pub max_cost_usd: Option<Spanned<f64>>,
    /// The provider that grades `llm-rubric` assertions.
    #[schemars(with = "Option<String>")]
    pub grader: Option<Spanned<String>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            repeat: one(),
            max_repeat: default_max_repeat(),
            quorum: None,
            significance: default_significance(),
            max_cost_usd: None,
            grader: None,
        }
    }
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

fn default_max_repeat() -> Spanned<u32> {
    Spanned::new(0..0, bounds::DEFAULT_MAX_REPEAT)
}

fn default_significance() -> Spanned<f64> {
    Spanned::new(0..0, 0.05)
}

/// How a provider is called: an OpenAI-compatible or Anthropic API, a local command, or
/// a cassette of recorded answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Exec,
    Replay,
}

/// One place model calls go.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// `openai` (any OpenAI-compatible server), `anthropic`, `exec` or `replay`.
    pub kind: ProviderKind,
    /// `openai`/`anthropic`: the API root, an `http(s)://` URL.
    #[serde(default, deserialize_with = "http_url")]
    pub base_url: Option<String>,
    /// The model requested (`openai`/`anthropic`).
    pub model: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// Calls in flight at once (default 16).
    #[serde(default, deserialize_with = "bounds::concurrency")]
    pub concurrency: Option<u32>,
    /// Seconds one call may take (default 60).
    #[serde(default, deserialize_with = "bounds::timeout_secs")]
    pub timeout_secs: Option<u64>,
    /// Extra request parameters (temperature, max_tokens, …).
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub parameters: toml::Table,
    /// `exec`: the command and its arguments, run without a shell.
    pub command: Option<Vec<String>>,
    /// `replay`: the cassette file of recorded responses, from the repository root.
    #[serde(default, deserialize_with = "repository_path")]
    pub cassette: Option<String>,
    /// `replay`: the provider `--record` calls to fill the cassette.
    pub record_from: Option<String>,
    /// `exec`: what the command reads on stdin: the prompt text, or the JSON request.
    pub input: Option<ExecInput>,
    /// Retries after a transient failure (429, 5xx, timeout); default 3.
    #[serde(default, deserialize_with = "bounds::max_retries")]
    pub max_retries: Option<u32>,
    /// Overrides the model's price for this provider.
    pub price: Option<Price>,
}

impl Provider {
    /// The limit of one call: `timeout_secs`, else the default, within its bound.
    pub fn timeout(&self) -> std::time::Duration {
        let secs = self.timeout_secs.unwrap_or(bounds::DEFAULT_TIMEOUT_SECS);
        std::time::Duration::from_secs(bounds::TIMEOUT_SECS.clamp(secs))
    }

    /// Calls in flight at once: `concurrency`, else the default, within its bound.
    pub fn concurrency(&self) -> usize {
        let n = self.concurrency.unwrap_or(bounds::DEFAULT_CONCURRENCY);
        bounds::CONCURRENCY.clamp(u64::from(n)) as usize
    }

    /// Retries after a transient failure: `max_retries`, else the default, within its bound.
    pub fn max_retries(&self) -> u32 {
        let n = self.max_retries.unwrap_or(bounds::DEFAULT_MAX_RETRIES);
        bounds::MAX_RETRIES.clamp(u64::from(n)) as u32
    }
}

/// Reads `base_url`: an `http://` or `https://` URL with a host, and nothing after its path
/// (the client appends the API's own path to it).
fn http_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    http_url_problem(&url).map_or(Ok(Some(url)), |why| {
        Err(serde::de::Error::custom(format!("`base_url` {why}")))
    })
}

/// Why `url` is no API root, or `None` when it is one.
fn http_url_problem(url: &str) -> Option<String> {
    let quoted = format!("`{}`", url.escape_debug());
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Some(format!(
                "{quoted} is not a URL ({e}); write e.g. `https://api.openai.com/v1`"
            ))
        }
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!(
            "{quoted} is not an http(s) URL; write e.g. `https://api.openai.com/v1`"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some(format!("{quoted} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some(format!("{quoted} holds credentials; put the key in the environment variable named by `api_key_env`"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Some(format!("{quoted} has a query or fragment; give the API root only, the request path is appended to it"));
    }
    None
}

/// Reads a path the config names, refusing one outside the repository.
fn repository_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let path = String::deserialize(d)?;
    match paths::problem("cassette", &path) {
        Some(message) => Err(serde::de::Error::custom(message)),
        None => Ok(Some(path)),
    }
}

/// What an `exec` provider reads on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExecInput {
    /// The rendered messages as text (one message: its content).
    #[default]
    Text,
    /// The request as JSON: `{"model", "messages", "params"}`.
    Json,
}

/// Who approves a change: `self` (the author), `council` or `exec`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[serde(rename = "self")]
    SelfApproved,
    Council,
    Exec,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::SelfApproved => "self",
            Tier::Council => "council",
            Tier::Exec => "exec",
        }
    }
}

/// A prompt surface: the prompt files that make one product behaviour, their cases and rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Surface {
    /// A unique name, used in reports, flags and change records.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Globs of the prompt files (and their includes) that make the surface.
    #[schemars(with = "Vec<String>")]
    pub prompts: Spanned<Vec<Spanned<String>>>,
    /// The prompt file eval cases render, when the globs match several (the others are
    /// parts of the surface, e.g. partials).
    #[schemars(with = "Option<String>")]
    pub entry: Option<Spanned<String>>,
    /// `false` tracks the surface for diffs, artifacts and approvals without eval rules.
    #[serde(default = "yes")]
    pub gate: bool,
    /// The eval cases file (JSONL or YAML), from the repository root; required when gated.
    #[schemars(with = "Option<String>")]
    pub cases: Option<Spanned<String>>,
    /// The `[provider.NAME]` the cases run on.
    #[schemars(with = "Option<String>")]
    pub provider: Option<Spanned<String>>,
    /// Who approves a change to this surface.
    pub tier: Tier,
    /// The head's pass rate must be at least this (0–1).
    #[schemars(with = "Option<f64>")]
    pub min_pass_rate: Option<Spanned<f64>>,
    /// The head's pass rate may fall at most this far below the base's (0–1).
    #[schemars(with = "Option<f64>")]
    pub max_drop: Option<Spanned<f64>>,
    /// The pass rate of the hardest 10% of cases (by `difficulty`) must be at least this.
    #[schemars(with = "Option<f64>")]
    pub tail_min_pass_rate: Option<Spanned<f64>>,
    /// Thresholds on named metrics (the mean score of the assertions carrying `metric`).
    #[serde(default)]
    #[schemars(with = "Vec<MetricThreshold>")]
    pub metrics: Vec<Spanned<MetricThreshold>>,
    /// Overrides `[gate] repeat` for this surface.
    #[serde(default, deserialize_with = "bounds::repeat_opt")]
    #[schemars(with = "Option<u32>")]
    pub repeat: Option<Spanned<u32>>,
    /// Run by `promptgate drill` after the rollback (e.g. a feature-flag flip in staging),
    /// as argv without a shell, with the target revision in its environment.
    pub drill_command: Option<Vec<String>>,
    /// The Monday review's one number: `pass_rate` (the default) or a metric's name.
    pub headline: Option<String>,
}

impl Surface {
    /// The prompt globs as written.
    pub fn prompt_patterns(&self) -> Vec<&str> {
        self.prompts
            .get_ref()
            .iter()
            .map(|p| p.get_ref().as_str())
            .collect()
    }
}

fn yes() -> bool {
    true
}

/// Thresholds on one named metric, judged on the head (and against the base for `max_drop`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricThreshold {
    /// The `metric` name assertions carry.
    pub name: String,
    /// The head's mean score must be at least this.
    #[serde(default, deserialize_with = "bounds::metric_min")]
    pub min: Option<f64>,
    /// The head's mean score must be at most this.
    #[serde(default, deserialize_with = "bounds::metric_max")]
    pub max: Option<f64>,
    /// The head's mean may fall at most this far below the base's.
    #[serde(default, deserialize_with = "bounds::metric_max_drop")]
    pub max_drop: Option<f64>,
}

/// `[tier.self]`, `[tier.council]`, `[tier.exec]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    /// Changes the author may merge alone.
    #[serde(rename = "self")]
    #[schemars(with = "Option<TierPolicy>")]
    pub self_approved: Option<Spanned<TierPolicy>>,
    /// Changes the prompt-change council signs off.
    #[schemars(with = "Option<TierPolicy>")]
    pub council: Option<Spanned<TierPolicy>>,
    /// Changes an executive signs off (loosened thresholds, governance, cross-cutting).
    #[schemars(with = "Option<TierPolicy>")]
    pub exec: Option<Spanned<TierPolicy>>,
}

impl Config {
    /// The artifacts a change of `tier` must carry (none when the tier has no table).
    pub fn required_artifacts(&self, tier: Tier) -> Vec<String> {
        self.tier
            .get(tier)
            .map(|t| {
                t.get_ref()
                    .artifacts
                    .iter()
                    .map(|a| a.get_ref().clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Tiers {
    pub fn get(&self, tier: Tier) -> Option<&Spanned<TierPolicy>> {
        match tier {
            Tier::SelfApproved => self.self_approved.as_ref(),
            Tier::Council => self.council.as_ref(),
            Tier::Exec => self.exec.as_ref(),
        }
    }
}

/// Who approves a tier's changes and what they must carry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPolicy {
    /// GitHub logins or `org/team` slugs.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub approvers: Vec<Spanned<String>>,
    /// Approving reviews from `approvers` needed (default 1).
    #[serde(default = "one", deserialize_with = "bounds::min_approvals")]
    #[schemars(with = "u32")]
    pub min_approvals: Spanned<u32>,
    /// Required artifacts: `impact`, `rollback`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub artifacts: Vec<Spanned<String>>,
}

/// Rules that raise a change's tier.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A change touching this many surfaces or more needs exec approval.
    #[serde(default, deserialize_with = "bounds::cross_cutting_surfaces")]
    #[schemars(with = "Option<u32>")]
    pub cross_cutting_surfaces: Option<Spanned<u32>>,
    /// Whether an approving review of an older commit of the pull request still counts
    /// (default: no, the head commit must be approved).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub allow_stale_approvals: Option<Spanned<bool>>,
}

impl Policy {
    pub fn allows_stale_approvals(&self) -> bool {
        self.allow_stale_approvals
            .as_ref()
            .is_some_and(|a| *a.get_ref())
    }
}

/// Artifact names promptgate knows how to find.
pub const ARTIFACTS: &[&str] = &["impact", "rollback"];

/// Semantic checks over a parsed config: every problem, errors and warnings together.
pub(super) fn check(config: &Config, file: &str, text: &str) -> Vec<Diagnostic> {
    let mut out = Checker {
        file,
        text,
        out: Vec::new(),
    };
    out.gate(&config.gate);
    for (name, provider) in &config.provider {
        out.provider(name, provider);
        let record_from = provider.get_ref().record_from.as_deref();
        out.provider_reference(config, record_from, provider.span(), "record_from");
    }
    if let Some(grader) = &config.gate.grader {
        out.provider_reference(config, Some(grader.get_ref()), grader.span(), "grader");
    }
    let mut names = BTreeSet::new();
    for surface in &config.surface {
        if !names.insert(surface.get_ref().name.get_ref().as_str()) {
            let name = &surface.get_ref().name;
            out.error(
                name.span(),
                format!("surface `{}` is declared twice", name.get_ref()),
            )
            .help("surface names identify results across revisions: make them unique");
        }
        out.surface(config, surface);
    }
    for tier in [Tier::SelfApproved, Tier::Council, Tier::Exec] {
        if let Some(policy) = config.tier.get(tier) {
            out.tier_policy(tier, policy);
        }
    }
    out.out
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, message: String) -> &mut Diagnostic {
        self.push(Diagnostic::error(self.file, message), span)
    }

    fn warning(&mut self, span: std::ops::Range<usize>, message: String) -> &mut Diagnostic {
        self.push(Diagnostic::warning(self.file, message), span)
    }

    fn push(&mut self, diagnostic: Diagnostic, span: std::ops::Range<usize>) -> &mut Diagnostic {
        let diagnostic = if span.is_empty() && span.start == 0 {
            diagnostic
        } else {
            diagnostic.at_span(self.text, span)
        };
        self.out.push(diagnostic);
        let last = self.out.len() - 1;
        &mut self.out[last]
    }

    fn gate(&mut self, gate: &Gate) {
        let repeat = *gate.repeat.get_ref();
        if let Some(quorum) = &gate.quorum {
            if *quorum.get_ref() == 0 || *quorum.get_ref() > repeat {
                self.error(
                    quorum.span(),
                    format!("`quorum` must be between 1 and `repeat` ({repeat})"),
                )
                .help("leave it out for a strict majority of the trials");
            }
        }
        if let Some(budget) = &gate.max_cost_usd {
            if !budget.get_ref().is_finite() || *budget.get_ref() <= 0.0 {
                self.error(
                    budget.span(),
                    format!(
                        "`max_cost_usd` must be a finite amount more than 0, not {}",
                        budget.get_ref()
                    ),
                );
            }
        }
        let alpha = *gate.significance.get_ref();
        if !(alpha > 0.0 && alpha < 1.0) {
            self.error(
                gate.significance.span(),
                format!("`significance` must be between 0 and 1 (exclusive), not {alpha}"),
            )
            .help("0.05 is the usual choice");
        }
    }

    fn provider(&mut self, name: &str, provider: &Spanned<Provider>) {
        let span = provider.span();
        let p = provider.get_ref();
        let needs = |key: &str, present: bool| (!present).then(|| key.to_string());
        let missing = match p.kind {
            ProviderKind::Openai | ProviderKind::Anthropic => needs("model", p.model.is_some()),
            ProviderKind::Exec => {
                needs("command", p.command.as_ref().is_some_and(|c| !c.is_empty()))
            }
            ProviderKind::Replay => needs("cassette", p.cassette.is_some()),
        };
        if let Some(key) = missing {
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            self.error(
                span.clone(),
                format!(
                    "provider `{name}` of kind `{}` has no `{key}`",
                    kind.unwrap_or_default()
                ),
            )
            .help(format!("add `{key} = …` to [provider.{name}]"));
        }
    }

    fn provider_reference(
        &mut self,
        config: &Config,
        name: Option<&str>,
        span: std::ops::Range<usize>,
        key: &str,
    ) {
        if let Some(name) = name {
            if !config.provider.contains_key(name) {
                let known: Vec<_> = config.provider.keys().map(|k| format!("`{k}`")).collect();
                self.error(
                    span,
                    format!("`{key}` names provider `{name}`, which is not declared"),
                )
                .help(format!("declared providers: {}", known.join(", ")));
            }
        }
    }

    fn surface(&mut self, config: &Config, surface: &Spanned<Surface>) {
        let s = surface.get_ref();
        let name = s.name.get_ref();
        let table = surface.span();
        if name.trim().is_empty() {
            self.error(s.name.span(), "a surface name cannot be empty".into());
        }
        if s.prompts.get_ref().is_empty() {
            self.error(s.prompts.span(), format!("surface `{name}` has no prompt globs"))
                .help("list the files that make the surface, e.g. prompts = [\"prompts/support/**/*.md\"]");
        }
        for glob in s.prompts.get_ref() {
            if let Some(message) = paths::problem("prompts", glob.get_ref()) {
                self.error(glob.span(), message).help(paths::HELP);
            } else if let Err(message) = PromptGlobs::new([glob.get_ref().as_str()]) {
                self.error(glob.span(), message)
                    .help("globs use `*` within a directory and `**` across directories");
            }
        }
        for (key, path) in [("entry", &s.entry), ("cases", &s.cases)] {
            if let Some(path) = path {
                if let Some(message) = paths::problem(key, path.get_ref()) {
                    self.error(path.span(), message).help(paths::HELP);
                }
            }
        }
        self.rate(&s.min_pass_rate, "min_pass_rate");
        self.rate(&s.max_drop, "max_drop");
        self.rate(&s.tail_min_pass_rate, "tail_min_pass_rate");
        for metric in &s.metrics {
            let m = metric.get_ref();
            if m.min.is_none() && m.max.is_none() && m.max_drop.is_none() {
                self.error(
                    metric.span(),
                    format!("metric `{}` of surface `{name}` has no threshold", m.name),
                )
                .help("give it `min`, `max` or `max_drop`");
            }
        }
        if s.gate {
            self.gated_surface(config, s, table);
        }
        if s.tier != Tier::SelfApproved && config.tier.get(s.tier).is_none() {
            let tier = s.tier.as_str();
            self.error(
                s.name.span(),
                format!("surface `{name}` has tier `{tier}` but there is no [tier.{tier}] table"),
            )
            .help(format!(
                "add [tier.{tier}] with its `approvers` and `min_approvals`"
            ));
        }
    }

    fn gated_surface(&mut self, config: &Config, s: &Surface, table: std::ops::Range<usize>) {
        let name = s.name.get_ref();
        if s.min_pass_rate.is_none() {
            self.error(s.name.span(), format!("surface `{name}` is gated but has no `min_pass_rate`"))
                .help("thresholds are never implied: add e.g. `min_pass_rate = 0.9`, or `gate = false` to track it without evals");
        }
        if s.cases.is_none() {
            self.error(
                table.clone(),
                format!("surface `{name}` is gated but has no `cases` file"),
            )
            .help("add `cases = \"evals/<surface>.jsonl\"` (JSONL or YAML), or `gate = false`");
        }
        match &s.provider {
            None => {
                self.error(
                    table,
                    format!("surface `{name}` is gated but has no `provider`"),
                )
                .help("add `provider = \"<name>\"` naming a [provider.<name>] table");
            }
            Some(provider) if !config.provider.contains_key(provider.get_ref()) => {
                let known: Vec<_> = config.provider.keys().map(|k| format!("`{k}`")).collect();
                let known = if known.is_empty() {
                    "none is declared".into()
                } else {
                    known.join(", ")
                };
                self.error(
                    provider.span(),
                    format!(
                        "surface `{name}` uses provider `{}`, which is not declared",
                        provider.get_ref()
                    ),
                )
                .help(format!("declared providers: {known}"));
            }
            Some(_) => {}
        }
    }

    fn rate(&mut self, value: &Option<Spanned<f64>>, key: &str) {
        if let Some(v) = value {
            let x = *v.get_ref();
            if !(0.0..=1.0).contains(&x) {
                self.error(
                    v.span(),
                    format!("`{key}` must be a fraction between 0 and 1, not {x}"),
                )
                .help("write 0.9 for 90%");
            }
        }
    }

    fn tier_policy(&mut self, tier: Tier, policy: &Spanned<TierPolicy>) {
        let p = policy.get_ref();
        let tier = tier.as_str();
        let min = *p.min_approvals.get_ref();
        if tier != "self" && (p.approvers.len() as u64) < u64::from(min) {
            self.error(
                policy.span(),
                format!(
                    "[tier.{tier}] needs {min} approval(s) but lists {} approver(s)",
                    p.approvers.len()
                ),
            )
            .help("list GitHub logins or `org/team` slugs in `approvers`");
        }
        for approver in &p.approvers {
            if !valid_approver(approver.get_ref()) {
                self.error(
                    approver.span(),
                    format!(
                        "`{}` is not a GitHub login or `org/team`",
                        approver.get_ref()
                    ),
                );
            }
        }
        for artifact in &p.artifacts {
            if !ARTIFACTS.contains(&artifact.get_ref().as_str()) {
                self.error(
                    artifact.span(),
                    format!("unknown artifact `{}`", artifact.get_ref()),
                )
                .help(format!("known artifacts: {}", ARTIFACTS.join(", ")));
            }
        }
        if tier == "self" && !p.approvers.is_empty() {
            self.warning(
                policy.span(),
                "[tier.self] approvers are ignored: self-tier changes need no approval".into(),
            );
        }
    }
}

fn valid_approver(approver: &str) -> bool {
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    match approver.split_once('/') {
        Some((org, team)) => part_ok(org) && part_ok(team),
        None => part_ok(approver),
    }
}
