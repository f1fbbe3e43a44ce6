//! A stateful fake of the GitHub REST API on 127.0.0.1 for integration tests, served by the
//! scripted HTTP/1.1 server of `http.rs` (real sockets, keep-alive, every request recorded),
//! which a crate including this module declares as `#[path = "common/http.rs"] mod http;`.
//! It owns the state a promptgate run reads and writes on GitHub (tokens, pull requests, PR
//! comments, reviews, commit statuses, team memberships, issues), answers the way GitHub does (JSON
//! bodies, `Link` pagination, 401/403/404/422 bodies, a `/api/v3` prefix for Enterprise base
//! URLs), and replays injected failures first. Dropping it stops the server.
#![allow(dead_code)]

use crate::http::{lock, Server};
pub use crate::http::{Recorded, Reply};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

const JSON: &str = "application/json; charset=utf-8";
const DOCS: &str = "https://docs.github.com/rest";
/// Ids of comments (POSTed or added by the test) start here and increase globally.
const FIRST_COMMENT_ID: u64 = 1000;
const FIRST_REVIEW_ID: u64 = 5000;
const FIRST_STATUS_ID: u64 = 9000;
const MAX_DESCRIPTION: usize = 140;
const MAX_COMMENT_BODY: usize = 65536;
const MAX_ISSUE_TITLE: usize = 256;

/// A JSON answer with GitHub's content type.
fn json_reply(status: u16, value: Value) -> Reply {
    Reply::text(status, JSON, &value.to_string())
}

/// GitHub's answers, as constructors on `http::Reply` (so `github::Reply::not_found()` works
/// without an import); `json`, `empty` and `with_header` are `http::Reply`'s own.
impl Reply {
    /// GitHub's error shape: `{"message", "documentation_url", "status"}`.
    pub fn message(status: u16, message: &str, documentation_url: &str) -> Reply {
        json_reply(
            status,
            json!({
                "message": message,
                "documentation_url": documentation_url,
                "status": status.to_string(),
            }),
        )
    }

    /// 403 "Resource not accessible by integration" (a `GITHUB_TOKEN` lacking a permission).
    pub fn forbidden_integration() -> Reply {
        Reply::message(403, "Resource not accessible by integration", DOCS)
    }

    /// `status` (e.g. 502) with `{"message":"Server Error"}`.
    pub fn server_error(status: u16) -> Reply {
        Reply::message(status, "Server Error", DOCS)
    }

    /// The primary rate limit: 403 with `x-ratelimit-remaining: 0`, `x-ratelimit-reset`
    /// (`reset_epoch`, seconds since the epoch) and `retry-after: 0`.
    pub fn rate_limited(reset_epoch: u64) -> Reply {
        Reply::message(
            403,
            "API rate limit exceeded for installation ID 1.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        )
        .with_header("x-ratelimit-limit", "5000")
        .with_header("x-ratelimit-remaining", "0")
        .with_header("x-ratelimit-used", "5000")
        .with_header("x-ratelimit-reset", &reset_epoch.to_string())
        .with_header("x-ratelimit-resource", "core")
        .with_header("retry-after", "0")
    }

    /// A secondary (abuse) rate limit: 403 with `retry-after: 0`.
    pub fn secondary_rate_limit() -> Reply {
        Reply::message(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
             again. If you reach out to GitHub Support for help, please include the request ID \
             0000:1111:2222:3333:44444444.",
            "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        )
        .with_header("retry-after", "0")
    }

    /// 422 with `message`.
    pub fn unprocessable(message: &str) -> Reply {
        Reply::message(422, message, DOCS)
    }

    /// 422 "Validation Failed" with GitHub's `errors` list.
    pub fn validation_failed(errors: Value) -> Reply {
        json_reply(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": DOCS,
                "status": "422",
            }),
        )
    }

    pub fn not_found() -> Reply {
        Reply::message(404, "Not Found", DOCS)
    }

    pub fn bad_credentials() -> Reply {
        Reply::message(401, "Bad credentials", DOCS)
    }

    pub fn requires_authentication() -> Reply {
        Reply::message(401, "Requires authentication", DOCS)
    }

    fn bad_request(why: &str) -> Reply {
        Reply::message(400, &format!("Bad Request: {why}"), DOCS)
    }

    fn problems_parsing_json() -> Reply {
        Reply::message(400, "Problems parsing JSON", DOCS)
    }
}

/// A PR (issue) comment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub login: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A commit status as stored, in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub sha: String,
    pub state: String,
    /// Empty when the request had none.
    pub description: String,
    pub target_url: Option<String>,
    /// `"default"` when the request had none, as on GitHub.
    pub context: String,
}

/// An issue as stored; pull requests appear among issues too (`pull`), as on GitHub, and
/// share their numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub login: String,
    pub title: String,
    /// `None`: GitHub's `"body": null`.
    pub body: Option<String>,
    /// `"open"` or `"closed"`.
    pub state: String,
    /// A pull request as the issues list shows it (with a `pull_request` key).
    pub pull: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A pull request review as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: u64,
    pub login: String,
    pub state: String,
    pub commit_id: String,
    pub submitted_at: String,
    pub body: String,
}

