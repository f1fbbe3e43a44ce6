//! The change's risk tier: the highest tier of its surfaces, raised to `exec` when it touches
//! `cross_cutting_surfaces` or more surfaces, when the base has no config (the head's is used),
//! when the head's config loosens the gate (a lower threshold, a lower tier, a removed
//! surface or rule, a larger `significance`, fewer repeats), when it changes governance (any
//! key of `[tier.*]`, `[policy]`, `[drill]`, `[hooks]`: approvers added or removed…), or when
//! the change removes or weakens eval cases (reasons handed in by the caller).

use crate::config::{Config, Surface, Tier};
use crate::eval::case_diff::CaseChange;

/// Every governance key the head changes, one sentence each: who may approve, how many,
/// which artifacts, the policy, the drill rhythm and the hooks. Any change here is decided
/// by the base's owners, so it raises the change to `exec`, whichever way it points.
pub fn governance_changes(base: &toml::Table, head: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    diff_tables(&mut Vec::new(), base, head, &mut found);
    found
}

fn section(path: &[&str]) -> String {
    format!("[{}]", path.join("."))
}

fn diff_tables<'a>(
    path: &mut Vec<&'a str>,
    base: &'a toml::Table,
    head: &'a toml::Table,
    found: &mut Vec<String>,
) {
    let keys: std::collections::BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    for key in keys {
        match (base.get(key), head.get(key)) {
            (Some(toml::Value::Table(b)), Some(toml::Value::Table(h))) => {
                path.push(key);
                diff_tables(path, b, h, found);
                path.pop();
            }
            (Some(b), Some(h)) if b == h => {}
            (Some(toml::Value::Array(b)), Some(toml::Value::Array(h))) => {
                let noun = if key == "approvers" {
                    "approver".to_string()
                } else {
                    format!("`{key}` entry")
                };
                for item in b.iter().filter(|i| !h.contains(i)) {
                    found.push(format!(
                        "{} {noun} {} is removed",
                        section(path),
                        shown(item)
                    ));
                }
                for item in h.iter().filter(|i| !b.contains(i)) {
                    found.push(format!("{} {noun} {} is added", section(path), shown(item)));
                }
                // The same entries in another order change nothing.
            }
            (Some(toml::Value::Boolean(false)) | None, Some(toml::Value::Boolean(true)))
                if !path.is_empty() =>
            {
                found.push(format!("{} `{key}` is turned on", section(path)));
            }
            (Some(b), Some(h)) => found.push(format!(
                "{} `{key}` changes from {} to {}",
                section(path),
                shown(b),
                shown(h)
            )),
            (Some(toml::Value::Table(_)), None) => {
                found.push(format!("{} is removed", section_with(path, key)));
            }
            (None, Some(toml::Value::Table(_))) => {
                found.push(format!("{} is added", section_with(path, key)));
            }
            (Some(b), None) => found.push(format!(
                "{} `{key}` ({}) is removed",
                section(path),
                shown(b)
            )),
            (None, Some(h)) => {
                found.push(format!("{} `{key}` is set to {}", section(path), shown(h)))
            }
            (None, None) => {}
        }
    }
}

fn section_with(path: &[&str], key: &str) -> String {
    let mut full = path.to_vec();
    full.push(key);
    section(&full)
}

fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

/// The tier and every reason it was raised.
#[derive(Debug, Clone, PartialEq)]
pub struct TierDecision {
    pub tier: Tier,
    pub raised_because: Vec<String>,
}

impl TierDecision {
    /// Raises the tier to `exec` for each reason given (none: unchanged).
    pub fn raise(&mut self, reasons: impl IntoIterator<Item = String>) {
        let before = self.raised_because.len();
        self.raised_because.extend(reasons);
        if self.raised_because.len() > before {
            self.tier = Tier::Exec;
        }
    }
}

/// How many loosened cases a surface names before counting the rest.
const LOOSENINGS_NAMED: usize = 5;

/// The ways a surface's suite edit loosens it, one reason each, the tail counted.
pub fn case_loosenings(surface: &str, changes: &[CaseChange]) -> Vec<String> {
    let all: Vec<(&str, &String)> = changes
        .iter()
        .flat_map(|c| c.loosenings.iter().map(|l| (c.id.as_str(), l)))
        .collect();
    let mut reasons: Vec<String> = all
        .iter()
        .take(LOOSENINGS_NAMED)
        .map(|(id, l)| format!("surface `{surface}`: case `{id}`: {l}"))
        .collect();
    if all.len() > LOOSENINGS_NAMED {
        reasons.push(format!(
            "surface `{surface}`: {} more loosened case edit(s) (see `suite_changes` in report.json)",
            all.len() - LOOSENINGS_NAMED
        ));
    }
    reasons
}

