//! Text shown in messages: bodies and outputs quoted on one line, cut to a readable length.

/// At most this much of a response body is quoted in an error message.
pub const BODY_EXCERPT: usize = 300;

/// The start of a response body for an error message, on one line.
pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_flatten_and_cut() {
        assert_eq!(
            excerpt("<html>\n  <body>502</body>\n</html>"),
            "<html> <body>502</body> </html>"
        );
        assert!(excerpt(&"x".repeat(1000)).ends_with('…'));
    }
}
