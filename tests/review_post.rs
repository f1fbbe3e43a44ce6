//! The weekly review's GitHub issue (`github::issue::upsert_issue`), called through the
//! library against the stateful fake GitHub on 127.0.0.1: the first call opens the issue,
//! later calls with the same marker edit that one issue wherever it sits among the pages
//! (closed included), issues without the marker, other people's issues and pull requests
//! that carry it are left alone, and refusals say which permission or setting fixes them.

#[path = "common/github.rs"]
mod github;
#[path = "common/http.rs"]
mod http;

use github::{GitHub, Issue, Reply};
use promptgate::github::issue::{upsert_issue, PostedIssue};
use promptgate::github::{Env, Repository, Session};

/// A token distinctive enough to be found if it ever leaks into an error.
const TOKEN: &str = "ghs_SeCrEtT0kenThatMustNeverBePrinted42";
const BOT: &str = "github-actions[bot]";
const MARKER: &str = "<!-- promptgate-review 2026-W49 -->";
const TITLE: &str = "Eval review 2026-W49";

/// A fake GitHub whose workflow token posts as the Actions bot.
fn github() -> GitHub {
    let gh = GitHub::start();
    gh.add_integration_token(TOKEN, BOT);
    gh
}

/// A session on `acme/prompts` through the fake's API root.
fn session(gh: &GitHub) -> Session {
    let env = Env {
        api_url: gh.url(),
        server_url: "https://github.com".into(),
        token: Some(TOKEN.into()),
        ..Env::default()
    };
    Session::new(env, Repository::parse("acme/prompts").unwrap(), None).unwrap()
}

fn body(text: &str) -> String {
    format!("{MARKER}\n## Eval review 2026-W49\n\n{text}\n")
}

fn find(gh: &GitHub, number: u64) -> Issue {
    gh.issues()
        .into_iter()
        .find(|i| i.number == number)
        .expect("the issue")
}

#[test]
fn opens_the_issue_once_then_edits_it_in_place() {
    let gh = github();
    let others = [
        gh.add_issue(
            BOT,
            "Eval review 2026-W48",
            "<!-- promptgate-review 2026-W48 -->\nold",
        ),
        gh.add_issue("bob", "Flaky case", "support/12 fails now and then"),
        gh.add_pull_issue(
            BOT,
            "Quote the marker",
            &format!("{MARKER}\nin a pull request"),
        ),
        gh.add_issue(
            "mallory",
            "Totally the review",
            &format!("{MARKER}\nforged"),
        ),
    ];
    let before: Vec<Issue> = gh.issues();
    let session = session(&gh);

    let first = upsert_issue(
        &session,
        MARKER,
        TITLE,
        &body("- [ ] support: 3 regressions"),
    )
    .unwrap();
    let number = others[3] + 1;
    assert_eq!(
        first,
        PostedIssue {
            number,
            url: format!("https://github.com/acme/prompts/issues/{number}"),
            created: true,
        }
    );
    let opened = find(&gh, number);
    assert_eq!((opened.login.as_str(), opened.title.as_str()), (BOT, TITLE));
    assert_eq!(
        opened.body.as_deref(),
        Some(body("- [ ] support: 3 regressions").as_str())
    );

    // 150 issues opened since push ours to the second page of the list.
    for i in 0..150 {
        gh.add_issue("bob", &format!("issue {i}"), &format!("nothing to see {i}"));
    }
    gh.fail_next("GET", "/issues?", Reply::secondary_rate_limit());
    let second = upsert_issue(
        &session,
        MARKER,
        TITLE,
        &body("- [x] support: 3 regressions"),
    )
    .unwrap();
    assert_eq!(
        gh.pending_failures(),
        0,
        "the rate-limited list was retried"
    );
    assert_eq!((second.number, second.created), (number, false));
    assert_eq!(second.url, first.url);
    assert_eq!(
        find(&gh, number).body.as_deref(),
        Some(body("- [x] support: 3 regressions").as_str())
    );
    assert!(
        gh.requests_to("GET", "/repos/acme/prompts/issues?")
            .iter()
            .any(|r| r.path.contains("page=2")),
        "the second page was read"
    );
    assert!(gh
        .requests_to("GET", "/issues?")
        .iter()
        .all(|r| r.path.contains("state=all") && r.path.contains("per_page=100")));

    // Saying the same again writes nothing.
    let third = upsert_issue(
        &session,
        MARKER,
        TITLE,
        &body("- [x] support: 3 regressions"),
    )
    .unwrap();
    assert_eq!((third.number, third.created), (number, false));
    assert_eq!(gh.requests_to("POST", "/issues").len(), 1);
    assert_eq!(gh.requests_to("PATCH", "/issues/").len(), 1);

    // Nobody else's issue moved, and there is one review issue for the week.
    for issue in before {
        assert_eq!(find(&gh, issue.number), issue);
    }
    let ours: Vec<Issue> = gh
        .issues()
        .into_iter()
        .filter(|i| {
            i.login == BOT && !i.pull && i.body.as_deref().is_some_and(|b| b.contains(MARKER))
        })
        .collect();
    assert_eq!(ours.len(), 1);
}