/// Decides the tier from the affected surfaces' own tiers and the two configs.
pub fn decide(
    surface_tiers: &[Tier],
    affected: usize,
    base: Option<&Config>,
    head: Option<&Config>,
) -> TierDecision {
    let tier = surface_tiers
        .iter()
        .copied()
        .max()
        .unwrap_or(Tier::SelfApproved);
    let mut raised_because = Vec::new();
    let policy = base.or(head);
    if let Some(limit) = policy.and_then(|c| c.policy.cross_cutting_surfaces.as_ref()) {
        let limit = *limit.get_ref() as usize;
        if affected >= limit {
            raised_because.push(format!(
                "the change touches {affected} surfaces (cross-cutting from {limit})"
            ));
        }
    }
    match (base, head) {
        (None, _) => raised_because
            .push("the base revision has no promptgate config, so the head's is used".into()),
        (Some(base), Some(head)) => raised_because.extend(loosenings(base, head)),
        (Some(_), None) => raised_because.push("the head removes the promptgate config".into()),
    }
    let mut decision = TierDecision {
        tier,
        raised_because: Vec::new(),
    };
    decision.raise(raised_because);
    decision
}

/// Every way `head` loosens the gate that `base` defines.
pub fn loosenings(base: &Config, head: &Config) -> Vec<String> {
    let mut found = Vec::new();
    let (bg, hg) = (&base.gate, &head.gate);
    if hg.significance.get_ref() > bg.significance.get_ref() {
        found.push(format!(
            "`significance` rises from {} to {}",
            bg.significance.get_ref(),
            hg.significance.get_ref()
        ));
    }
    if hg.repeat.get_ref() < bg.repeat.get_ref() {
        found.push(format!(
            "`repeat` drops from {} to {}",
            bg.repeat.get_ref(),
            hg.repeat.get_ref()
        ));
    }
    if hg.max_repeat.get_ref() < bg.max_repeat.get_ref() {
        found.push(format!(
            "`max_repeat` drops from {} to {}",
            bg.max_repeat.get_ref(),
            hg.max_repeat.get_ref()
        ));
    }
    if let (Some(b), h) = (&bg.max_cost_usd, &hg.max_cost_usd) {
        if h.as_ref().is_none_or(|h| h.get_ref() > b.get_ref()) {
            found.push("`max_cost_usd` is raised or removed".into());
        }
    }
    for b in base.surface.iter().map(|s| s.get_ref()) {
        let name = b.name.get_ref();
        match head.surface_named(name) {
            None => found.push(format!("surface `{name}` is removed")),
            Some(h) => found.extend(
                surface_loosenings(b, h)
                    .into_iter()
                    .map(|l| format!("surface `{name}`: {l}")),
            ),
        }
    }
    found.extend(governance_changes(&base.governance(), &head.governance()));
    found
}

fn surface_loosenings(base: &Surface, head: &Surface) -> Vec<String> {
    let mut found = Vec::new();
    if head.tier < base.tier {
        found.push(format!(
            "tier lowers from {} to {}",
            base.tier.as_str(),
            head.tier.as_str()
        ));
    }
    if base.gate && !head.gate {
        found.push("eval gating is switched off (`gate = false`)".into());
    }
    let value = |v: &Option<toml::Spanned<f64>>| v.as_ref().map(|v| *v.get_ref());
    // (key, base, head, whether a higher value is looser)
    let limits = [
        (
            "min_pass_rate",
            value(&base.min_pass_rate),
            value(&head.min_pass_rate),
            false,
        ),
        (
            "tail_min_pass_rate",
            value(&base.tail_min_pass_rate),
            value(&head.tail_min_pass_rate),
            false,
        ),
        (
            "max_drop",
            value(&base.max_drop),
            value(&head.max_drop),
            true,
        ),
    ];
    for (key, b, h, higher_is_looser) in limits {
        if let Some(message) = looser(key, b, h, higher_is_looser) {
            found.push(message);
        }
    }
    let repeat = |s: &Surface| s.repeat.as_ref().map(|r| *r.get_ref());
    if let (Some(b), h) = (repeat(base), repeat(head)) {
        if h.is_none_or(|h| h < b) {
            found.push(format!("`repeat` drops below {b}"));
        }
    }
    for b in base.metrics.iter().map(|m| m.get_ref()) {
        let h = head
            .metrics
            .iter()
            .map(|m| m.get_ref())
            .find(|h| h.name == b.name);
        let metric = |key: &str| format!("metric `{}` {key}", b.name);
        for (key, bv, hv, higher_is_looser) in [
            ("min", b.min, h.and_then(|h| h.min), false),
            ("max", b.max, h.and_then(|h| h.max), true),
            ("max_drop", b.max_drop, h.and_then(|h| h.max_drop), true),
        ] {
            if let Some(message) = looser(&metric(key), bv, hv, higher_is_looser) {
                found.push(message);
            }
        }
    }
    found
}

