//! Who approved a pull request, by the tier's rules: each reviewer's latest decisive review
//! (APPROVED on the head commit counts; CHANGES_REQUESTED or DISMISSED cancels) and
//! `/promptgate approve <sha>` / `/promptgate revoke` comments, in time order per person. An
//! approve comment is bound to the commit it names: it counts for that head only; one naming
//! no commit, or edited after it was posted, never counts. Commit dates are the author's to
//! set, so they decide nothing here; the timeline is GitHub's (when a review was submitted or
//! a comment created). The PR author never counts; an approver listed as `org/team` counts
//! only when the teams API confirms the membership. Pure: the API calls are the
//! caller's, so every rule is tested without a server.

use super::payload::{CommentPayload, ReviewPayload, UserPayload};
use crate::util::time::unix_time;

/// A pull request review, as far as approvals care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub login: String,
    pub state: String,
    pub commit_id: Option<String>,
    pub submitted_at: Option<i64>,
}

impl Review {
    /// A review as far as approvals care; `None` without a reviewer (a deleted account's
    /// review has `user: null`) or a state, which could approve nothing.
    pub fn from_payload(payload: ReviewPayload) -> Option<Review> {
        Some(Review {
            login: UserPayload::login_of(payload.user)?,
            state: payload.state?.to_ascii_uppercase(),
            commit_id: payload.commit_id,
            submitted_at: payload.submitted_at.as_deref().and_then(unix_time),
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
    /// When the comment was last changed: later than `created_at` when someone edited it
    /// (anyone with write access can edit anyone's comment).
    pub updated_at: Option<i64>,
}

impl Comment {
    /// A comment; `None` without an `id` (nothing GitHub sends), which nothing could refer to.
    pub fn from_payload(payload: CommentPayload) -> Option<Comment> {
        Some(Comment {
            id: payload.id?,
            login: UserPayload::login_of(payload.user).unwrap_or_default(),
            body: payload.body.unwrap_or_default(),
            created_at: payload.created_at.as_deref().and_then(unix_time),
            updated_at: payload.updated_at.as_deref().and_then(unix_time),
        })
    }

    /// Whether the comment was changed after it was posted (an update time without a
    /// creation time counts as changed: it fails closed).
    pub fn edited(&self) -> bool {
        self.updated_at.is_some() && self.updated_at > self.created_at
    }
}

/// The command a comment gives, if it is one: its first non-empty line, exactly.
/// `/promptgate approve` must name the commit it approves (7 or more hex digits);
/// `/promptgate revoke` needs nothing more (withdrawing is always safe), and any words after
/// it are ignored.
pub fn command(body: &str) -> Option<Command> {
    let first = body.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut words = first.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("/promptgate") {
        return None;
    }
    match words.next()?.to_ascii_lowercase().as_str() {
        "approve" => {}
        "revoke" => return Some(Command::Revoke),
        _ => return None,
    }
    let rest: Vec<&str> = words.collect();
    Some(match rest.as_slice() {
        [] => Command::Unbound(Unbound::Bare),
        [sha] if is_hex(sha) && sha.len() < MIN_SHA => {
            Command::Unbound(Unbound::TooShort(sha.to_ascii_lowercase()))
        }
        [sha] if is_hex(sha) && sha.len() <= MAX_SHA => Command::Approve(sha.to_ascii_lowercase()),
        _ => Command::Unbound(Unbound::NotASha),
    })
}

/// The fewest hex digits an approve comment must give.
pub const MIN_SHA: usize = 7;
/// The most: a SHA-256 object name.
const MAX_SHA: usize = 64;

fn is_hex(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/promptgate approve <sha>`: the hex digits given, lowercase.
    Approve(String),
    /// An approve comment that names no commit: it never counts.
    Unbound(Unbound),
    Revoke,
}

/// Why an approve comment names no commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unbound {
    /// `/promptgate approve` alone.
    Bare,
    /// Hex digits, but fewer than [`MIN_SHA`].
    TooShort(String),
    /// Something after `approve` that is not one run of hex digits.
    NotASha,
}

/// The exact line an approver posts to approve `head`: its first 12 hex digits.
pub fn approve_line(head: &str) -> String {
    let short = head.get(..12).unwrap_or(head);
    format!("/promptgate approve {short}")
}

/// What the tier asks and what the pull request holds.
pub struct Inputs<'a> {
    pub approvers: &'a [String],
    pub author: &'a str,
    /// The head commit's full sha.
    pub head_sha: &'a str,
    /// `[policy] allow_stale_approvals`: an approving review of an older commit counts, and
    /// so does an approve comment naming one of `earlier_commits`.
    pub allow_stale: bool,
    /// The pull request's commits before the head (full shas): consulted only when
    /// `allow_stale` is on.
    pub earlier_commits: &'a [String],
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

/// What one review or comment says about the head.
enum Word {
    /// Approves the head (or, when stale approvals are allowed, an earlier commit of it).
    Approves,
    /// Withdraws any earlier approval: a revoke, changes requested, a dismissal, or an
    /// approval of another commit.
    Withdraws,
    /// Changes nothing (a bare approve comment).
    Nothing,
}

/// Everyone whose latest word approves the head, and what was set aside on the way (only
/// for people whose approval does not count in the end).
pub fn approving(inputs: &Inputs<'_>) -> (Vec<String>, Vec<String>) {
    // (login, why) for every approval that was set aside.
    let mut set_aside: Vec<(&str, String)> = Vec::new();
    // (time, order, login, word) — reviews and comments merged on one timeline. The times
    // are GitHub's (when a review was submitted, a comment created), never a commit's.
    let mut events: Vec<(i64, usize, &str, Word)> = Vec::new();
    let line = approve_line(inputs.head_sha);
    for (order, review) in inputs.reviews.iter().enumerate() {
        let at = review.submitted_at.unwrap_or(i64::MIN);
        let word = match review.state.as_str() {
            "APPROVED" => {
                let on_head = review.commit_id.as_deref() == Some(inputs.head_sha);
                if on_head || inputs.allow_stale {
                    Word::Approves
                } else {
                    set_aside.push((
                        review.login.as_str(),
                        format!(
                            "{}: approved an older commit ({}); approve the head commit again",
                            review.login,
                            short(review.commit_id.as_deref().unwrap_or("?"))
                        ),
                    ));
                    Word::Withdraws
                }
            }
            "CHANGES_REQUESTED" | "DISMISSED" => Word::Withdraws,
            _ => continue,
        };
        events.push((at, order, &review.login, word));
    }
    let offset = inputs.reviews.len();
    for (order, comment) in inputs.comments.iter().enumerate() {
        let Some(command) = command(&comment.body) else {
            continue;
        };
        let at = comment.created_at.unwrap_or(i64::MIN);
        let login = comment.login.as_str();
        let word = match command {
            Command::Revoke => Word::Withdraws,
            // The approver's words may not be the approver's any more: whoever can push can
            // edit a comment, and GitHub keeps no trace of who did in this API.
            Command::Approve(_) if comment.edited() => {
                set_aside.push((
                    login,
                    format!("{login}: the approve comment was edited after it was posted (anyone with write access can edit it), so it does not count; to approve the head, post a new comment `{line}`"),
                ));
                Word::Nothing
            }
            Command::Approve(sha) if inputs.head_sha.to_ascii_lowercase().starts_with(&sha) => {
                Word::Approves
            }
            Command::Approve(sha) => {
                let earlier = inputs
                    .earlier_commits
                    .iter()
                    .any(|c| c.to_ascii_lowercase().starts_with(&sha));
                if inputs.allow_stale && earlier {
                    Word::Approves
                } else {
                    let head = short(inputs.head_sha);
                    let not = if inputs.allow_stale {
                        format!(
                            "neither the head {head} nor an earlier commit of this pull request"
                        )
                    } else {
                        format!("not the head {head}")
                    };
                    set_aside.push((
                        login,
                        format!(
                            "{login}: approves {sha}, {not}; to approve the head, comment `{line}`"
                        ),
                    ));
                    Word::Withdraws
                }
            }
            Command::Unbound(unbound) => {
                let why = match unbound {
                    Unbound::Bare => "`/promptgate approve` names no commit".to_string(),
                    Unbound::TooShort(sha) => format!(
                        "`/promptgate approve {sha}` names too few hex digits (at least {MIN_SHA})"
                    ),
                    Unbound::NotASha => "an approve comment must name the commit: its first line is `/promptgate approve` and 7 or more hex digits, nothing else".to_string(),
                };
                set_aside.push((
                    login,
                    format!("{login}: {why}, so it does not count; to approve the head, comment `{line}`"),
                ));
                Word::Nothing
            }
        };
        events.push((at, offset + order, login, word));
    }
    events.sort_by_key(|&(at, order, _, _)| (at, order));
    let mut stances: Vec<Stance> = Vec::new();
    for (at, _, login, word) in events {
        let approves = match word {
            Word::Approves => true,
            Word::Withdraws => false,
            Word::Nothing => continue,
        };
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
    let approves = |login: &str| {
        stances
            .iter()
            .any(|s| s.approves && s.login.eq_ignore_ascii_case(login))
    };
    let mut not_counted: Vec<String> = set_aside
        .iter()
        .filter(|(login, _)| !approves(login))
        .map(|(_, why)| why.clone())
        .collect();
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
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "2222222aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OLD: &str = "1111111bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    /// What the verdict comment asks approvers to post for `HEAD`.
    const LINE: &str = "/promptgate approve 2222222aaaaa";

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
            updated_at: Some(at),
        }
    }

    fn run(reviews: &[Review], comments: &[Comment], allow_stale: bool) -> Tally {
        let approvers = ["alice".to_string(), "bob".into(), "org/council".into()];
        let earlier = [OLD.to_string()];
        let inputs = Inputs {
            approvers: &approvers,
            author: "author",
            head_sha: HEAD,
            allow_stale,
            earlier_commits: &earlier,
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
    fn an_approve_comment_counts_for_the_commit_it_names_only() {
        let comments = [
            // The head, by 7 digits, by 12 in capitals, and in full.
            comment("alice", "/promptgate approve 2222222", 1),
            comment("bob", " /PromptGate APPROVE 2222222AAAAA \n\nlooks good", 1),
            comment("carol", &format!("/promptgate approve {HEAD}"), 1),
        ];
        assert_eq!(
            run(&[], &comments, false).approved_by,
            ["alice", "bob", "carol"]
        );
        // Another commit, however recent the comment: an approval of that commit only.
        let tally = run(
            &[],
            &[comment("alice", "/promptgate approve 1111111b", 9)],
            false,
        );
        assert!(tally.approved_by.is_empty());
        assert_eq!(
            tally.not_counted,
            [format!("alice: approves 1111111b, not the head 2222222; to approve the head, comment `{LINE}`")]
        );
        // Longer than the head's name, or one digit off: not the head.
        for body in [
            format!("/promptgate approve {HEAD}0"),
            "/promptgate approve 2222223".to_string(),
        ] {
            assert!(run(&[], &[comment("alice", &body, 9)], false)
                .approved_by
                .is_empty());
        }
    }

    #[test]
    fn an_approve_comment_naming_no_commit_never_counts_and_says_what_to_post() {
        for (body, why) in [
            (
                "/promptgate approve",
                "`/promptgate approve` names no commit",
            ),
            (
                "/promptgate approve 222222",
                "`/promptgate approve 222222` names too few hex digits (at least 7)",
            ),
            (
                "/promptgate approve please",
                "its first line is `/promptgate approve` and 7 or more hex digits",
            ),
            (
                "/promptgate approve 2222222 lgtm",
                "its first line is `/promptgate approve` and 7 or more hex digits",
            ),
        ] {
            let tally = run(&[], &[comment("alice", body, 1)], false);
            assert!(tally.approved_by.is_empty(), "{body}: {tally:?}");
            assert_eq!(tally.not_counted.len(), 1, "{body}: {tally:?}");
            let said = &tally.not_counted[0];
            assert!(said.starts_with("alice: "), "{said}");
            assert!(said.contains(why), "{body}: {said}");
            assert!(
                said.ends_with(&format!(
                    "does not count; to approve the head, comment `{LINE}`"
                )),
                "{said}"
            );
        }
        // A bare approve changes nothing: an approving review still counts, and its
        // complaint is not shown for someone whose approval counts.
        let tally = run(
            &[review("alice", "APPROVED", HEAD, 1)],
            &[comment("alice", "/promptgate approve", 2)],
            false,
        );
        assert_eq!(tally.approved_by, ["alice"]);
        assert!(tally.not_counted.is_empty(), "{tally:?}");
    }

    #[test]
    fn revoke_withdraws_either_kind_and_a_later_approval_restores() {
        let approve = comment("bob", "/promptgate approve 2222222aaaaa", 1_100);
        let revoke = comment("bob", "/promptgate revoke", 1_200);
        assert!(run(&[], &[approve.clone(), revoke.clone()], false)
            .approved_by
            .is_empty());
        let again = comment("bob", "/promptgate approve 2222222aaaaa", 1_300);
        assert_eq!(
            run(&[], &[approve, revoke, again], false).approved_by,
            ["bob"]
        );
        // Words after revoke are ignored: withdrawing is always safe.
        let reviews = [review("alice", "APPROVED", HEAD, 1_100)];
        let revoked = run(
            &reviews,
            &[comment(
                "alice",
                "/promptgate revoke 1111111 (wrong PR)",
                1_200,
            )],
            false,
        );
        assert!(revoked.approved_by.is_empty());
        let back = [comment("bob", "/promptgate approve 2222222", 1_300)];
        let reviews = [review("bob", "CHANGES_REQUESTED", HEAD, 1_200)];
        assert_eq!(run(&reviews, &back, false).approved_by, ["bob"]);
        // A later approval of another commit withdraws an approval of the head.
        let reviews = [review("alice", "APPROVED", HEAD, 1_100)];
        let other = [comment("alice", "/promptgate approve 1111111", 1_200)];
        assert!(run(&reviews, &other, false).approved_by.is_empty());
    }

    #[test]
    fn stale_approvals_allowed_let_a_comment_name_an_earlier_commit_of_the_pull_request() {
        let earlier = [comment("alice", "/promptgate approve 1111111", 1)];
        assert!(run(&[], &earlier, false).approved_by.is_empty());
        assert_eq!(run(&[], &earlier, true).approved_by, ["alice"]);
        // A commit that is not the pull request's never counts.
        let elsewhere = run(
            &[],
            &[comment("alice", "/promptgate approve 3333333", 1)],
            true,
        );
        assert!(elsewhere.approved_by.is_empty());
        assert_eq!(
            elsewhere.not_counted,
            [format!("alice: approves 3333333, neither the head 2222222 nor an earlier commit of this pull request; to approve the head, comment `{LINE}`")]
        );
    }

    #[test]
    fn an_edited_approve_comment_never_counts_but_an_edited_revoke_still_withdraws() {
        let mut edited = comment("alice", "/promptgate approve 2222222", 1_100);
        edited.updated_at = Some(1_200);
        let tally = run(&[], std::slice::from_ref(&edited), false);
        assert!(tally.approved_by.is_empty());
        assert_eq!(
            tally.not_counted,
            [format!("alice: the approve comment was edited after it was posted (anyone with write access can edit it), so it does not count; to approve the head, post a new comment `{LINE}`")]
        );
        // No creation time to compare with: fails closed.
        edited.created_at = None;
        assert!(run(&[], &[edited], false).approved_by.is_empty());
        let mut revoke = comment("alice", "/promptgate revoke", 1_200);
        revoke.updated_at = Some(1_300);
        let reviews = [review("alice", "APPROVED", HEAD, 1_100)];
        assert!(run(&reviews, &[revoke], false).approved_by.is_empty());
        // Unchanged comments (or ones without an update time) are as posted.
        let mut unchanged = comment("alice", "/promptgate approve 2222222", 1_100);
        unchanged.updated_at = None;
        assert_eq!(run(&[], &[unchanged], false).approved_by, ["alice"]);
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
        let approve = |sha: &str| Some(Command::Approve(sha.into()));
        let unbound = |why| Some(Command::Unbound(why));
        assert_eq!(command("/promptgate approve abcdef0"), approve("abcdef0"));
        assert_eq!(
            command("/promptgate approve ABCDEF0123"),
            approve("abcdef0123")
        );
        assert_eq!(
            command(&format!("/promptgate approve {}", "a".repeat(64))),
            approve(&"a".repeat(64))
        );
        assert_eq!(command("/promptgate approve"), unbound(Unbound::Bare));
        assert_eq!(
            command("/promptgate approve abcdef"),
            unbound(Unbound::TooShort("abcdef".into()))
        );
        for not_a_sha in [
            "/promptgate approve abcdefg",
            "/promptgate approve abcdef0 now",
            "/promptgate approve 0x1234567",
            &format!("/promptgate approve {}", "a".repeat(65)),
        ] {
            assert_eq!(command(not_a_sha), unbound(Unbound::NotASha), "{not_a_sha}");
        }
        assert_eq!(
            command("\n /PromptGate revoke \nbecause"),
            Some(Command::Revoke)
        );
        assert_eq!(
            command("/promptgate revoke 1234567 oops"),
            Some(Command::Revoke)
        );
        assert_eq!(command("> /promptgate approve abcdef0"), None);
        assert_eq!(command("/promptgate approved abcdef0"), None);
        assert_eq!(command("please /promptgate approve abcdef0"), None);
        assert_eq!(command(""), None);
        assert_eq!(approve_line(HEAD), LINE);
        assert_eq!(approve_line("abc"), "/promptgate approve abc");
    }
}
