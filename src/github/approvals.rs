//! Who approved a pull request, by the tier's rules: each reviewer's latest decisive review
//! (APPROVED on the head commit counts; CHANGES_REQUESTED or DISMISSED cancels) and
//! `/promptgate approve` / `/promptgate revoke` comments made after the head commit, in
//! time order per person. The PR author never counts; an approver listed as `org/team`
//! counts only when the teams API confirms the membership. Pure: the API calls are the
//! caller's, so every rule is tested without a server.

use serde_json::Value;

use super::unix_time;

/// A pull request review, as far as approvals care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub login: String,
    pub state: String,
    pub commit_id: Option<String>,
    pub submitted_at: Option<i64>,
}

impl Review {
    pub fn from_json(value: &Value) -> Option<Review> {
        Some(Review {
            login: value.pointer("/user/login")?.as_str()?.to_string(),
            state: value.get("state")?.as_str()?.to_ascii_uppercase(),
            commit_id: value
                .get("commit_id")
                .and_then(Value::as_str)
                .map(String::from),
            submitted_at: value
                .get("submitted_at")
                .and_then(Value::as_str)
                .and_then(unix_time),
        })
    }
}

/// An issue comment on the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub login: String,
    pub body: String,
    pub created_at: Option<i64>,
}

impl Comment {
    pub fn from_json(value: &Value) -> Option<Comment> {
        Some(Comment {
            id: value.get("id")?.as_u64()?,
            login: value
                .pointer("/user/login")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            body: value
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            created_at: value
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(unix_time),
        })
    }
}

/// The command a comment gives, if it is one: its first non-empty line, exactly.
pub fn command(body: &str) -> Option<Command> {
    let first = body.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut words = first.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("/promptgate") {
        return None;
    }
    let command = match words.next()?.to_ascii_lowercase().as_str() {
        "approve" => Command::Approve,
        "revoke" => Command::Revoke,
        _ => return None,
    };
    words.next().is_none().then_some(command)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Approve,
    Revoke,
}

/// What the tier asks and what the pull request holds.
pub struct Inputs<'a> {
    pub approvers: &'a [String],
    pub author: &'a str,
    pub head_sha: &'a str,
    /// When the head commit was made (its committer time), Unix seconds.
    pub head_time: i64,
    /// `[policy] allow_stale_approvals`: an approving review on an older commit counts.
    pub allow_stale: bool,
    pub reviews: &'a [Review],
    pub comments: &'a [Comment],
}

/// Whether someone belongs to a team, as far as the token can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    Member,
    NotMember,
    /// The API would not say; why (e.g. the token lacks the permission to read teams).
    Unreadable(String),
}

/// Who approved and why the others did not count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub approved_by: Vec<String>,
    pub not_counted: Vec<String>,
}

/// One person's last word, in time order.
struct Stance {
    login: String,
    approves: bool,
    at: i64,
}

/// Everyone whose latest word approves the head, and what was set aside on the way.
pub fn approving(inputs: &Inputs<'_>) -> (Vec<String>, Vec<String>) {
    let mut not_counted = Vec::new();
    // (time, order, login, approves?) — reviews and comments merged on one timeline.
    let mut events: Vec<(i64, usize, &str, bool)> = Vec::new();
    for (order, review) in inputs.reviews.iter().enumerate() {
        let at = review.submitted_at.unwrap_or(i64::MIN);
        match review.state.as_str() {
            "APPROVED" => {
                let on_head = review.commit_id.as_deref() == Some(inputs.head_sha);
                if on_head || inputs.allow_stale {
                    events.push((at, order, &review.login, true));
                } else {
                    events.push((at, order, &review.login, false));
                    not_counted.push(format!(
                        "{}: approved an older commit ({}); approve the head commit again",
                        review.login,
                        short(review.commit_id.as_deref().unwrap_or("?"))
                    ));
                }
            }
            "CHANGES_REQUESTED" | "DISMISSED" => events.push((at, order, &review.login, false)),
            _ => {}
        }
    }
    let offset = inputs.reviews.len();
    for (order, comment) in inputs.comments.iter().enumerate() {
        let Some(command) = command(&comment.body) else {
            continue;
        };
        let at = comment.created_at.unwrap_or(i64::MIN);
        match command {
            Command::Approve if at <= inputs.head_time => not_counted.push(format!(
                "{}: `/promptgate approve` was written before the head commit; comment again",
                comment.login
            )),
            Command::Approve => events.push((at, offset + order, &comment.login, true)),
            Command::Revoke => events.push((at, offset + order, &comment.login, false)),
        }
    }
    events.sort_by_key(|&(at, order, _, _)| (at, order));
    let mut stances: Vec<Stance> = Vec::new();
    for (at, _, login, approves) in events {
        match stances
            .iter_mut()
            .find(|s| s.login.eq_ignore_ascii_case(login))
        {
            Some(stance) => {
                stance.approves = approves;
                stance.at = at;
            }
            None => stances.push(Stance {
                login: login.to_string(),
                approves,
                at,
            }),
        }
    }
    stances.sort_by_key(|s| s.at);
    let mut approving = Vec::new();
    for stance in stances.into_iter().filter(|s| s.approves) {
        if stance.login.eq_ignore_ascii_case(inputs.author) {
            not_counted.push(format!(
                "{}: the pull request's author cannot approve it",
                stance.login
            ));
        } else {
            approving.push(stance.login);
        }
    }
    (approving, not_counted)
}