/// The running server.
pub struct GitHub {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl GitHub {
    pub fn start() -> GitHub {
        let state = Arc::new(Mutex::new(State::new()));
        let server = {
            let state = Arc::clone(&state);
            Server::start(move |request| lock(&state).handle(request))
        };
        lock(&state).host = server.addr().to_string();
        GitHub { server, state }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// `http://127.0.0.1:PORT/api/v3`: a GitHub Enterprise Server style API root.
    pub fn enterprise_url(&self) -> String {
        format!("{}/api/v3", self.server.url)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A user token: `GET /user` answers `login`.
    pub fn add_token(&self, token: &str, login: &str) {
        self.state().tokens.insert(
            token.into(),
            Token {
                login: login.into(),
                integration: false,
            },
        );
    }

    /// An installation token like `GITHUB_TOKEN`: `GET /user` is 403, and what it posts
    /// appears as `login` (e.g. `github-actions[bot]`) with `"type": "Bot"`.
    pub fn add_integration_token(&self, token: &str, login: &str) {
        self.state().tokens.insert(
            token.into(),
            Token {
                login: login.into(),
                integration: true,
            },
        );
    }

    /// GETs without an `Authorization` header are served (except `GET /user` and team
    /// memberships, which answer 401 "Requires authentication").
    pub fn allow_anonymous_reads(&self) {
        self.state().anonymous_reads = true;
    }

    /// Only these `owner/repo`s exist (case-insensitive); any other `/repos/...` is 404.
    /// Without this call every repository exists.
    pub fn restrict_repos(&self, repos: &[&str]) {
        self.state().repos = Some(repos.iter().map(|r| r.to_ascii_lowercase()).collect());
    }

    /// Served as given by `GET /repos/{o}/{r}/pulls/{number}`.
    pub fn set_pull(&self, number: u64, pull: Value) {
        self.state().pulls.insert(number, pull);
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/pulls` answers these pull requests (as given) for
    /// `sha`; any other commit answers an empty list.
    pub fn set_commit_pulls(&self, sha: &str, pulls: Vec<Value>) {
        self.state()
            .commit_pulls
            .insert(sha.to_ascii_lowercase(), pulls);
    }

    /// Appends a comment to PR `pr`; returns its id.
    pub fn add_comment(&self, pr: u64, login: &str, body: &str, created_at: &str) -> u64 {
        self.state().insert_comment(pr, login, body, created_at)
    }

    /// Someone with write access rewrites comment `id` (its author stays who posted it), as
    /// GitHub lets them; `updated_at` moves on.
    pub fn edit_comment(&self, id: u64, body: &str, updated_at: &str) {
        let mut state = self.state();
        let (_, comment) = state
            .comments
            .iter_mut()
            .find(|(_, c)| c.id == id)
            .expect("a comment with that id");
        comment.body = body.into();
        comment.updated_at = updated_at.into();
    }

    /// Appends a review (empty body) to PR `pr`; returns its id. `state` as GitHub spells it
    /// (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`).
    pub fn add_review(
        &self,
        pr: u64,
        login: &str,
        state: &str,
        commit_id: &str,
        submitted_at: &str,
    ) -> u64 {
        let mut state_ = self.state();
        let id = state_.next_review_id;
        state_.next_review_id += 1;
        state_.reviews.push((
            pr,
            Review {
                id,
                login: login.into(),
                state: state.into(),
                commit_id: commit_id.into(),
                submitted_at: submitted_at.into(),
                body: String::new(),
            },
        ));
        id
    }

    /// `state`: `"active"` or `"pending"`. Org, team and login are case-insensitive.
    pub fn set_membership(&self, org: &str, team: &str, login: &str, state: &str) {
        self.state()
            .memberships
            .insert(membership_key(org, team, login), state.into());
    }

    pub fn remove_membership(&self, org: &str, team: &str, login: &str) {
        self.state()
            .memberships
            .remove(&membership_key(org, team, login));
    }

    /// Membership lookups in this team answer 403 "Resource not accessible by integration".
    pub fn set_team_unreadable(&self, org: &str, team: &str) {
        self.state()
            .unreadable_teams
            .insert((org.to_ascii_lowercase(), team.to_ascii_lowercase()));
    }

    /// Statuses for any other SHA answer 422 "No commit found for SHA: ...". Without this
    /// call every SHA exists.
    pub fn set_known_shas(&self, shas: &[&str]) {
        self.state().known_shas = Some(shas.iter().map(|s| s.to_ascii_lowercase()).collect());
    }

    /// The `author_association` of `login` in comments and reviews (default `"NONE"`).
    pub fn set_author_association(&self, login: &str, association: &str) {
        self.state()
            .associations
            .insert(login.to_ascii_lowercase(), association.into());
    }

    /// Opens an issue by `login`; returns its number (the next after every issue, pull
    /// request and `set_pull` number so far).
    pub fn add_issue(&self, login: &str, title: &str, body: &str) -> u64 {
        self.state().insert_issue(login, title, Some(body), false)
    }

    /// A pull request by `login`, as `GET /repos/{o}/{r}/issues` lists it; returns its number.
    pub fn add_pull_issue(&self, login: &str, title: &str, body: &str) -> u64 {
        self.state().insert_issue(login, title, Some(body), true)
    }

    /// Closes issue `number` (someone dealt with it).
    pub fn close_issue(&self, number: u64) {
        let mut state = self.state();
        let issue = state
            .issues
            .iter_mut()
            .find(|i| i.number == number)
            .expect("an issue with that number");
        issue.state = "closed".into();
    }

    /// Every issue route answers 410 "Issues are disabled for this repo" (a repository with
    /// issues turned off); pull request comments still work.
    pub fn disable_issues(&self) {
        self.state().issues_disabled = true;
    }

    /// Every issue and pull request listed among issues, by number.
    pub fn issues(&self) -> Vec<Issue> {
        let mut issues = self.state().issues.clone();
        issues.sort_by_key(|i| i.number);
        issues
    }

    /// The comments on PR `pr`, in creation order.
    pub fn comments(&self, pr: u64) -> Vec<Comment> {
        self.state()
            .comments
            .iter()
            .filter(|(p, _)| *p == pr)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The reviews on PR `pr`, in creation order.
    pub fn reviews(&self, pr: u64) -> Vec<Review> {
        self.state()
            .reviews
            .iter()
            .filter(|(p, _)| *p == pr)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Every status created, in order.
    pub fn statuses(&self) -> Vec<Status> {
        self.state()
            .statuses
            .iter()
            .map(|s| s.status.clone())
            .collect()
    }

    /// Queues `reply` for the next request whose method is `method` (case-insensitive; `"*"`
    /// for any) and whose path (as sent, query included) contains `path_contains`. Queued
    /// replies are served first-in first-out, each once, before authentication and routing,
    /// and change no state.
    pub fn fail_next(&self, method: &str, path_contains: &str, reply: Reply) {
        self.state().failures.push_back(Failure {
            method: method.into(),
            path_contains: path_contains.into(),
            reply,
        });
    }

    /// How many injected replies are still queued.
    pub fn pending_failures(&self) -> usize {
        self.state().failures.len()
    }

    /// Every request received so far, in arrival order (malformed ones excepted).
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// The requests with this method (case-insensitive; `"*"` for any) whose path contains
    /// `path_contains`.
    pub fn requests_to(&self, method: &str, path_contains: &str) -> Vec<Recorded> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| method_matches(method, &r.method) && r.path.contains(path_contains))
            .collect()
    }
}

/// Seconds since the epoch as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let rest = epoch_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The real clock as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    rfc3339(now_epoch())
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------------------
// State and routing

struct Token {
    login: String,
    integration: bool,
}

struct Failure {
    method: String,
    path_contains: String,
    reply: Reply,
}

struct StoredStatus {
    id: u64,
    status: Status,
    creator: String,
    created_at: String,
}

struct State {
    tokens: HashMap<String, Token>,
    anonymous_reads: bool,
    /// Lowercased `owner/repo`s; `None`: every repository exists.
    repos: Option<HashSet<String>>,
    pulls: HashMap<u64, Value>,
    /// (PR number, comment), in creation order.
    comments: Vec<(u64, Comment)>,
    next_comment_id: u64,
    reviews: Vec<(u64, Review)>,
    next_review_id: u64,
    statuses: Vec<StoredStatus>,
    next_status_id: u64,
    /// (org, team, login) lowercased → "active" | "pending".
    memberships: HashMap<(String, String, String), String>,
    unreadable_teams: HashSet<(String, String)>,
    known_shas: Option<HashSet<String>>,
    /// Commit SHA (lowercased) → the pull requests it belongs to.
    commit_pulls: HashMap<String, Vec<Value>>,
    associations: HashMap<String, String>,
    /// In creation order.
    issues: Vec<Issue>,
    issues_disabled: bool,
    failures: VecDeque<Failure>,
    /// `127.0.0.1:PORT`, for requests without a `Host` header.
    host: String,
}

enum Caller {
    Anonymous,
    Token { login: String, integration: bool },
}

impl Caller {
    fn login(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Token { login, .. } => Some(login),
        }
    }
}

/// What a route needs besides its path parameters.
struct Context<'a> {
    request: &'a Recorded,
    /// `http://HOST` plus any `/api/v3` prefix the request used.
    base: String,
    /// The path without the prefix and the query.
    path: &'a str,
    query: &'a str,
    caller: Caller,
}

impl State {
    fn new() -> State {
        State {
            tokens: HashMap::new(),
            anonymous_reads: false,
            repos: None,
            pulls: HashMap::new(),
            comments: Vec::new(),
            next_comment_id: FIRST_COMMENT_ID,
            reviews: Vec::new(),
            next_review_id: FIRST_REVIEW_ID,
            statuses: Vec::new(),
            next_status_id: FIRST_STATUS_ID,
            memberships: HashMap::new(),
            unreadable_teams: HashSet::new(),
            known_shas: None,
            commit_pulls: HashMap::new(),
            associations: HashMap::new(),
            issues: Vec::new(),
            issues_disabled: false,
            failures: VecDeque::new(),
            host: String::new(),
        }
    }

