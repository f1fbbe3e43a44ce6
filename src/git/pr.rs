//! Pull-request numbers read from commit messages, the way GitHub writes them when it
//! merges: a merge commit's `Merge pull request #12 from owner/branch`, or a squash merge's
//! first line `Title (#12)`. Nothing else in a message counts (a `#12` in the body is a
//! reference, not the merge).

/// The pull request a merge or squash-merge commit message names, if it names one.
pub fn from_message(message: &str) -> Option<u64> {
    let first = message.lines().next().unwrap_or_default().trim();
    if let Some(rest) = first.strip_prefix("Merge pull request #") {
        return number(rest.split_whitespace().next()?);
    }
    let inner = first.strip_suffix(')')?;
    let open = inner.rfind("(#")?;
    number(&inner[open + 2..])
}

/// The title of a squash merge's first line, or a merge commit's PR title (its message's
/// first non-empty line after the `Merge pull request` line); the first line otherwise.
pub fn title(message: &str) -> String {
    let mut lines = message.lines().map(str::trim);
    let first = lines.next().unwrap_or_default();
    if first.starts_with("Merge pull request #") {
        if let Some(title) = lines.find(|l| !l.is_empty()) {
            return title.to_string();
        }
    }
    match first.rfind(" (#") {
        Some(at) if from_message(first).is_some() => first[..at].to_string(),
        _ => first.to_string(),
    }
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_merge_and_squash_messages() {
        let merge = "Merge pull request #12 from acme/tone\n\nFriendlier greeting";
        assert_eq!(from_message(merge), Some(12));
        assert_eq!(title(merge), "Friendlier greeting");
        let squash = "Friendlier greeting (#345)\n\n* wip";
        assert_eq!(from_message(squash), Some(345));
        assert_eq!(title(squash), "Friendlier greeting");
    }

    #[test]
    fn other_messages_name_no_pull_request() {
        for message in [
            "Fix typo",
            "Refs #12 in the body\n\nsee (#13)",
            "Odd (#12a)",
            "Empty (#)",
            "",
            "Merge branch 'main'",
        ] {
            assert_eq!(from_message(message), None, "{message:?}");
        }
        assert_eq!(title("Fix typo\n\nbody"), "Fix typo");
    }
}