/// The approvals that count: approving people who are approvers, directly or through a
/// team `membership` confirms.
pub fn tally(
    inputs: &Inputs<'_>,
    mut membership: impl FnMut(&str, &str, &str) -> Membership,
) -> Tally {
    let (approving, mut not_counted) = approving(inputs);
    let mut approved_by = Vec::new();
    for login in approving {
        let direct = inputs
            .approvers
            .iter()
            .any(|a| !a.contains('/') && a.eq_ignore_ascii_case(&login));
        if direct {
            approved_by.push(login);
            continue;
        }
        let mut unreadable = Vec::new();
        let mut member = false;
        for team in inputs.approvers.iter().filter(|a| a.contains('/')) {
            let Some((org, slug)) = team.split_once('/') else {
                continue;
            };
            match membership(org, slug, &login) {
                Membership::Member => {
                    member = true;
                    break;
                }
                Membership::NotMember => {}
                Membership::Unreadable(why) => unreadable.push(format!("{team}: {why}")),
            }
        }
        if member {
            approved_by.push(login);
        } else if unreadable.is_empty() {
            not_counted.push(format!("{login}: not an approver for this tier"));
        } else {
            not_counted.push(format!(
                "{login}: team membership could not be checked ({})",
                unreadable.join("; ")
            ));
        }
    }
    Tally {
        approved_by,
        not_counted,
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "2222222222222222222222222222222222222222";
    const OLD: &str = "1111111111111111111111111111111111111111";
    const HEAD_TIME: i64 = 1_000;

    fn review(login: &str, state: &str, commit: &str, at: i64) -> Review {
        Review {
            login: login.into(),
            state: state.into(),
            commit_id: Some(commit.into()),
            submitted_at: Some(at),
        }
    }

    fn comment(login: &str, body: &str, at: i64) -> Comment {
        Comment {
            id: at as u64,
            login: login.into(),
            body: body.into(),
            created_at: Some(at),
        }
    }

    fn run(reviews: &[Review], comments: &[Comment], allow_stale: bool) -> Tally {
        let approvers = ["alice".to_string(), "bob".into(), "org/council".into()];
        let inputs = Inputs {
            approvers: &approvers,
            author: "author",
            head_sha: HEAD,
            head_time: HEAD_TIME,
            allow_stale,
            reviews,
            comments,
        };
        tally(&inputs, |org, team, login| match (org, team, login) {
            ("org", "council", "carol") => Membership::Member,
            ("org", "council", "secret") => {
                Membership::Unreadable("403: the token cannot read org teams".into())
            }
            _ => Membership::NotMember,
        })
    }

    #[test]
    fn latest_review_per_reviewer_on_the_head_counts() {
        let reviews = [
            review("alice", "APPROVED", HEAD, 1_100),
            review("bob", "APPROVED", HEAD, 1_100),
            review("bob", "CHANGES_REQUESTED", HEAD, 1_200),
            review("carol", "COMMENTED", HEAD, 1_300),
            review("carol", "APPROVED", HEAD, 1_250),
        ];
        let tally = run(&reviews, &[], false);
        assert_eq!(tally.approved_by, ["alice", "carol"]);
    }

    #[test]
    fn stale_dismissed_and_author_approvals_do_not_count() {
        let reviews = [
            review("alice", "APPROVED", OLD, 900),
            review("bob", "DISMISSED", HEAD, 1_100),
            review("author", "APPROVED", HEAD, 1_100),
            review("mallory", "APPROVED", HEAD, 1_100),
        ];
        let tally = run(&reviews, &[], false);
        assert!(tally.approved_by.is_empty(), "{tally:?}");
        let why = tally.not_counted.join("\n");
        for expected in [
            "alice: approved an older commit (1111111)",
            "author: the pull request's author cannot approve it",
            "mallory: not an approver for this tier",
        ] {
            assert!(why.contains(expected), "{expected:?} in {why}");
        }
        assert_eq!(run(&reviews[..1], &[], true).approved_by, ["alice"]);
    }

    #[test]
    fn comments_approve_after_the_head_commit_and_revoke() {
        let comments = [
            comment("alice", "/promptgate approve", 900),
            comment("bob", "/promptgate approve", 1_100),
            comment("carol", "  /promptgate APPROVE\n\nlooks good", 1_100),
            comment("bob", "/promptgate revoke", 1_200),
            comment("dave", "I think we should /promptgate approve", 1_100),
            comment("alice", "/promptgate approve please", 1_100),
        ];
        let tally = run(&[], &comments, false);
        assert_eq!(tally.approved_by, ["carol"]);
        assert!(tally.not_counted[0]
            .contains("alice: `/promptgate approve` was written before the head commit"));
        // A review approval is cancelled by a later revoke comment, and the reverse.
        let reviews = [review("alice", "APPROVED", HEAD, 1_100)];
        let revoked = run(
            &reviews,
            &[comment("alice", "/promptgate revoke", 1_200)],
            false,
        );
        assert!(revoked.approved_by.is_empty());
        let back = [comment("bob", "/promptgate approve", 1_300)];
        let reviews = [review("bob", "CHANGES_REQUESTED", HEAD, 1_200)];
        assert_eq!(run(&reviews, &back, false).approved_by, ["bob"]);
    }

    #[test]
    fn unreadable_team_membership_does_not_count_and_says_why() {
        let tally = run(&[review("secret", "APPROVED", HEAD, 1_100)], &[], false);
        assert!(tally.approved_by.is_empty());
        assert_eq!(
            tally.not_counted,
            ["secret: team membership could not be checked (org/council: 403: the token cannot read org teams)"]
        );
    }

    #[test]
    fn commands_are_exact() {
        assert_eq!(command("/promptgate approve"), Some(Command::Approve));
        assert_eq!(
            command("\n /PromptGate revoke \nbecause"),
            Some(Command::Revoke)
        );
        assert_eq!(command("> /promptgate approve"), None);
        assert_eq!(command("/promptgate approved"), None);
        assert_eq!(command(""), None);
    }
}
