//! The lenient view of a config that `diff` needs: each surface's name, prompt globs and
//! eval case file, and its raw entry (plus its provider's) to tell whether a change touched its settings. Other
//! keys are not interpreted, so a config from an older revision with another schema still
//! maps files to surfaces.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::PromptGlobs;
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone)]
pub struct SurfaceSpec {
    pub name: String,
    pub globs: PromptGlobs,
    /// The eval case file: its cases are part of the surface.
    pub cases: Option<String>,
    /// The surface's `[[surface]]` table as written.
    entry: toml::Value,
    /// The `[provider.<name>]` table it uses, if any.
    provider_entry: Option<toml::Value>,
}

#[derive(Debug, Clone)]
pub struct SurfaceMap {
    /// Where this config was read from, e.g. `promptgate.toml@1a2b3c4`.
    pub origin: String,
    pub surfaces: Vec<SurfaceSpec>,
}

#[derive(Deserialize)]
struct Lenient {
    #[serde(default)]
    surface: Vec<LenientSurface>,
}

#[derive(Deserialize)]
struct LenientSurface {
    name: Spanned<String>,
    prompts: Vec<Spanned<String>>,
    #[serde(default)]
    cases: Option<String>,
}

impl SurfaceMap {
    /// Reads names and globs; `origin` names the file (and revision) in diagnostics.
    pub fn parse(origin: &str, bytes: &[u8]) -> Result<Self, Vec<Diagnostic>> {
        let text = super::decode(origin, bytes).map_err(|d| vec![d])?;
        let lenient: Lenient =
            toml::from_str(text).map_err(|e| vec![super::toml_error(origin, text, &e)])?;
        let table: toml::Table =
            toml::from_str(text).map_err(|e| vec![super::toml_error(origin, text, &e)])?;
        let entries = table.get("surface").and_then(toml::Value::as_array);
        let providers = table.get("provider").and_then(toml::Value::as_table);
        let mut errors = Vec::new();
        let mut surfaces = Vec::new();
        for (index, surface) in lenient.surface.into_iter().enumerate() {
            let patterns: Vec<&str> = surface
                .prompts
                .iter()
                .map(|p| p.get_ref().as_str())
                .collect();
            let globs = match PromptGlobs::new(patterns) {
                Ok(globs) => globs,
                Err(message) => {
                    let span = surface.prompts.first().map_or(0..0, Spanned::span);
                    errors.push(Diagnostic::error(origin, message).at_span(text, span));
                    continue;
                }
            };
            let entry = entries
                .and_then(|e| e.get(index))
                .cloned()
                .unwrap_or(toml::Value::Boolean(false));
            let provider_entry = entry
                .get("provider")
                .and_then(toml::Value::as_str)
                .and_then(|p| providers.and_then(|all| all.get(p)))
                .cloned();
            surfaces.push(SurfaceSpec {
                name: surface.name.into_inner(),
                globs,
                cases: surface.cases,
                entry,
                provider_entry,
            });
        }
        if errors.is_empty() {
            Ok(SurfaceMap {
                origin: origin.to_string(),
                surfaces,
            })
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, name: &str) -> Option<&SurfaceSpec> {
        self.surfaces.iter().find(|s| s.name == name)
    }

    /// Names of the surfaces whose globs match `path`.
    pub fn surfaces_matching<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.surfaces
            .iter()
            .filter(move |s| s.globs.is_match(path))
            .map(|s| s.name.as_str())
    }

    /// Names of the surfaces whose eval case file is `path`.
    pub fn surfaces_with_cases<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.surfaces
            .iter()
            .filter(move |s| s.cases.as_deref() == Some(path))
            .map(|s| s.name.as_str())
    }

    /// Surfaces whose settings differ between `self` (old) and `new`: entry or provider
    /// changed, added, or removed. Sorted by name.
    pub fn changed_settings(&self, new: &SurfaceMap) -> Vec<String> {
        let old_by_name: BTreeMap<&str, &SurfaceSpec> =
            self.surfaces.iter().map(|s| (s.name.as_str(), s)).collect();
        let new_by_name: BTreeMap<&str, &SurfaceSpec> =
            new.surfaces.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut changed: Vec<String> = Vec::new();
        for (name, old) in &old_by_name {
            let same = new_by_name
                .get(name)
                .is_some_and(|n| n.entry == old.entry && n.provider_entry == old.provider_entry);
            if !same {
                changed.push(name.to_string());
            }
        }
        for name in new_by_name.keys() {
            if !old_by_name.contains_key(name) {
                changed.push(name.to_string());
            }
        }
        changed.sort();
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> SurfaceMap {
        SurfaceMap::parse("promptgate.toml", text.as_bytes()).unwrap()
    }

    #[test]
    fn ignores_keys_it_does_not_need() {
        let m = map(
            "future_key = 1\n[[surface]]\nname = \"a\"\nprompts = [\"p/*.md\"]\nwhatever = 2\n",
        );
        assert_eq!(m.surfaces_matching("p/x.md").collect::<Vec<_>>(), vec!["a"]);
    }

    #[test]
    fn detects_settings_and_provider_changes() {
        let old = map("[provider.m]\nkind = \"openai\"\nmodel = \"a\"\n[[surface]]\nname = \"s\"\nprompts = [\"p/*\"]\nprovider = \"m\"\n[[surface]]\nname = \"t\"\nprompts = [\"q/*\"]\n");
        let new = map("[provider.m]\nkind = \"openai\"\nmodel = \"b\"\n[[surface]]\nname = \"s\"\nprompts = [\"p/*\"]\nprovider = \"m\"\n[[surface]]\nname = \"u\"\nprompts = [\"q/*\"]\n");
        assert_eq!(old.changed_settings(&new), vec!["s", "t", "u"]);
        assert!(old.changed_settings(&old).is_empty());
    }
}
