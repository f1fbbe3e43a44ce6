//! Text shown in messages: bodies and outputs quoted on one line, cut to a readable length;
//! ids in natural order (`case-2` before `case-10`).

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

/// Natural order: runs of digits compare as numbers, the rest byte by byte, so `case-2`
/// sorts before `case-10`; ties fall back to plain order.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while let (Some(&p), Some(&q)) = (x.first(), y.first()) {
        if p.is_ascii_digit() && q.is_ascii_digit() {
            let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
            let (m, n) = (run(x), run(y));
            let trim = |s: &[u8]| {
                let zeros = s.iter().take_while(|&&c| c == b'0').count();
                s[zeros..].to_vec()
            };
            let (u, v) = (trim(&x[..m]), trim(&y[..n]));
            let order = u.len().cmp(&v.len()).then_with(|| u.cmp(&v));
            if order != Ordering::Equal {
                return order;
            }
            (x, y) = (&x[m..], &y[n..]);
        } else {
            if p != q {
                return p.cmp(&q);
            }
            (x, y) = (&x[1..], &y[1..]);
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_counts_digits_as_numbers() {
        let mut ids = vec![
            "case-10", "case-2", "case-1", "b", "a-01", "a-1", "case-02x",
        ];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            ids,
            ["a-01", "a-1", "b", "case-1", "case-2", "case-02x", "case-10"]
        );
    }

    #[test]
    fn excerpts_flatten_and_cut() {
        assert_eq!(
            excerpt("<html>\n  <body>502</body>\n</html>"),
            "<html> <body>502</body> </html>"
        );
        assert!(excerpt(&"x".repeat(1000)).ends_with('…'));
    }
}
