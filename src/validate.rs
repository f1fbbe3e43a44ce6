//! Checks everything a gate run would read, without calling a model: the config, every
//! surface's prompt files and the templates they include, its case files, the variables
//! each template uses against every case, and a strict render of every case.

use serde::Serialize;

use crate::config::{self, Surface};
use crate::diagnostic::Diagnostic;
use crate::eval::suite;
use crate::git::{GitError, Snapshot};

/// What validation found.
#[derive(Debug, Default, Serialize)]
pub struct Validation {
    /// Whether the config itself loaded; when not, nothing else was checked.
    pub config_loaded: bool,
    pub surfaces: usize,
    pub prompt_files: usize,
    pub cases: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl Validation {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Validates the config `config_file` (its bytes given) and what it points to in `snapshot`.
pub fn validate(
    snapshot: &dyn Snapshot,
    config_file: &str,
    config_bytes: &[u8],
) -> Result<Validation, GitError> {
    let mut out = Validation::default();
    let loaded = match config::load(config_file, config_bytes) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            out.diagnostics = diagnostics;
            return Ok(out);
        }
    };
    out.config_loaded = true;
    out.diagnostics.extend(loaded.warnings);
    for surface in &loaded.config.surface {
        out.surfaces += 1;
        validate_surface(snapshot, config_file, surface.get_ref(), &mut out)?;
    }
    Ok(out)
}

fn validate_surface(
    snapshot: &dyn Snapshot,
    config_file: &str,
    surface: &Surface,
    out: &mut Validation,
) -> Result<(), GitError> {
    let loaded = suite::load(snapshot, config_file, surface)?;
    out.prompt_files += loaded.prompt_files;
    out.cases += loaded.cases;
    out.diagnostics.extend(loaded.diagnostics);
    Ok(())
}
