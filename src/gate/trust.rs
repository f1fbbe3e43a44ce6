//! The trust boundary of one gate run, decided in one place: the head's prompts, cases,
//! model and parameters are what gets measured; where answers come from (providers: kind,
//! endpoint, key variable, command, cassette), which files stand for a surface (`prompts`,
//! `entry`, `cases`) and which commands run are the base's. A head change to any of those
//! is shown, counts as a governance change (tier `exec`) and is not used for the run —
//! unless a maintainer running the gate by hand passes `--trust-head`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Surface};
use crate::eval::assert::Kind;
use crate::eval::cases::Case;

/// Whether the head's own providers, mappings and commands may be used: only a maintainer
/// says so, by hand (`--trust-head`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeadTrust {
    /// The default: the head is measured, never obeyed.
    #[default]
    Untrusted,
    /// `--trust-head`: a maintainer vouches for the head's config and commands.
    Trusted,
}

/// A side of the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The merge base: part of the base branch's history, so trusted as written.
    Base,
    Head,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// Provider keys a side may set for itself: what is measured.
const MEASURED_KEYS: [&str; 2] = ["model", "parameters"];

/// Request parameters a head may set (front matter or `parameters`): how the model
/// samples. Anything else could reroute or multiply the calls on a gateway (`api_base`,
/// `api_key`, `n`, `store`…), so the head's other keys are not sent.
pub const SAMPLING_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stop",
    "stop_sequences",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "verbosity",
    "system",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
];

/// What one run may use, side by side.
pub struct Trust {
    head_trust: HeadTrust,
    base: Config,
    head: Config,
    refused: BTreeMap<(Side, String), String>,
    /// Head changes to what the base decides, each a sentence: shown, raising the tier.
    pub overridden: Vec<String>,
}

impl Trust {
    /// From the policy (the base branch's config), the merge base's and the head's.
    pub fn new(
        policy: &Config,
        merge_base: Option<&Config>,
        head: Option<&Config>,
        head_trust: HeadTrust,
    ) -> Trust {
        let mut trust = Trust {
            head_trust,
            base: policy.clone(),
            head: policy.clone(),
            refused: BTreeMap::new(),
            overridden: Vec::new(),
        };
        trust.side(Side::Base, merge_base, policy);
        // What the head changes is judged against its merge base: a provider the base branch
        // changed after the branch started is not the change's doing.
        trust.side(Side::Head, head, merge_base.unwrap_or(policy));
        trust
    }

    /// The provider tables a side connects with.
    pub fn providers(&self, side: Side) -> &Config {
        match side {
            Side::Base => &self.base,
            Side::Head => &self.head,
        }
    }

    /// Why a side may not use a provider, when it may not.
    pub fn refused(&self, side: Side, provider: &str) -> Option<&str> {
        self.refused
            .get(&(side, provider.to_string()))
            .map(String::as_str)
    }

    /// Sets `side`'s providers: the policy's, with `own`'s model and parameters; for the
    /// head, a difference from `before` in anything else is noted as overridden.
    fn side(&mut self, side: Side, own: Option<&Config>, before: &Config) {
        let Some(own) = own else { return };
        let trusted = side == Side::Base || self.head_trust == HeadTrust::Trusted;
        let raw_providers = |c: &Config| {
            c.raw
                .get("provider")
                .and_then(toml::Value::as_table)
                .cloned()
        };
        let (before_raw, own_raw) = (raw_providers(before), raw_providers(own));
        let config = match side {
            Side::Base => &mut self.base,
            Side::Head => &mut self.head,
        };
        for (name, provider) in &own.provider {
            let own_provider = provider.get_ref();
            let Some(base) = config.provider.get_mut(name) else {
                if trusted {
                    config.provider.insert(name.clone(), provider.clone());
                } else {
                    self.refused.insert(
                        (side, name.clone()),
                        format!("the change adds provider `{name}`; where answers come from is the base's to decide: add the provider on the base branch first, or have a maintainer run `promptgate check --trust-head`"),
                    );
                }
                continue;
            };
            if trusted && side == Side::Head {
                *base = provider.clone();
                continue;
            }
            let base = base.get_mut();
            base.model = own_provider.model.clone();
            base.parameters = own_provider.parameters.clone();
            if side == Side::Head {
                let table = |raw: &Option<toml::Table>| {
                    raw.as_ref()
                        .and_then(|t| t.get(name))
                        .and_then(toml::Value::as_table)
                        .cloned()
                        .unwrap_or_default()
                };
                for key in differing_keys(&table(&before_raw), &table(&own_raw), &MEASURED_KEYS) {
                    self.overridden.push(format!(
                        "provider `{name}`: the change sets `{key}`, which is the base's to decide; this run uses the base's"
                    ));
                }
            }
        }
    }