    fn insert_comment(&mut self, pr: u64, login: &str, body: &str, created_at: &str) -> u64 {
        let id = self.next_comment_id;
        self.next_comment_id += 1;
        self.comments.push((
            pr,
            Comment {
                id,
                login: login.into(),
                body: body.into(),
                created_at: created_at.into(),
                updated_at: created_at.into(),
            },
        ));
        id
    }

    fn insert_issue(&mut self, login: &str, title: &str, body: Option<&str>, pull: bool) -> u64 {
        let number = self
            .issues
            .iter()
            .map(|i| i.number)
            .chain(self.pulls.keys().copied())
            .max()
            .unwrap_or(0)
            + 1;
        let now = now_rfc3339();
        self.issues.push(Issue {
            number,
            login: login.into(),
            title: title.into(),
            body: body.map(str::to_string),
            state: "open".into(),
            pull,
            created_at: now.clone(),
            updated_at: now,
        });
        number
    }

    /// Answers `request` (the server has recorded it).
    fn handle(&mut self, request: &Recorded) -> Reply {
        if let Some(index) = self.failures.iter().position(|f| {
            method_matches(&f.method, &request.method) && request.path.contains(&f.path_contains)
        }) {
            if let Some(failure) = self.failures.remove(index) {
                return failure.reply;
            }
        }
        if request
            .header("user-agent")
            .is_none_or(|v| v.trim().is_empty())
        {
            return Reply::message(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a \
                 User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
                 Check https://developer.github.com for other possible causes.",
                DOCS,
            );
        }
        let (full_path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        if !full_path.starts_with('/') {
            return Reply::bad_request("the request target must start with /");
        }
        let (prefix, path) = match full_path.strip_prefix("/api/v3") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => ("/api/v3", rest),
            _ => ("", full_path),
        };
        let caller = match self.authenticate(request) {
            Ok(caller) => caller,
            Err(reply) => return reply,
        };
        let host = request.header("host").unwrap_or(&self.host);
        let context = Context {
            request,
            base: format!("http://{host}{prefix}"),
            path,
            query,
            caller,
        };
        self.route(&context)
            .with_header("x-github-api-version-selected", "2022-11-28")
            .with_header("x-github-media-type", "github.v3; format=json")
    }

    fn authenticate(&self, request: &Recorded) -> Result<Caller, Reply> {
        let Some(value) = request.header("authorization") else {
            return if self.anonymous_reads && request.method == "GET" {
                Ok(Caller::Anonymous)
            } else {
                Err(Reply::requires_authentication())
            };
        };
        let (scheme, token) = value.trim().split_once(' ').unwrap_or(("", ""));
        if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) {
            return Err(Reply::bad_credentials());
        }
        match self.tokens.get(token.trim()) {
            Some(t) => Ok(Caller::Token {
                login: t.login.clone(),
                integration: t.integration,
            }),
            None => Err(Reply::bad_credentials()),
        }
    }

    fn route(&mut self, cx: &Context) -> Reply {
        let segments: Vec<String> = cx
            .path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if let ["repos", owner, repo, ..] = segments.as_slice() {
            if let Some(repos) = &self.repos {
                if !repos.contains(&format!("{owner}/{repo}").to_ascii_lowercase()) {
                    return Reply::not_found();
                }
            }
        }
        match (cx.request.method.as_str(), segments.as_slice()) {
            ("GET", ["user"]) => self.get_user(cx),
            ("GET", ["repos", _, _, "pulls", n]) => match n.parse::<u64>() {
                Ok(n) => self
                    .pulls
                    .get(&n)
                    .map_or_else(Reply::not_found, |pull| json_reply(200, pull.clone())),
                Err(_) => Reply::not_found(),
            },
            ("GET", ["repos", _, _, "commits", sha, "pulls"]) => {
                let pulls = self.commit_pulls.get(&sha.to_ascii_lowercase());
                paginate(cx, pulls.cloned().unwrap_or_default())
            }
            ("GET", ["repos", owner, repo, "pulls", n, "reviews"]) => match n.parse() {
                Ok(n) => self.list_reviews(cx, owner, repo, n),
                Err(_) => Reply::not_found(),
            },
            (_, ["repos", _, _, "issues"] | ["repos", _, _, "issues", _])
                if self.issues_disabled =>
            {
                Reply::message(410, "Issues are disabled for this repo", DOCS)
            }
            ("GET", ["repos", owner, repo, "issues"]) => self.list_issues(cx, owner, repo),
            ("POST", ["repos", owner, repo, "issues"]) => self.create_issue(cx, owner, repo),
            ("GET", ["repos", owner, repo, "issues", n]) => match n.parse::<u64>() {
                Ok(n) => match self.issues.iter().find(|i| i.number == n) {
                    Some(issue) => json_reply(200, self.issue_json(issue, &cx.base, owner, repo)),
                    None => Reply::not_found(),
                },
                Err(_) => Reply::not_found(),
            },
            ("PATCH", ["repos", owner, repo, "issues", n]) => match n.parse() {
                Ok(n) => self.update_issue(cx, owner, repo, n),
                Err(_) => Reply::not_found(),
            },
            ("GET", ["repos", owner, repo, "issues", n, "comments"]) => match n.parse() {
                Ok(n) => self.list_comments(cx, owner, repo, n),
                Err(_) => Reply::not_found(),
            },
            ("POST", ["repos", owner, repo, "issues", n, "comments"]) => match n.parse() {
                Ok(n) => self.create_comment(cx, owner, repo, n),
                Err(_) => Reply::not_found(),
            },
            ("GET", ["repos", owner, repo, "issues", "comments", id]) => match id.parse() {
                Ok(id) => self.get_comment(cx, owner, repo, id),
                Err(_) => Reply::not_found(),
            },
            ("PATCH", ["repos", owner, repo, "issues", "comments", id]) => match id.parse() {
                Ok(id) => self.update_comment(cx, owner, repo, id),
                Err(_) => Reply::not_found(),
            },
            ("DELETE", ["repos", _, _, "issues", "comments", id]) => match id.parse() {
                Ok(id) => self.delete_comment(cx, id),
                Err(_) => Reply::not_found(),
            },
            ("POST", ["repos", owner, repo, "statuses", sha]) if !sha.is_empty() => {
                self.create_status(cx, owner, repo, sha)
            }
            ("GET", ["orgs", org, "teams", team, "memberships", login]) => {
                self.get_membership(cx, org, team, login)
            }
            _ => Reply::not_found(),
        }
    }

    fn get_user(&self, cx: &Context) -> Reply {
        match &cx.caller {
            Caller::Anonymous => Reply::requires_authentication(),
            Caller::Token {
                integration: true, ..
            } => Reply::message(
                403,
                "Resource not accessible by integration",
                "https://docs.github.com/rest/users/users#get-the-authenticated-user",
            ),
            Caller::Token { login, .. } => {
                let mut user = self.user_json(login, &cx.base);
                user["name"] = Value::Null;
                json_reply(200, user)
            }
        }
    }

    fn list_comments(&self, cx: &Context, owner: &str, repo: &str, pr: u64) -> Reply {
        let since = query_param(cx.query, "since").map(percent_decode);
        let items: Vec<Value> = self
            .comments
            .iter()
            .filter(|(p, c)| *p == pr && since.as_ref().is_none_or(|s| c.updated_at >= *s))
            .map(|(_, c)| self.comment_json(c, pr, &cx.base, owner, repo))
            .collect();
        paginate(cx, items)
    }