/// Describes how a threshold loosened, if it did: removed, or moved the loose way.
fn looser(
    key: &str,
    base: Option<f64>,
    head: Option<f64>,
    higher_is_looser: bool,
) -> Option<String> {
    let base = base?;
    match head {
        None => Some(format!("`{key}` ({base}) is removed")),
        Some(head) if (higher_is_looser && head > base) || (!higher_is_looser && head < base) => {
            Some(format!("`{key}` moves from {base} to {head}"))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::tests::config;

    const BASE: &str = "[gate]\nrepeat = 3\nsignificance = 0.05\n[provider.p]\nkind = \"openai\"\nmodel = \"m\"\n\
        [[surface]]\nname = \"a\"\nprompts = [\"a/*\"]\ncases = \"a.jsonl\"\nprovider = \"p\"\ntier = \"council\"\nmin_pass_rate = 0.9\nmax_drop = 0.02\n\
        metrics = [{ name = \"acc\", min = 0.8 }]\n\
        [tier.council]\napprovers = [\"alice\", \"org/team\"]\nmin_approvals = 1\nartifacts = [\"impact\", \"rollback\"]\n[policy]\ncross_cutting_surfaces = 3\n";

    #[test]
    fn identical_configs_do_not_loosen() {
        assert!(loosenings(&config(BASE), &config(BASE)).is_empty());
        let stricter = BASE
            .replace("min_pass_rate = 0.9", "min_pass_rate = 0.95")
            .replace("max_drop = 0.02", "max_drop = 0.01");
        assert!(loosenings(&config(BASE), &config(&stricter)).is_empty());
    }

    #[test]
    fn every_loosening_is_named() {
        let looser = BASE
            .replace("min_pass_rate = 0.9", "min_pass_rate = 0.8")
            .replace("max_drop = 0.02", "max_drop = 0.1")
            .replace("repeat = 3", "repeat = 1")
            .replace("significance = 0.05", "significance = 0.2")
            .replace("tier = \"council\"", "tier = \"self\"")
            .replace("\"alice\", ", "")
            .replace("min = 0.8", "min = 0.5")
            .replace(
                "cross_cutting_surfaces = 3",
                "cross_cutting_surfaces = 5\nallow_stale_approvals = true",
            );
        let found = loosenings(&config(BASE), &config(&looser)).join("\n");
        for expected in [
            "`min_pass_rate` moves from 0.9 to 0.8",
            "`max_drop` moves from 0.02 to 0.1",
            "`repeat` drops from 3 to 1",
            "`significance` rises",
            "tier lowers from council to self",
            "approver `alice` is removed",
            "metric `acc` min",
            "cross_cutting_surfaces",
            "`allow_stale_approvals` is turned on",
        ] {
            assert!(found.contains(expected), "missing {expected:?} in\n{found}");
        }
    }

    #[test]
    fn every_governance_change_is_named_whichever_way_it_points() {
        let changed = BASE
            .replace("\"alice\", ", "\"alice\", \"mallory\", ")
            .replace("min_approvals = 1", "min_approvals = 2")
            .replace(
                "cross_cutting_surfaces = 3\n",
                "cross_cutting_surfaces = 2\n[drill]\nevery_days = 30\n",
            );
        let found = loosenings(&config(BASE), &config(&changed)).join("\n");
        for expected in [
            "[tier.council] approver `mallory` is added",
            "[tier.council] `min_approvals` changes from 1 to 2",
            "[policy] `cross_cutting_surfaces` changes from 3 to 2",
            "[drill] is added",
        ] {
            assert!(found.contains(expected), "missing {expected:?} in\n{found}");
        }
        let decision = decide(
            &[Tier::SelfApproved],
            1,
            Some(&config(BASE)),
            Some(&config(&changed)),
        );
        assert_eq!(decision.tier, Tier::Exec);
        let reordered = BASE.replace("\"alice\", \"org/team\"", "\"org/team\", \"alice\"");
        assert!(loosenings(&config(BASE), &config(&reordered)).is_empty());
    }

    #[test]
    fn removed_surface_and_missing_base_config_raise_to_exec() {
        let without = BASE.replace("[[surface]]\nname = \"a\"", "[[surface]]\nname = \"b\"");
        let decision = decide(
            &[Tier::SelfApproved],
            1,
            Some(&config(BASE)),
            Some(&config(&without)),
        );
        assert_eq!(decision.tier, Tier::Exec);
        assert!(decision
            .raised_because
            .iter()
            .any(|r| r.contains("surface `a` is removed")));
        let decision = decide(&[Tier::Council], 1, None, Some(&config(BASE)));
        assert_eq!(decision.tier, Tier::Exec);
    }

    #[test]
    fn highest_surface_tier_and_cross_cutting() {
        let base = config(BASE);
        assert_eq!(
            decide(
                &[Tier::SelfApproved, Tier::Council],
                2,
                Some(&base),
                Some(&base)
            )
            .tier,
            Tier::Council
        );
        assert_eq!(
            decide(&[Tier::SelfApproved], 3, Some(&base), Some(&base)).tier,
            Tier::Exec
        );
        assert_eq!(
            decide(&[], 0, Some(&base), Some(&base)).tier,
            Tier::SelfApproved
        );
    }
}
