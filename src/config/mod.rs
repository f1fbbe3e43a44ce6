//! `promptgate.toml`: its schema, strict parsing (unknown keys are errors, every error
//! points at file, line and column), the semantic checks that keep thresholds explicit, and
//! the lenient surface map that `diff` needs (names and prompt globs only), read from the
//! working tree or from any revision; where the config's text comes from is [`source`].

pub mod bounds;
mod globs;
mod model;
pub mod paths;
pub mod schema;
pub mod source;
mod surface_map;

pub use globs::PromptGlobs;
pub use model::*;
pub use surface_map::{SurfaceMap, SurfaceSpec};

use crate::diagnostic::Diagnostic;

/// The config file name looked for at the repository root.
pub const DEFAULT_PATH: &str = "promptgate.toml";

/// A parsed and checked config, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and checks a config's text; `file` names it in diagnostics.
///
/// Errors come back all at once (every problem, not only the first), warnings ride along
/// with a valid config.
pub fn load(file: &str, bytes: &[u8]) -> Result<Loaded, Vec<Diagnostic>> {
    let text = decode(file, bytes).map_err(|d| vec![d])?;
    let mut config: Config = toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    config.raw = toml::from_str::<toml::Table>(text).unwrap_or_default();
    let diagnostics = model::check(&config, file, text);
    let (errors, warnings): (Vec<_>, Vec<_>) =
        diagnostics.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(Loaded { config, warnings })
    } else {
        Err(errors.into_iter().chain(warnings).collect())
    }
}

/// The config text as UTF-8, or a diagnostic saying where it is not.
pub(crate) fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let text = String::from_utf8_lossy(&bytes[..offset]);
        let line = crate::diagnostic::line_of(&text, offset);
        Diagnostic::error(file, "the config is not valid UTF-8")
            .at_line(line)
            .with_help("save the file as UTF-8")
    })
}

/// Turns a TOML syntax or schema error into a diagnostic at its span.
pub(crate) fn toml_error(file: &str, text: &str, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim().replace('\n', " ");
    let help = toml_help(&message);
    let mut diagnostic = Diagnostic::error(file, message);
    if let Some(span) = error.span() {
        diagnostic = diagnostic.at_span(text, span);
    }
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

fn toml_help(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove or rename the key; the valid keys are listed above (see the configuration section of the README)".into())
    } else if message.starts_with("unknown variant") {
        Some("use one of the values listed above".into())
    } else if message.contains("` must be between ") {
        Some(
            "the bounds of every numeric key are listed in the configuration section of the README"
                .into(),
        )
    } else if message.starts_with("missing field") {
        Some("add the key; promptgate never assumes a value for it".into())
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    /// A config that must load, for other modules' tests.
    pub fn config(text: &str) -> super::Config {
        super::load("promptgate.toml", text.as_bytes())
            .map(|l| l.config)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }
}
