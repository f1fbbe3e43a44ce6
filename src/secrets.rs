//! The secrets promptgate knows of, and the two things done with them: every report is
//! redacted for each secret value (a grader's stderr or a server's reply can carry one),
//! and the commands promptgate runs get a scrubbed environment that holds none of them.
//! A secret is the value of a variable a config names as an API key, of the GitHub and
//! Actions tokens, or of any variable whose name says it is one (`…_KEY`, `…TOKEN…`,
//! `…SECRET…`, `…PASSWORD…`).

use std::ffi::OsString;

/// The checkout whose directories never serve a command's program (set by the gate).
static CHECKOUT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Names the repository's working tree: commands never find their program in it.
pub fn guard_checkout(root: &std::path::Path) {
    let _ = CHECKOUT.set(root.to_path_buf());
}

/// Values shorter than this are not redacted: they would turn ordinary words into noise.
const SHORTEST: usize = 6;

/// Variables a command may see: where programs are, who and where it runs, the locale.
const COMMAND_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "TERM",
    "SYSTEMROOT",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
];

/// Whether a variable's name says it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_KEY")
        || upper.ends_with("_KEYS")
        || [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "API_KEY",
            "CREDENTIAL",
        ]
        .iter()
        .any(|word| upper.contains(word))
}

/// Replaces every occurrence of each secret with `[redacted]`, so keys never reach output.
pub fn redact_each(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |acc, secret| {
            acc.replace(secret, "[redacted]")
        })
}

/// Secret values to redact.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
    /// Each secret as a server might echo it: broken over lines (raw or JSON-escaped).
    spread: Vec<regex::Regex>,
}

impl Secrets {
    /// The values of `named` variables (e.g. every `api_key_env` of the configs) and of
    /// every variable whose name says it is a secret.
    pub fn from_env(named: impl IntoIterator<Item = String>) -> Secrets {
        let named: Vec<String> = named.into_iter().collect();
        let mut values: Vec<String> = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| named.contains(name) || is_secret_name(name))
            .map(|(_, value)| value.trim().to_string())
            .filter(|value| value.chars().count() >= SHORTEST)
            .collect();
        // Each also as a server might echo it: base64 and hex encoded.
        let encoded: Vec<String> = values
            .iter()
            .flat_map(|v| {
                let b64 = base64(v.as_bytes());
                let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
                [
                    b64.trim_end_matches('=').to_string(),
                    b64,
                    hex.to_uppercase(),
                    hex,
                ]
            })
            .collect();
        let spread = values
            .iter()
            .filter_map(|v| {
                let pattern: Vec<String> =
                    v.chars().map(|c| regex::escape(&c.to_string())).collect();
                regex::Regex::new(&pattern.join(r"(?:\s|\\[nrt])*")).ok()
            })
            .collect();
        values.extend(encoded);
        // Longest first, so a secret that contains another is redacted whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values, spread }
    }

    pub fn redact(&self, text: &str) -> String {
        let text = self.values.iter().fold(text.to_string(), |text, secret| {
            if text.contains(secret.as_str()) {
                text.replace(secret.as_str(), "[redacted]")
            } else {
                text
            }
        });
        self.spread.iter().fold(text, |text, secret| {
            secret.replace_all(&text, "[redacted]").into_owned()
        })
    }

    /// Redacts every string in a JSON value, keys included.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => *text = self.redact(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut value) in entries {
                    self.redact_json(&mut value);
                    map.insert(self.redact(&key), value);
                }
            }
            _ => {}
        }
    }

    /// A value with every string in it redacted (through its JSON form); the value itself
    /// when it does not round-trip.
    pub fn redacted<T: serde::Serialize + serde::de::DeserializeOwned>(&self, value: T) -> T {
        if self.values.is_empty() {
            return value;
        }
        let Ok(mut json) = serde_json::to_value(&value) else {
            return value;
        };
        self.redact_json(&mut json);
        serde_json::from_value(json).unwrap_or(value)
    }
}

/// Standard base64 with padding (for recognising an echoed secret).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The environment an eval command (an `exec` provider or grader) runs with: the
/// variables in [`COMMAND_ENV`] and the locale (`LC_*`), never a secret.
pub fn command_env() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            name.to_str().is_some_and(|name| {
                let upper = name.to_ascii_uppercase();
                (COMMAND_ENV.contains(&upper.as_str()) || upper.starts_with("LC_"))
                    && !is_secret_name(name)
            })
        })
        .map(|(name, value)| {
            if name
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("PATH"))
            {
                (name, outside_checkout(&value))
            } else {
                (name, value)
            }
        })
        .collect()
}

/// A `PATH` without the entries a pull request could write: relative ones and those inside
/// the directory promptgate runs in (the checkout), so a command's bare program name never
/// finds a program the change committed.
fn outside_checkout(path: &std::ffi::OsStr) -> OsString {
    let checkout = CHECKOUT
        .get()
        .cloned()
        .or_else(|| std::env::current_dir().ok())
        .and_then(|d| d.canonicalize().ok());
    let kept: Vec<std::path::PathBuf> = std::env::split_paths(path)
        .filter(|entry| entry.is_absolute())
        .filter(|entry| {
            let real = entry.canonicalize().unwrap_or_else(|_| entry.clone());
            checkout.as_ref().is_none_or(|c| !real.starts_with(c))
        })
        .collect();
    std::env::join_paths(kept).unwrap_or_default()
}

/// The environment a base-defined operations command (a `drill_command`) runs with: the
/// whole environment less every secret promptgate knows of.
pub fn without_secrets(named: &[String]) -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            name.to_str()
                .is_some_and(|name| !is_secret_name(name) && !named.iter().any(|n| n == name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_the_standard_says() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn secret_names() {
        for name in [
            "OPENAI_API_KEY",
            "GITHUB_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "DB_PASSWORD",
            "my_secret",
            "PG_TEST_KEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "KEYBOARD", "LANG"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn redacts_given_values() {
        assert_eq!(
            redact_each("bad key sk-abc123", &["sk-abc123"]),
            "bad key [redacted]"
        );
    }

    #[test]
    fn redacts_strings_everywhere_longest_first() {
        let secrets = Secrets {
            values: vec!["sk-live-abcdef".into(), "sk-live".into()],
            spread: Vec::new(),
        };
        let mut value =
            serde_json::json!({"a": ["x sk-live-abcdef y"], "sk-live-abcdef": 1, "n": 2});
        secrets.redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"a": ["x [redacted] y"], "[redacted]": 1, "n": 2})
        );
    }
}
