//! Text helpers of the assertion modules: finding the JSON values embedded in prose, and
//! rendering texts, lists, JSON values, numbers and dollars for reasons and error messages.

use serde_json::Value;

/// Every JSON object or array embedded in `text`, in order: from each `{` or `[`, the value
/// that parses there, skipping past it so nested values are not reported twice.
pub(super) fn embedded_json(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find(['{', '[']) {
        let start = from + offset;
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => {
                found.push(value);
                from = start + values.byte_offset();
            }
            // The brackets are ASCII, so the next byte starts a character.
            _ => from = start + 1,
        }
    }
    found
}

/// The start of `text`, trimmed, cut at `max_chars` characters with an ellipsis.
pub(super) fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A short, escaped, quoted rendering of a text for a reason.
pub(super) fn quoted(text: &str) -> String {
    format!("{:?}", excerpt(text, 80))
}

/// Two texts quoted so that their difference shows: when their short renderings look the
/// same (the difference is whitespace at an end, or past the cut), both are shown untrimmed
/// and escaped (`\n`, trailing spaces) around the first character where they differ.
pub(super) fn quoted_difference(a: &str, b: &str) -> (String, String) {
    let (short_a, short_b) = (quoted(a), quoted(b));
    if short_a != short_b {
        return (short_a, short_b);
    }
    let first = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let window = |text: &str| {
        let chars: Vec<char> = text.chars().collect();
        let start = first.saturating_sub(30).min(chars.len());
        let end = (first + 30).min(chars.len());
        let shown: String = chars[start..end].iter().collect();
        format!(
            "{}{shown:?}{}",
            if start > 0 { "…" } else { "" },
            if end < chars.len() { "…" } else { "" }
        )
    };
    (window(a), window(b))
}

pub(super) fn quoted_list(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = items.iter().take(SHOWN).map(|item| quoted(item)).collect();
    if items.len() > SHOWN {
        parts.push(format!("and {} more", items.len() - SHOWN));
    }
    parts.join(", ")
}

/// What kind of JSON value this is, for error messages.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => format!("{flag}"),
        Value::Number(number) => format!("{number}"),
        Value::String(text) => format!("the string {}", quoted(text)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// A number for people: at most 3 decimals, no trailing zeros.
pub(super) fn num(value: f64) -> String {
    trim_decimals(format!("{value:.3}"))
}

/// Dollars with enough decimals for a single call's cost.
pub(super) fn usd(value: f64) -> String {
    format!("${}", trim_decimals(format!("{value:.8}")))
}

fn trim_decimals(formatted: String) -> String {
    if !formatted.contains('.') {
        return formatted;
    }
    formatted
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_json_skips_past_each_value_and_garbage() {
        let found = embedded_json(r#"a {"x": {"y": 1}} b [1, [2]] c {bad} {"z": "}{"}"#);
        assert_eq!(
            found,
            vec![json!({"x": {"y": 1}}), json!([1, [2]]), json!({"z": "}{"})]
        );
        assert!(embedded_json("").is_empty());
        assert!(embedded_json("{{{{[[[[").is_empty());
        assert_eq!(embedded_json("ünïcode {\"é\": 1}"), vec![json!({"é": 1})]);
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(num(200.0), "200");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(0.75), "0.75");
        assert_eq!(usd(0.01), "$0.01");
        assert_eq!(usd(0.000015), "$0.000015");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(excerpt("  abc  ", 2), "ab…");
        assert_eq!(excerpt("日本語", 2), "日本…");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}