    fn list_reviews(&self, cx: &Context, owner: &str, repo: &str, pr: u64) -> Reply {
        let items: Vec<Value> = self
            .reviews
            .iter()
            .filter(|(p, _)| *p == pr)
            .map(|(_, r)| self.review_json(r, pr, &cx.base, owner, repo))
            .collect();
        paginate(cx, items)
    }

    /// `state` (`open` by default, `closed`, `all`) and `direction` (`desc` by default: newest
    /// first, as GitHub sorts by creation), paginated.
    fn list_issues(&self, cx: &Context, owner: &str, repo: &str) -> Reply {
        let state = query_param(cx.query, "state").unwrap_or("open");
        if !["open", "closed", "all"].contains(&state) {
            return Reply::validation_failed(json!([{
                "resource": "Issue", "code": "invalid", "field": "state",
            }]));
        }
        let mut items: Vec<Value> = self
            .issues
            .iter()
            .filter(|i| state == "all" || i.state == state)
            .map(|i| self.issue_json(i, &cx.base, owner, repo))
            .collect();
        if query_param(cx.query, "direction") != Some("asc") {
            items.reverse();
        }
        paginate(cx, items)
    }

    fn create_issue(&mut self, cx: &Context, owner: &str, repo: &str) -> Reply {
        let Some(login) = cx.caller.login().map(str::to_string) else {
            return Reply::requires_authentication();
        };
        let fields = match issue_fields(cx.request) {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let Some(title) = fields.title else {
            return Reply::validation_failed(json!([{
                "resource": "Issue", "code": "missing_field", "field": "title",
            }]));
        };
        let number = self.insert_issue(&login, &title, fields.body.flatten().as_deref(), false);
        let issue = self.issues.last().expect("just inserted");
        json_reply(201, self.issue_json(issue, &cx.base, owner, repo)).with_header(
            "location",
            &format!("{}/repos/{owner}/{repo}/issues/{number}", cx.base),
        )
    }

    /// Anyone with write access may edit any issue (unlike comments, no authorship check).
    fn update_issue(&mut self, cx: &Context, owner: &str, repo: &str, number: u64) -> Reply {
        if cx.caller.login().is_none() {
            return Reply::requires_authentication();
        }
        let Some(index) = self.issues.iter().position(|i| i.number == number) else {
            return Reply::not_found();
        };
        let fields = match issue_fields(cx.request) {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let issue = &mut self.issues[index];
        if let Some(title) = fields.title {
            issue.title = title;
        }
        if let Some(body) = fields.body {
            issue.body = body;
        }
        if let Some(state) = fields.state {
            issue.state = state;
        }
        issue.updated_at = now_rfc3339();
        let issue = issue.clone();
        json_reply(200, self.issue_json(&issue, &cx.base, owner, repo))
    }

    fn get_comment(&self, cx: &Context, owner: &str, repo: &str, id: u64) -> Reply {
        match self.comments.iter().find(|(_, c)| c.id == id) {
            Some((pr, c)) => json_reply(200, self.comment_json(c, *pr, &cx.base, owner, repo)),
            None => Reply::not_found(),
        }
    }

    fn create_comment(&mut self, cx: &Context, owner: &str, repo: &str, pr: u64) -> Reply {
        let Some(login) = cx.caller.login().map(str::to_string) else {
            return Reply::requires_authentication();
        };
        let body = match comment_body(cx.request) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let id = self.insert_comment(pr, &login, &body, &now_rfc3339());
        let (pr, comment) = self.comments.last().expect("just inserted");
        json_reply(201, self.comment_json(comment, *pr, &cx.base, owner, repo)).with_header(
            "location",
            &format!("{}/repos/{owner}/{repo}/issues/comments/{id}", cx.base),
        )
    }

    fn update_comment(&mut self, cx: &Context, owner: &str, repo: &str, id: u64) -> Reply {
        let Some(login) = cx.caller.login().map(str::to_string) else {
            return Reply::requires_authentication();
        };
        let Some(index) = self.comments.iter().position(|(_, c)| c.id == id) else {
            return Reply::not_found();
        };
        if !self.comments[index].1.login.eq_ignore_ascii_case(&login) {
            return Reply::forbidden_integration();
        }
        let body = match comment_body(cx.request) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let (pr, comment) = &mut self.comments[index];
        comment.body = body;
        comment.updated_at = now_rfc3339();
        let (pr, comment) = (*pr, comment.clone());
        json_reply(200, self.comment_json(&comment, pr, &cx.base, owner, repo))
    }

    fn delete_comment(&mut self, cx: &Context, id: u64) -> Reply {
        let Some(login) = cx.caller.login() else {
            return Reply::requires_authentication();
        };
        let Some(index) = self.comments.iter().position(|(_, c)| c.id == id) else {
            return Reply::not_found();
        };
        if !self.comments[index].1.login.eq_ignore_ascii_case(login) {
            return Reply::forbidden_integration();
        }
        self.comments.remove(index);
        Reply::empty(204)
    }

    fn create_status(&mut self, cx: &Context, owner: &str, repo: &str, sha: &str) -> Reply {
        let Some(creator) = cx.caller.login().map(str::to_string) else {
            return Reply::requires_authentication();
        };
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&cx.request.body) else {
            return Reply::problems_parsing_json();
        };
        if let Some(known) = &self.known_shas {
            if !known.contains(&sha.to_ascii_lowercase()) {
                return Reply::unprocessable(&format!("No commit found for SHA: {sha}"));
            }
        }
        let text = |name: &str| -> Result<Option<String>, Reply> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(Reply::unprocessable(&format!(
                    "Invalid request.\n\nFor 'properties/{name}', {other} is not a string or null."
                ))),
            }
        };
        let (state, description, target_url, context) = match (
            text("state"),
            text("description"),
            text("target_url"),
            text("context"),
        ) {
            (Ok(s), Ok(d), Ok(t), Ok(c)) => (s, d, t, c),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return e,
        };
        let Some(state) = state else {
            return Reply::unprocessable("Invalid request.\n\n\"state\" wasn't supplied.");
        };
        let mut errors = Vec::new();
        if !["error", "failure", "pending", "success"].contains(&state.as_str()) {
            errors.push(json!({
                "resource": "Status", "code": "custom", "field": "state",
                "message": "state is not included in the list",
            }));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            errors.push(json!({
                "resource": "Status", "code": "custom", "field": "description",
                "message": format!("description is too long (maximum is {MAX_DESCRIPTION} characters)"),
            }));
        }
        if !errors.is_empty() {
            return Reply::validation_failed(Value::Array(errors));
        }
        let id = self.next_status_id;
        self.next_status_id += 1;
        let created_at = now_rfc3339();
        let status = Status {
            sha: sha.into(),
            state,
            description: description.clone().unwrap_or_default(),
            target_url,
            context: context.unwrap_or_else(|| "default".into()),
        };
        let answer = json!({
            "url": format!("{}/repos/{owner}/{repo}/statuses/{sha}", cx.base),
            "avatar_url": Value::Null,
            "id": id,
            "node_id": format!("SC_kwDO{id}"),
            "state": status.state,
            "description": description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": created_at,
            "updated_at": created_at,
            "creator": self.user_json(&creator, &cx.base),
        });
        self.statuses.push(StoredStatus {
            id,
            status,
            creator,
            created_at,
        });
        json_reply(201, answer)
    }

    fn get_membership(&self, cx: &Context, org: &str, team: &str, login: &str) -> Reply {
        if matches!(cx.caller, Caller::Anonymous) {
            return Reply::requires_authentication();
        }
        let team_key = (org.to_ascii_lowercase(), team.to_ascii_lowercase());
        if self.unreadable_teams.contains(&team_key) {
            return Reply::forbidden_integration();
        }
        match self.memberships.get(&membership_key(org, team, login)) {
            Some(state) => json_reply(
                200,
                json!({
                    "url": format!("{}/organizations/1/team/{}/memberships/{login}", cx.base, fnv(team) % 1_000_000),
                    "role": "member",
                    "state": state,
                }),
            ),
            None => Reply::not_found(),
        }
    }

    fn is_bot(&self, login: &str) -> bool {
        login.ends_with("[bot]")
            || self
                .tokens
                .values()
                .any(|t| t.integration && t.login.eq_ignore_ascii_case(login))
    }

    fn user_json(&self, login: &str, base: &str) -> Value {
        let id = user_id(login);
        json!({
            "login": login,
            "id": id,
            "node_id": format!("U_kgDO{id}"),
            "url": format!("{base}/users/{login}"),
            "html_url": format!("https://github.com/{login}"),
            "type": if self.is_bot(login) { "Bot" } else { "User" },
            "site_admin": false,
        })
    }

    fn association(&self, login: &str) -> &str {
        self.associations
            .get(&login.to_ascii_lowercase())
            .map_or("NONE", String::as_str)
    }

    fn comment_json(&self, c: &Comment, pr: u64, base: &str, owner: &str, repo: &str) -> Value {
        json!({
            "id": c.id,
            "node_id": format!("IC_kwDO{}", c.id),
            "url": format!("{base}/repos/{owner}/{repo}/issues/comments/{}", c.id),
            "html_url": format!("https://github.com/{owner}/{repo}/pull/{pr}#issuecomment-{}", c.id),
            "issue_url": format!("{base}/repos/{owner}/{repo}/issues/{pr}"),
            "body": c.body,
            "user": self.user_json(&c.login, base),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": self.association(&c.login),
        })
    }

    fn issue_json(&self, i: &Issue, base: &str, owner: &str, repo: &str) -> Value {
        let kind = if i.pull { "pull" } else { "issues" };
        let mut issue = json!({
            "id": 2_000_000 + i.number,
            "node_id": format!("I_kwDO{}", i.number),
            "url": format!("{base}/repos/{owner}/{repo}/issues/{}", i.number),
            "repository_url": format!("{base}/repos/{owner}/{repo}"),
            "html_url": format!("https://github.com/{owner}/{repo}/{kind}/{}", i.number),
            "number": i.number,
            "state": i.state,
            "state_reason": Value::Null,
            "title": i.title,
            "body": i.body,
            "user": self.user_json(&i.login, base),
            "labels": [],
            "assignee": Value::Null,
            "assignees": [],
            "locked": false,
            "comments": 0,
            "created_at": i.created_at,
            "updated_at": i.updated_at,
            "closed_at": if i.state == "closed" { Value::from(i.updated_at.clone()) } else { Value::Null },
            "author_association": self.association(&i.login),
        });
        if i.pull {
            issue["pull_request"] = json!({
                "url": format!("{base}/repos/{owner}/{repo}/pulls/{}", i.number),
                "html_url": format!("https://github.com/{owner}/{repo}/pull/{}", i.number),
                "merged_at": Value::Null,
            });
        }
        issue
    }

    fn review_json(&self, r: &Review, pr: u64, base: &str, owner: &str, repo: &str) -> Value {
        let mut review = json!({
            "id": r.id,
            "node_id": format!("PRR_kwDO{}", r.id),
            "user": self.user_json(&r.login, base),
            "body": r.body,
            "state": r.state,
            "commit_id": r.commit_id,
            "submitted_at": r.submitted_at,
            "html_url": format!("https://github.com/{owner}/{repo}/pull/{pr}#pullrequestreview-{}", r.id),
            "pull_request_url": format!("{base}/repos/{owner}/{repo}/pulls/{pr}"),
            "author_association": self.association(&r.login),
        });
        if r.state == "PENDING" {
            if let Some(fields) = review.as_object_mut() {
                fields.remove("submitted_at");
            }
        }
        review
    }
}