#[test]
fn a_closed_review_issue_is_edited_not_reopened_or_duplicated() {
    let gh = github();
    let number = gh.add_issue(BOT, "Eval review 2026-W49 (old title)", &body("old"));
    gh.close_issue(number);
    let posted = upsert_issue(&session(&gh), MARKER, TITLE, &body("new")).unwrap();
    assert_eq!((posted.number, posted.created), (number, false));
    let issue = find(&gh, number);
    assert_eq!(
        (issue.title.as_str(), issue.state.as_str()),
        (TITLE, "closed")
    );
    assert_eq!(gh.issues().len(), 1);
}

#[test]
fn refusals_name_the_permission_and_never_the_token() {
    let gh = github();
    let session = session(&gh);
    gh.fail_next(
        "POST",
        "/repos/acme/prompts/issues",
        Reply::forbidden_integration(),
    );
    let error = upsert_issue(&session, MARKER, TITLE, &body("x")).unwrap_err();
    let shown = error.to_string();
    assert_eq!(error.status, Some(403));
    for part in [
        "cannot write the review issue",
        "403 Resource not accessible by integration",
        "`issues: write`",
        "permissions:",
    ] {
        assert!(shown.contains(part), "{part} missing: {shown}");
    }
    assert!(!shown.contains(TOKEN));
    assert!(gh.issues().is_empty());

    gh.fail_next(
        "GET",
        "/repos/acme/prompts/issues",
        Reply::forbidden_integration(),
    );
    let shown = upsert_issue(&session, MARKER, TITLE, &body("x"))
        .unwrap_err()
        .to_string();
    assert!(
        shown.contains("list the repository's issues") && shown.contains("`issues: read`"),
        "{shown}"
    );

    gh.disable_issues();
    let shown = upsert_issue(&session, MARKER, TITLE, &body("x"))
        .unwrap_err()
        .to_string();
    assert!(
        shown.contains("410 Issues are disabled for this repo"),
        "{shown}"
    );
    assert!(
        shown.contains("turn them on") && shown.contains("without `--post`"),
        "{shown}"
    );
    assert!(gh.issues().is_empty());
}

#[test]
fn a_body_without_its_marker_is_refused_before_any_request() {
    let gh = github();
    let session = session(&gh);
    for (marker, text) in [(MARKER, "no marker here"), ("", "anything"), ("  ", "  ")] {
        let shown = upsert_issue(&session, marker, TITLE, text)
            .unwrap_err()
            .to_string();
        assert!(shown.contains("does not carry its marker"), "{shown}");
    }
    assert!(gh.requests().is_empty());
}