    /// The definition a head side loads with: the head's surface with the base's file
    /// mapping (`prompts`, `entry`, `cases`), its paths following the renames the change set
    /// found. A head that maps the surface otherwise is noted (and, trusted, obeyed).
    pub fn head_surface(
        &mut self,
        base: Option<&Surface>,
        head: &Surface,
        renames: &BTreeMap<String, String>,
    ) -> Surface {
        let Some(base) = base else {
            return head.clone();
        };
        let renamed = |path: &toml::Spanned<String>| {
            let now = renames.get(path.get_ref()).unwrap_or(path.get_ref());
            toml::Spanned::new(path.span(), now.clone())
        };
        if let Some(entry) = base.entry.as_ref().map(|e| e.get_ref()) {
            if let Some(to) = renames.get(entry) {
                // The rename is followed, but which file production renders is not the
                // gate's to know: a renamed entry next to a new prompt may be a decoy.
                self.overridden.push(format!(
                    "surface `{}`: the change renames its entry prompt `{entry}` to `{to}`; which file production renders is the base's to confirm",
                    head.name.get_ref()
                ));
            }
        }
        let mut mapped = head.clone();
        mapped.prompts = base.prompts.clone();
        mapped.entry = base.entry.as_ref().map(renamed);
        mapped.cases = base.cases.as_ref().map(renamed);
        let name = head.name.get_ref();
        let patterns = |s: &Surface| {
            s.prompt_patterns()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        let path = |p: &Option<toml::Spanned<String>>| p.as_ref().map(|p| p.get_ref().clone());
        let differs = [
            ("prompts", patterns(&mapped) != patterns(head)),
            ("entry", path(&mapped.entry) != path(&head.entry)),
            ("cases", path(&mapped.cases) != path(&head.cases)),
        ];
        // Another provider the base defines is measured like a model change, and since it
        // changes where the answers come from (another server, a command, a cassette), the
        // base's owners decide it: exec.
        let provider = |s: &Surface| s.provider.as_ref().map(|p| p.get_ref().clone());
        if let (Some(from), Some(to)) = (provider(base), provider(head)) {
            if from != to {
                self.overridden.push(format!(
                    "surface `{name}`: the change moves it from provider `{from}` to `{to}`; where answers come from is the base's to decide"
                ));
            }
        }
        let mut changed = false;
        for (key, differs) in differs {
            if differs {
                changed = true;
                self.overridden.push(format!(
                    "surface `{name}`: the change maps `{key}` otherwise; which files stand for a surface is the base's to decide, so this run measures the base's mapping"
                ));
            }
        }
        if changed && self.head_trust == HeadTrust::Trusted {
            return head.clone();
        }
        mapped
    }

    /// The head's request parameters that are not sampling parameters (or `n` other than
    /// 1), which the gate does not send; empty when the head is trusted.
    pub fn unsent_parameters(
        &self,
        parameters: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        if self.head_trust == HeadTrust::Trusted {
            return Vec::new();
        }
        parameters
            .iter()
            .filter(|(key, value)| match key.as_str() {
                "n" => value.as_u64() != Some(1),
                "tools" => server_side_tools(value),
                key => !SAMPLING_PARAMETERS.contains(&key),
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The `exec` assertions of `head` cases whose command the base's suite does not run:
    /// commands are the base's, so these wait for `--trust-head`. One message each.
    pub fn waiting_commands(&self, surface: &str, base: &[Case], head: &[Case]) -> Vec<String> {
        if self.head_trust == HeadTrust::Trusted {
            return Vec::new();
        }
        let known: BTreeSet<String> = base
            .iter()
            .flat_map(|c| c.assertions.iter())
            .filter(|a| a.kind == Kind::Exec)
            .filter_map(|a| a.value.as_ref().map(|v| v.to_string()))
            .collect();
        let mut waiting = BTreeMap::<String, Vec<&str>>::new();
        for case in head {
            for assertion in case.assertions.iter().filter(|a| a.kind == Kind::Exec) {
                let argv = assertion
                    .value
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                if !known.contains(&argv) {
                    waiting.entry(argv).or_default().push(&case.id);
                }
            }
        }
        waiting
            .into_iter()
            .map(|(argv, cases)| {
                format!(
                    "surface `{surface}`: the change adds the command {argv} (an `exec` assertion of case(s) {}); commands are the base's and it did not run: add it on the base branch first, or have a maintainer run `promptgate check --trust-head`",
                    cases.iter().take(5).map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                )
            })
            .collect()
    }
}

/// Whether a `tools` list names a tool the provider runs itself (a remote MCP server, web
/// fetch or search, code execution, computer use): answers then come from a place the head
/// chose, which can change after the merge.
fn server_side_tools(tools: &serde_json::Value) -> bool {
    const SERVER_SIDE: [&str; 6] = [
        "mcp",
        "web_fetch",
        "web_search",
        "code_execution",
        "computer",
        "file_search",
    ];
    let Some(tools) = tools.as_array() else {
        return true;
    };
    tools.iter().any(|tool| {
        let kind = tool
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        tool.get("server_url").is_some()
            || tool.get("url").is_some()
            || SERVER_SIDE.iter().any(|s| kind.contains(s))
    })
}

/// The keys whose values differ between two tables, leaving out `measured` ones.
fn differing_keys(base: &toml::Table, head: &toml::Table, measured: &[&str]) -> Vec<String> {
    let keys: BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    keys.into_iter()
        .filter(|k| !measured.contains(&k.as_str()))
        .filter(|k| base.get(*k) != head.get(*k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::tests::config;

    const BASE: &str = "[provider.main]\nkind = \"openai\"\nbase_url = \"https://api.example/v1\"\nmodel = \"m1\"\napi_key_env = \"KEY\"\n\n\
        [provider.alt]\nkind = \"openai\"\nbase_url = \"https://alt.example/v1\"\nmodel = \"a1\"\n\n\
        [[surface]]\nname = \"s\"\nprompts = [\"p/*.md\"]\nentry = \"p/answer.md\"\ncases = \"e/s.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\n";

    fn provider<'c>(config: &'c Config, name: &str) -> &'c crate::config::Provider {
        config
            .provider
            .get(name)
            .map(|p| p.get_ref())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn providers_are_the_bases_with_each_sides_model() {
        // (what the head writes, the head's base_url used, refused?, overridden?)
        let cases = [
            (
                "model = \"m1\"",
                "model = \"m2\"",
                "https://api.example/v1",
                false,
                false,
            ),
            (
                "base_url = \"https://api.example/v1\"",
                "base_url = \"http://evil.example/v1\"",
                "https://api.example/v1",
                false,
                true,
            ),
            (
                "api_key_env = \"KEY\"",
                "api_key_env = \"OTHER\"",
                "https://api.example/v1",
                false,
                true,
            ),
        ];
        for (from, to, url, refused, overridden) in cases {
            let head = config(&BASE.replacen(from, to, 1));
            let trust = Trust::new(
                &config(BASE),
                Some(&config(BASE)),
                Some(&head),
                HeadTrust::Untrusted,
            );
            let main = provider(trust.providers(Side::Head), "main");
            assert_eq!(main.base_url.as_deref(), Some(url), "{to}");
            assert_eq!(main.api_key_env.as_deref(), Some("KEY"), "{to}");
            assert_eq!(main.model, head.provider["main"].get_ref().model, "{to}");
            assert_eq!(trust.refused(Side::Head, "main").is_some(), refused, "{to}");
            assert_eq!(
                !trust.overridden.is_empty(),
                overridden,
                "{to}: {:?}",
                trust.overridden
            );
            assert_eq!(
                provider(trust.providers(Side::Base), "main")
                    .model
                    .as_deref(),
                Some("m1")
            );
        }
    }

    #[test]
    fn what_the_base_changed_after_the_branch_started_is_not_the_changes() {
        let moved = BASE.replacen("https://api.example/v1", "https://gateway.example/v1", 1);
        // The base tip moved the endpoint; the head still has its merge base's.
        let trust = Trust::new(
            &config(&moved),
            Some(&config(BASE)),
            Some(&config(BASE)),
            HeadTrust::Untrusted,
        );
        assert!(trust.overridden.is_empty(), "{:?}", trust.overridden);
        let main = provider(trust.providers(Side::Head), "main");
        assert_eq!(main.base_url.as_deref(), Some("https://gateway.example/v1"));
    }

    #[test]
    fn a_provider_the_head_adds_is_refused_unless_trusted() {
        let head = config(&format!("{BASE}\n[provider.evil]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"x\"\n"));
        let trust = Trust::new(&config(BASE), None, Some(&head), HeadTrust::Untrusted);
        assert!(trust
            .refused(Side::Head, "evil")
            .is_some_and(|r| r.contains("--trust-head")));
        assert!(!trust.providers(Side::Head).provider.contains_key("evil"));
        let trusted = Trust::new(&config(BASE), None, Some(&head), HeadTrust::Trusted);
        assert!(trusted.refused(Side::Head, "evil").is_none());
        assert!(trusted.providers(Side::Head).provider.contains_key("evil"));
    }

    #[test]
    fn the_file_mapping_is_the_bases_following_renames() {
        let base = config(BASE);
        let surface = |c: &Config| c.surface[0].get_ref().clone();
        let renames = BTreeMap::from([("e/s.jsonl".to_string(), "e/support.jsonl".to_string())]);
        // Every head renames the case file along with the change set.
        let renamed = BASE.replacen("cases = \"e/s.jsonl\"", "cases = \"e/support.jsonl\"", 1);
        for (from, to, overridden) in [
            ("entry = \"p/answer.md\"", "entry = \"p/decoy.md\"", true),
            (
                "prompts = [\"p/*.md\"]",
                "prompts = [\"p/decoy*.md\"]",
                true,
            ),
            (
                "cases = \"e/support.jsonl\"",
                "cases = \"e/other.jsonl\"",
                true,
            ),
            ("min_pass_rate = 0.9", "min_pass_rate = 0.95", false),
        ] {
            let head = config(&renamed.replacen(from, to, 1));
            let mut trust = Trust::new(&base, Some(&base), Some(&head), HeadTrust::Untrusted);
            let mapped = trust.head_surface(Some(&surface(&base)), &surface(&head), &renames);
            assert_eq!(
                mapped.entry.as_ref().map(|e| e.get_ref().as_str()),
                Some("p/answer.md"),
                "{to}"
            );
            assert_eq!(mapped.prompt_patterns(), vec!["p/*.md"], "{to}");
            assert_eq!(
                mapped.cases.as_ref().map(|c| c.get_ref().as_str()),
                Some("e/support.jsonl")
            );
            assert_eq!(
                !trust.overridden.is_empty(),
                overridden,
                "{to}: {:?}",
                trust.overridden
            );
        }
    }

    #[test]
    fn exec_assertions_the_head_adds_wait_for_trust() {
        let parse = |text: &str| {
            crate::eval::cases::parse("c.jsonl", text.as_bytes())
                .unwrap_or_else(|e| panic!("{e:?}"))
        };
        let base =
            parse("{\"id\": \"a\", \"assert\": [{\"type\": \"exec\", \"value\": [\"grader\"]}]}\n");
        let head = parse("{\"id\": \"a\", \"assert\": [{\"type\": \"exec\", \"value\": [\"grader\"]}]}\n{\"id\": \"b\", \"assert\": [{\"type\": \"exec\", \"value\": [\"sh\", \"-c\", \"env > leak.txt\"]}]}\n");
        let untrusted = Trust::new(&config(BASE), None, None, HeadTrust::Untrusted);
        let waiting = untrusted.waiting_commands("s", &base, &head);
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        assert!(waiting[0].contains("env > leak.txt") && waiting[0].contains("`b`"));
        assert!(untrusted.waiting_commands("s", &base, &base).is_empty());
        let trusted = Trust::new(&config(BASE), None, None, HeadTrust::Trusted);
        assert!(trusted.waiting_commands("s", &base, &head).is_empty());
    }
}
