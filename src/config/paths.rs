//! Paths the config names (`prompts` globs, `entry`, `cases`, `cassette`) stay inside the
//! repository: written from its root with `/`, never absolute, never climbing out with `..`,
//! never holding a NUL byte (which no file name can contain).

/// Why `path` cannot name a file of the repository, or `None` when it can.
pub fn outside_repository(path: &str) -> Option<&'static str> {
    if path.trim().is_empty() {
        Some("is empty")
    } else if path.contains('\0') {
        Some("contains a NUL byte, which no file name can hold")
    } else if path.starts_with('/') || path.starts_with('\\') || has_drive(path) {
        Some("is absolute, but it must be a path from the repository root")
    } else if path.split(['/', '\\']).any(|component| component == "..") {
        Some("climbs out with `..`, but it must stay inside the repository")
    } else {
        None
    }
}

/// `C:…`: a Windows drive prefix.
fn has_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// The config error for key `key` of `what` holding `path`, or `None` when it is fine.
pub(super) fn problem(key: &str, path: &str) -> Option<String> {
    outside_repository(path).map(|why| {
        format!(
            "`{key}` `{}` {why}",
            path.escape_debug().to_string().replace('`', "'")
        )
    })
}

/// What to write instead.
pub(super) const HELP: &str = "write a path from the repository root with `/`, e.g. `evals/support.jsonl`; promptgate reads only files of the repository";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_pass_and_escapes_do_not() {
        for ok in [
            "evals/a.jsonl",
            "./prompts/*.md",
            "prompts/**/x..y.md",
            "a/.../b",
        ] {
            assert_eq!(outside_repository(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("/etc/passwd", "absolute"),
            ("/etc/*", "absolute"),
            ("\\\\server\\share", "absolute"),
            ("C:/x", "absolute"),
            ("../x", "`..`"),
            ("prompts/../../x", "`..`"),
            ("prompts\\..\\x", "`..`"),
            ("evals/a\0.jsonl", "NUL"),
            ("", "empty"),
            ("  ", "empty"),
        ] {
            let problem = outside_repository(bad).unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
    }

    #[test]
    fn problems_quote_the_path_visibly() {
        let message = problem("cases", "a\0b").unwrap();
        assert!(
            message.starts_with("`cases` `a\\0b` contains a NUL byte"),
            "{message}"
        );
    }
}