/// The `body` of a comment create/update request, validated like GitHub.
fn comment_body(request: &Recorded) -> Result<String, Reply> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&request.body) else {
        return Err(Reply::problems_parsing_json());
    };
    match fields.get("body") {
        None | Some(Value::Null) => Err(Reply::unprocessable(
            "Invalid request.\n\n\"body\" wasn't supplied.",
        )),
        Some(Value::String(body)) if body.trim().is_empty() => {
            Err(Reply::validation_failed(json!([{
                "resource": "IssueComment", "code": "missing_field", "field": "body",
            }])))
        }
        Some(Value::String(body)) if body.chars().count() > MAX_COMMENT_BODY => {
            Err(Reply::validation_failed(json!([{
                "resource": "IssueComment", "code": "custom", "field": "body",
                "message": format!("body is too long (maximum is {MAX_COMMENT_BODY} characters)"),
            }])))
        }
        Some(Value::String(body)) => Ok(body.clone()),
        Some(other) => Err(Reply::unprocessable(&format!(
            "Invalid request.\n\nFor 'properties/body', {other} is not a string."
        ))),
    }
}

/// The fields of an issue create/update request, validated like GitHub; `body: Some(None)`
/// is an explicit `null`.
struct IssueFields {
    title: Option<String>,
    body: Option<Option<String>>,
    state: Option<String>,
}

fn issue_fields(request: &Recorded) -> Result<IssueFields, Reply> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&request.body) else {
        return Err(Reply::problems_parsing_json());
    };
    let invalid = |name: &str, value: &Value, what: &str| {
        Reply::unprocessable(&format!(
            "Invalid request.\n\nFor 'properties/{name}', {value} is not {what}."
        ))
    };
    let title = match fields.get("title") {
        None => None,
        Some(Value::String(title)) if title.trim().is_empty() => {
            return Err(Reply::validation_failed(json!([{
                "resource": "Issue", "code": "missing_field", "field": "title",
            }])))
        }
        Some(Value::String(title)) if title.chars().count() > MAX_ISSUE_TITLE => {
            return Err(Reply::validation_failed(json!([{
                "resource": "Issue", "code": "custom", "field": "title",
                "message": format!("title is too long (maximum is {MAX_ISSUE_TITLE} characters)"),
            }])))
        }
        Some(Value::String(title)) => Some(title.clone()),
        Some(other) => return Err(invalid("title", other, "a string or integer")),
    };
    let body = match fields.get("body") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(body)) if body.chars().count() > MAX_COMMENT_BODY => {
            return Err(Reply::validation_failed(json!([{
                "resource": "Issue", "code": "custom", "field": "body",
                "message": format!("body is too long (maximum is {MAX_COMMENT_BODY} characters)"),
            }])))
        }
        Some(Value::String(body)) => Some(Some(body.clone())),
        Some(other) => return Err(invalid("body", other, "a string or null")),
    };
    let state = match fields.get("state") {
        None => None,
        Some(Value::String(state)) if state == "open" || state == "closed" => Some(state.clone()),
        Some(other) => return Err(invalid("state", other, "one of open, closed")),
    };
    Ok(IssueFields { title, body, state })
}

/// One page of `items` per `per_page` (default 30, at most 100) and `page` (default 1), with
/// GitHub's `Link` header (prev, next, last, first) when there is more than one page.
fn paginate(cx: &Context, items: Vec<Value>) -> Reply {
    let per_page = query_param(cx.query, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(30, |n| n.min(100));
    let page = query_param(cx.query, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = start.saturating_add(per_page).min(items.len());
    let body: Vec<Value> = items[start..end].to_vec();
    let link_to = |n: usize| format!("<{}{}?{}>", cx.base, cx.path, with_page(cx.query, n));
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let reply = json_reply(200, Value::Array(body));
    if links.is_empty() {
        reply
    } else {
        reply.with_header("link", &links.join(", "))
    }
}

/// `query` with its `page` parameter set to `page` (replaced in place, else appended).
fn with_page(query: &str, page: usize) -> String {
    let mut replaced = false;
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.split('=').next() == Some("page") {
                replaced = true;
                format!("page={page}")
            } else {
                p.to_string()
            }
        })
        .collect();
    if !replaced {
        parts.push(format!("page={page}"));
    }
    parts.join("&")
}

fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn membership_key(org: &str, team: &str, login: &str) -> (String, String, String) {
    (
        org.to_ascii_lowercase(),
        team.to_ascii_lowercase(),
        login.to_ascii_lowercase(),
    )
}

fn method_matches(pattern: &str, method: &str) -> bool {
    pattern == "*" || pattern.eq_ignore_ascii_case(method)
}

/// A stable numeric id per login (GitHub Actions' bot keeps its real id).
fn user_id(login: &str) -> u64 {
    if login.eq_ignore_ascii_case("github-actions[bot]") {
        return 41_898_282;
    }
    1_000_000 + fnv(&login.to_ascii_lowercase()) % 90_000_000
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body).expect("JSON body")
        }
    }

    /// Parses every response in `raw` (a connection's whole output).
    fn parse_responses(raw: &str) -> Vec<Response> {
        let mut responses = Vec::new();
        let mut rest = raw;
        while let Some((head, after)) = rest.split_once("\r\n\r\n") {
            let mut lines = head.split("\r\n");
            let status: u16 = lines.next().expect("status line")[9..12]
                .parse()
                .expect("code");
            let headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l.split_once(':').expect("header");
                    (n.trim().to_ascii_lowercase(), v.trim().to_string())
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse().expect("length"));
            responses.push(Response {
                status,
                headers,
                body: after[..length].to_string(),
            });
            rest = &after[length..];
        }
        responses
    }

    /// Sends `raw` on a fresh connection and reads until the server closes it.
    fn exchange(gh: &GitHub, raw: &str) -> Vec<Response> {
        let mut stream = TcpStream::connect(gh.server.addr()).expect("connect");
        stream.write_all(raw.as_bytes()).expect("send");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("read");
        parse_responses(&out)
    }

    fn call(
        gh: &GitHub,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Response {
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: test\r\nConnection: close\r\n",
            gh.server.addr()
        );
        if let Some(token) = token {
            raw.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if let Some(body) = body {
            raw.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        raw.push_str("\r\n");
        raw.push_str(body.unwrap_or(""));
        exchange(gh, &raw).pop().expect("a response")
    }

    fn get(gh: &GitHub, path: &str) -> Response {
        call(gh, "GET", path, Some("tok"), None)
    }

    fn ids(response: &Response) -> Vec<u64> {
        response
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|c| c["id"].as_u64().expect("id"))
            .collect()
    }

    #[test]
    fn paginates_250_comments_with_githubs_link_headers() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        for i in 0..250 {
            gh.add_comment(7, "bob", &format!("c{i}"), "2026-11-20T10:00:00Z");
        }
        gh.add_comment(8, "bob", "elsewhere", "2026-11-20T10:00:00Z");
        let base = format!("{}/repos/o/r/issues/7/comments", gh.url());
        let page = |n: usize| format!("<{base}?per_page=100&page={n}>");

        let first = get(&gh, "/repos/o/r/issues/7/comments?per_page=100");
        assert_eq!(first.status, 200);
        assert_eq!(first.header("content-type"), Some(JSON));
        assert_eq!(ids(&first), (1000..1100).collect::<Vec<_>>());
        assert_eq!(
            first.header("link"),
            Some(format!(r#"{}; rel="next", {}; rel="last""#, page(2), page(3)).as_str())
        );
        let comment = &first.json()[0];
        assert_eq!(comment["body"], "c0");
        assert_eq!(comment["user"]["login"], "bob");
        assert_eq!(comment["user"]["type"], "User");
        assert_eq!(comment["created_at"], "2026-11-20T10:00:00Z");
        assert_eq!(comment["author_association"], "NONE");

        let second = get(&gh, "/repos/o/r/issues/7/comments?per_page=100&page=2");
        assert_eq!(ids(&second), (1100..1200).collect::<Vec<_>>());
        assert_eq!(
            second.header("link"),
            Some(
                format!(
                    r#"{}; rel="prev", {}; rel="next", {}; rel="last", {}; rel="first""#,
                    page(1),
                    page(3),
                    page(3),
                    page(1)
                )
                .as_str()
            )
        );

        let third = get(&gh, "/repos/o/r/issues/7/comments?per_page=100&page=3");
        assert_eq!(ids(&third), (1200..1250).collect::<Vec<_>>());
        assert_eq!(
            third.header("link"),
            Some(format!(r#"{}; rel="prev", {}; rel="first""#, page(2), page(1)).as_str())
        );

        // Defaults: 30 per page; the Enterprise prefix is kept in the links.
        let default = get(&gh, "/api/v3/repos/o/r/issues/7/comments");
        assert_eq!(ids(&default).len(), 30);
        let link = default.header("link").expect("link");
        assert!(
            link.starts_with(&format!(
                "<{}/api/v3/repos/o/r/issues/7/comments?page=2>; rel=\"next\", ",
                gh.url()
            )),
            "{link}"
        );
        assert!(link.ends_with("?page=9>; rel=\"last\""), "{link}");
        assert_eq!(
            default.json()[0]["url"],
            format!("{}/api/v3/repos/o/r/issues/comments/1000", gh.url())
        );

        let single = get(&gh, "/repos/o/r/issues/8/comments?per_page=100");
        assert_eq!(ids(&single), vec![1250]);
        assert_eq!(single.header("link"), None);
        assert_eq!(get(&gh, "/repos/o/r/issues/9/comments").json(), json!([]));
    }

    #[test]
    fn reviews_paginate_too() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.set_author_association("carol", "MEMBER");
        let id = gh.add_review(7, "carol", "APPROVED", "abc123", "2026-11-20T11:00:00Z");
        gh.add_review(7, "dave", "PENDING", "abc123", "");
        let reviews = get(&gh, "/repos/o/r/pulls/7/reviews?per_page=1");
        assert_eq!(reviews.status, 200);
        let review = &reviews.json()[0];
        assert_eq!(review["id"], id);
        assert_eq!(review["state"], "APPROVED");
        assert_eq!(review["commit_id"], "abc123");
        assert_eq!(review["user"]["login"], "carol");
        assert_eq!(review["author_association"], "MEMBER");
        assert!(reviews
            .header("link")
            .expect("link")
            .contains("per_page=1&page=2>; rel=\"next\""));
        let pending = get(&gh, "/repos/o/r/pulls/7/reviews?per_page=1&page=2").json();
        assert!(pending[0].get("submitted_at").is_none());
        assert_eq!(gh.reviews(7).len(), 2);
    }

    #[test]
    fn authentication() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.add_integration_token("ghs_x", "github-actions[bot]");

        let user = get(&gh, "/user");
        assert_eq!(user.status, 200);
        assert_eq!(user.json()["login"], "alice");
        assert_eq!(user.json()["type"], "User");
        let user = call(&gh, "GET", "/api/v3/user", Some("tok"), None);
        assert_eq!(user.json()["login"], "alice");
        let raw = format!(
            "GET /user HTTP/1.1\r\nHost: {}\r\nUser-Agent: t\r\nAuthorization: token tok\r\nConnection: close\r\n\r\n",
            gh.server.addr()
        );
        assert_eq!(exchange(&gh, &raw)[0].status, 200);

        let bad = call(&gh, "GET", "/user", Some("nope"), None);
        assert_eq!(bad.status, 401);
        assert_eq!(bad.json()["message"], "Bad credentials");
        let none = call(&gh, "GET", "/repos/o/r/pulls/1", None, None);
        assert_eq!(none.status, 401);

        let bot = call(&gh, "GET", "/user", Some("ghs_x"), None);
        assert_eq!(bot.status, 403);
        assert_eq!(
            bot.json()["message"],
            "Resource not accessible by integration"
        );

        let raw = format!(
            "GET /user HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer tok\r\nConnection: close\r\n\r\n",
            gh.server.addr()
        );
        let no_agent = &exchange(&gh, &raw)[0];
        assert_eq!(no_agent.status, 403);
        assert!(no_agent.json()["message"]
            .as_str()
            .expect("message")
            .contains("User-Agent"));

        gh.allow_anonymous_reads();
        assert_eq!(
            call(&gh, "GET", "/repos/o/r/issues/1/comments", None, None).status,
            200
        );
        let anonymous_user = call(&gh, "GET", "/user", None, None);
        assert_eq!(anonymous_user.status, 401);
        assert_eq!(anonymous_user.json()["message"], "Requires authentication");
        let anonymous_post = call(
            &gh,
            "POST",
            "/repos/o/r/issues/1/comments",
            None,
            Some(r#"{"body":"x"}"#),
        );
        assert_eq!(anonymous_post.status, 401);
        assert!(gh.comments(1).is_empty());
        assert_eq!(gh.requests().len(), 10);
    }

    #[test]
    fn create_patch_delete_comments() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.add_integration_token("ghs_x", "github-actions[bot]");
        let bobs = gh.add_comment(7, "bob", "hi", "2026-11-20T10:00:00Z");

        let created = call(
            &gh,
            "POST",
            "/repos/o/r/issues/7/comments",
            Some("ghs_x"),
            Some(r#"{"body":"gate: ok"}"#),
        );
        assert_eq!(created.status, 201);
        let comment = created.json();
        assert_eq!(comment["id"], bobs + 1);
        assert_eq!(comment["body"], "gate: ok");
        assert_eq!(comment["user"]["login"], "github-actions[bot]");
        assert_eq!(comment["user"]["type"], "Bot");
        assert_eq!(comment["user"]["id"], 41_898_282);
        let created_at = comment["created_at"].as_str().expect("created_at");
        assert_eq!(created_at.len(), 20, "{created_at}");
        assert!(created_at.starts_with("20") && created_at.ends_with('Z'));
        let id = bobs + 1;

        let missing = call(
            &gh,
            "POST",
            "/repos/o/r/issues/7/comments",
            Some("tok"),
            Some("{}"),
        );
        assert_eq!(missing.status, 422);
        let garbage = call(
            &gh,
            "POST",
            "/repos/o/r/issues/7/comments",
            Some("tok"),
            Some("{"),
        );
        assert_eq!(garbage.status, 400);

        let path = |id: u64| format!("/repos/o/r/issues/comments/{id}");
        let not_mine = call(
            &gh,
            "PATCH",
            &path(bobs),
            Some("ghs_x"),
            Some(r#"{"body":"x"}"#),
        );
        assert_eq!(not_mine.status, 403);
        assert_eq!(
            not_mine.json()["message"],
            "Resource not accessible by integration"
        );
        let patched = call(
            &gh,
            "PATCH",
            &path(id),
            Some("ghs_x"),
            Some(r#"{"body":"gate: fail"}"#),
        );
        assert_eq!(patched.status, 200);
        assert_eq!(patched.json()["body"], "gate: fail");
        assert_eq!(
            call(
                &gh,
                "PATCH",
                &path(99),
                Some("tok"),
                Some(r#"{"body":"x"}"#)
            )
            .status,
            404
        );
        assert_eq!(
            gh.comments(7)
                .iter()
                .map(|c| (c.login.as_str(), c.body.as_str()))
                .collect::<Vec<_>>(),
            vec![("bob", "hi"), ("github-actions[bot]", "gate: fail")]
        );

        assert_eq!(
            call(&gh, "DELETE", &path(bobs), Some("tok"), None).status,
            403
        );
        let deleted = call(&gh, "DELETE", &path(id), Some("ghs_x"), None);
        assert_eq!(deleted.status, 204);
        assert!(deleted.body.is_empty());
        assert_eq!(
            call(&gh, "DELETE", &path(id), Some("ghs_x"), None).status,
            404
        );
        assert_eq!(gh.comments(7).len(), 1);
        assert_eq!(gh.requests_to("patch", "/issues/comments/").len(), 3);
        assert_eq!(
            gh.requests_to("POST", "/comments")[0].json()["body"],
            "gate: ok"
        );
    }

    #[test]
    fn issues_list_open_by_default_newest_first_and_edit_in_place() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.set_pull(7, json!({"number": 7}));
        let numbers = |r: &Response| -> Vec<u64> {
            r.json()
                .as_array()
                .expect("array")
                .iter()
                .map(|i| i["number"].as_u64().expect("number"))
                .collect()
        };
        let first = gh.add_issue("bob", "first", "one");
        assert_eq!(first, 8, "numbers follow the pull requests");
        let pull = gh.add_pull_issue("carol", "a change", "two");
        for i in 0..120 {
            gh.add_issue("bob", &format!("filler {i}"), "");
        }
        gh.close_issue(first);

        let page1 = get(&gh, "/repos/o/r/issues?per_page=100");
        assert_eq!(page1.status, 200);
        assert_eq!(numbers(&page1).len(), 100);
        assert_eq!(numbers(&page1)[0], pull + 120, "newest first");
        assert!(page1.header("link").expect("link").contains("rel=\"next\""));
        let page2 = get(&gh, "/repos/o/r/issues?per_page=100&page=2");
        assert_eq!(
            numbers(&page2),
            (pull..=pull + 20).rev().collect::<Vec<_>>()
        );
        assert!(page2.json()[20]["pull_request"].is_object());
        assert!(page2.json()[19].get("pull_request").is_none());
        let all = get(&gh, "/repos/o/r/issues?state=all&per_page=100&page=2");
        assert_eq!(numbers(&all).last(), Some(&first));
        assert_eq!(
            get(&gh, "/repos/o/r/issues?state=closed").json()[0]["state"],
            "closed"
        );
        assert_eq!(get(&gh, "/repos/o/r/issues?state=nope").status, 422);

        let created = call(
            &gh,
            "POST",
            "/repos/o/r/issues",
            Some("tok"),
            Some(r#"{"title":"Eval review","body":"hi"}"#),
        );
        assert_eq!(created.status, 201);
        let number = created.json()["number"].as_u64().expect("number");
        assert_eq!(number, pull + 121);
        assert_eq!(created.json()["user"]["login"], "alice");
        assert_eq!(
            created.json()["html_url"],
            format!("https://github.com/o/r/issues/{number}")
        );
        let path = format!("/repos/o/r/issues/{number}");
        let untitled = call(
            &gh,
            "POST",
            "/repos/o/r/issues",
            Some("tok"),
            Some(r#"{"body":"x"}"#),
        );
        assert_eq!(untitled.status, 422);
        assert_eq!(
            call(
                &gh,
                "POST",
                "/repos/o/r/issues",
                None,
                Some(r#"{"title":"x"}"#)
            )
            .status,
            401
        );
        let patched = call(
            &gh,
            "PATCH",
            &path,
            Some("tok"),
            Some(r#"{"body":"edited"}"#),
        );
        assert_eq!(patched.status, 200);
        assert_eq!(
            (
                patched.json()["title"].clone(),
                patched.json()["body"].clone()
            ),
            (json!("Eval review"), json!("edited"))
        );
        assert_eq!(
            call(
                &gh,
                "PATCH",
                "/repos/o/r/issues/999",
                Some("tok"),
                Some("{}")
            )
            .status,
            404
        );
        assert_eq!(
            call(&gh, "PATCH", &path, Some("tok"), Some(r#"{"title":""}"#)).status,
            422
        );
        assert_eq!(get(&gh, &path).json()["body"], "edited");
        assert_eq!(gh.issues().len(), 123);

        gh.disable_issues();
        let gone = get(&gh, "/repos/o/r/issues");
        assert_eq!(gone.status, 410);
        assert_eq!(gone.json()["message"], "Issues are disabled for this repo");
        assert_eq!(get(&gh, "/repos/o/r/issues/7/comments").status, 200);
    }

    #[test]
    fn injected_failures_are_served_once_and_change_nothing() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.fail_next("POST", "/issues/7/comments", Reply::server_error(502));
        gh.fail_next("GET", "/pulls/", Reply::rate_limited(1_900_000_000));
        gh.fail_next("*", "/pulls/", Reply::secondary_rate_limit());
        gh.set_pull(7, json!({"number": 7, "head": {"sha": "abc"}}));

        let post = || {
            call(
                &gh,
                "POST",
                "/repos/o/r/issues/7/comments",
                Some("tok"),
                Some(r#"{"body":"x"}"#),
            )
        };
        assert_eq!(post().status, 502);
        assert!(gh.comments(7).is_empty());
        assert_eq!(post().status, 201);
        assert_eq!(gh.comments(7).len(), 1);

        let limited = get(&gh, "/repos/o/r/pulls/7");
        assert_eq!(limited.status, 403);
        assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(limited.header("x-ratelimit-reset"), Some("1900000000"));
        assert_eq!(limited.header("retry-after"), Some("0"));
        assert_eq!(
            limited.json()["message"],
            "API rate limit exceeded for installation ID 1."
        );
        let secondary = get(&gh, "/repos/o/r/pulls/7");
        assert_eq!(secondary.status, 403);
        assert!(secondary.json()["message"]
            .as_str()
            .expect("message")
            .contains("secondary rate limit"));
        assert_eq!(gh.pending_failures(), 0);
        let pull = get(&gh, "/repos/o/r/pulls/7");
        assert_eq!(pull.status, 200);
        assert_eq!(pull.json()["head"]["sha"], "abc");
        assert_eq!(get(&gh, "/repos/o/r/pulls/8").status, 404);

        gh.restrict_repos(&["O/R"]);
        assert_eq!(get(&gh, "/repos/o/r/pulls/7").status, 200);
        assert_eq!(get(&gh, "/repos/o/other/pulls/7").status, 404);
        assert_eq!(get(&gh, "/nothing/here").json()["message"], "Not Found");
    }

    #[test]
    fn statuses_are_validated_like_github() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        let post = |sha: &str, body: Value| {
            call(
                &gh,
                "POST",
                &format!("/repos/o/r/statuses/{sha}"),
                Some("tok"),
                Some(&body.to_string()),
            )
        };
        let long = post(
            "abc",
            json!({"state": "success", "description": "x".repeat(141)}),
        );
        assert_eq!(long.status, 422);
        assert_eq!(long.json()["message"], "Validation Failed");
        assert_eq!(long.json()["errors"][0]["field"], "description");
        assert_eq!(post("abc", json!({"state": "passed"})).status, 422);
        assert_eq!(post("abc", json!({"description": "no state"})).status, 422);
        assert!(gh.statuses().is_empty());

        let ok = post(
            "abc",
            json!({"state": "success", "description": "é".repeat(140), "target_url": "https://ci/1", "context": "promptgate"}),
        );
        assert_eq!(ok.status, 201);
        assert_eq!(ok.json()["creator"]["login"], "alice");
        assert_eq!(ok.json()["context"], "promptgate");
        assert_eq!(
            post("abc", json!({"state": "pending"})).json()["context"],
            "default"
        );
        assert_eq!(
            gh.statuses(),
            vec![
                Status {
                    sha: "abc".into(),
                    state: "success".into(),
                    description: "é".repeat(140),
                    target_url: Some("https://ci/1".into()),
                    context: "promptgate".into(),
                },
                Status {
                    sha: "abc".into(),
                    state: "pending".into(),
                    description: String::new(),
                    target_url: None,
                    context: "default".into(),
                },
            ]
        );

        gh.set_known_shas(&["abc"]);
        let unknown = post("def", json!({"state": "success"}));
        assert_eq!(unknown.status, 422);
        assert_eq!(unknown.json()["message"], "No commit found for SHA: def");
        assert_eq!(post("abc", json!({"state": "failure"})).status, 201);
    }

    #[test]
    fn pulls_of_a_commit() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        let pull = json!({"number": 9, "title": "Friendlier tone", "merge_commit_sha": "abc"});
        gh.set_commit_pulls("ABC", vec![pull.clone()]);
        let listed = get(&gh, "/repos/o/r/commits/abc/pulls");
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json(), json!([pull]));
        let other = get(&gh, "/repos/o/r/commits/def/pulls");
        assert_eq!((other.status, other.json()), (200, json!([])));
        assert_eq!(gh.requests_to("GET", "/commits/").len(), 2);
    }

    #[test]
    fn team_memberships() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        gh.set_membership("acme", "prompt-owners", "Carol", "active");
        gh.set_membership("acme", "prompt-owners", "dave", "pending");
        let path = |team: &str, login: &str| format!("/orgs/acme/teams/{team}/memberships/{login}");
        let active = get(&gh, &path("prompt-owners", "carol"));
        assert_eq!(active.status, 200);
        assert_eq!(active.json()["state"], "active");
        assert_eq!(active.json()["role"], "member");
        assert_eq!(
            get(&gh, &path("prompt-owners", "dave")).json()["state"],
            "pending"
        );
        assert_eq!(get(&gh, &path("prompt-owners", "erin")).status, 404);
        gh.set_team_unreadable("acme", "prompt-owners");
        let unreadable = get(&gh, &path("prompt-owners", "carol"));
        assert_eq!(unreadable.status, 403);
        assert_eq!(
            unreadable.json()["message"],
            "Resource not accessible by integration"
        );
    }

    #[test]
    fn wire_details() {
        let gh = GitHub::start();
        gh.add_token("tok", "alice");
        let head = format!(
            "Host: {}\r\nUser-Agent: t\r\nAuthorization: Bearer tok\r\n",
            gh.server.addr()
        );
        // Keep-alive: two requests on one connection, the second chunked with Expect.
        let raw = format!(
            "GET /user HTTP/1.1\r\n{head}\r\n\
             POST /repos/o/r/issues/3/comments HTTP/1.1\r\n{head}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
             7\r\n{{\"body\"\r\n8\r\n:\"hey\"}}\r\n0\r\n\r\n\
             GET /user HTTP/1.1\r\n{head}Connection: close\r\n\r\n"
        );
        let responses = exchange(&gh, &raw);
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![200, 100, 201, 200]);
        assert_eq!(gh.comments(3)[0].body, "hey");

        for garbage in [
            "NONSENSE\r\n\r\n",
            "GET /user HTTP/1.1\r\nno colon\r\n\r\n",
            "GET /user HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        ] {
            let responses = exchange(&gh, garbage);
            assert_eq!(responses.len(), 1, "{garbage:?}");
            assert_eq!(responses[0].status, 400, "{garbage:?}");
        }
        // The server is still up.
        assert_eq!(get(&gh, "/user").status, 200);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_795_176_000), "2026-11-20T12:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
