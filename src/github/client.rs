//! The GitHub REST client: one authenticated request at a time with GitHub's headers,
//! retries for what is worth retrying (5xx, rate limits, dropped connections), every page
//! of a list followed through `Link` headers, and failures turned into errors that say
//! which token permission or workflow setting fixes them. The token is never printed.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::payload::{ErrorPayload, Loose, Object};

/// GitHub's API root when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version promptgate is written against.
const API_VERSION: &str = "2022-11-28";
/// Attempts per request, the first included.
const ATTEMPTS: u32 = 3;
/// The longest promptgate waits for a rate limit to reset before giving up.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A list longer than this many pages is cut (10,000 comments at 100 per page).
const MAX_PAGES: usize = 100;

/// What a request was for, so a failure can name the fix.
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    /// What promptgate was doing, e.g. "write the verdict comment".
    pub action: &'static str,
    /// The workflow `permissions:` entry the request needs, e.g. "pull-requests: write".
    pub permission: &'static str,
}

/// A request to GitHub that failed for good.
#[derive(Debug, Clone, thiserror::Error)]
#[error("GitHub: cannot {action}: {problem}\n  help: {fix}")]
pub struct GithubError {
    pub action: &'static str,
    /// The HTTP status, when GitHub answered.
    pub status: Option<u16>,
    /// What went wrong, with GitHub's message.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl From<GithubError> for crate::error::Error {
    fn from(error: GithubError) -> Self {
        crate::error::Error::GitHub(Box::new(error))
    }
}

/// One answer from GitHub.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// An authenticated client for one API root (github.com or a GitHub Enterprise Server).
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    token: Option<String>,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// A client for `api_url` (e.g. `https://ghe.example.com/api/v3`); without a token only
    /// public data can be read.
    pub fn new(api_url: &str, token: Option<String>) -> Result<Client, GithubError> {
        crate::util::http::install_crypto_provider();
        let setup = |problem: String| GithubError {
            action: "start the GitHub client",
            status: None,
            problem,
            fix: "this is a bug in promptgate's setup; please report it".into(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("promptgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Client {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
            runtime,
        })
    }

    /// GET one resource, read as `T` (its default when the answer is not an object).
    pub fn get<T: DeserializeOwned + Default>(
        &self,
        path: &str,
        purpose: Purpose,
    ) -> Result<T, GithubError> {
        let answer = self.request(Method::GET, &self.url(path), None, purpose)?;
        read(&answer, purpose)
    }

    /// GET every page of a list (100 per page), following `Link: rel="next"`; an item that
    /// is not a `T` is skipped.
    pub fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        purpose: Purpose,
    ) -> Result<Vec<T>, GithubError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(self.url(&format!("{path}{separator}per_page=100")));
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            let answer = self.request(Method::GET, &url, None, purpose)?;
            let page: Loose<Vec<Object<T>>> = parse(&answer, purpose)?;
            match page.into_inner() {
                Some(page) => items.extend(page.into_iter().filter_map(Object::into_inner)),
                None => return Err(unexpected(purpose, &answer)),
            }
            pages += 1;
            next = next_link(&answer.headers).filter(|n| self.same_origin(n));
            if pages >= MAX_PAGES {
                break;
            }
        }
        Ok(items)
    }

    /// POST a JSON body; GitHub's answer, read as `T`.
    pub fn post<T: DeserializeOwned + Default>(
        &self,
        path: &str,
        body: &impl Serialize,
        purpose: Purpose,
    ) -> Result<T, GithubError> {
        self.send_json(Method::POST, path, body, purpose)
    }

    /// PATCH a JSON body; GitHub's answer, read as `T`.
    pub fn patch<T: DeserializeOwned + Default>(
        &self,
        path: &str,
        body: &impl Serialize,
        purpose: Purpose,
    ) -> Result<T, GithubError> {
        self.send_json(Method::PATCH, path, body, purpose)
    }

    /// Sends a JSON body with `method`; GitHub's answer, read as `T`.
    fn send_json<T: DeserializeOwned + Default>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        purpose: Purpose,
    ) -> Result<T, GithubError> {
        let body = to_json(body, purpose)?;
        let answer = self.request(method, &self.url(path), Some(&body), purpose)?;
        read(&answer, purpose)
    }

    pub fn delete(&self, path: &str, purpose: Purpose) -> Result<(), GithubError> {
        self.request(Method::DELETE, &self.url(path), None, purpose)
            .map(|_| ())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    /// Whether `url` is on the API root's server: the token is never sent anywhere else.
    fn same_origin(&self, url: &str) -> bool {
        origin(url).is_some() && origin(url) == origin(&self.api_url)
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        purpose: Purpose,
    ) -> Result<Answer, GithubError> {
        let mut attempt = 1;
        loop {
            let failure = match self.runtime.block_on(self.send(method.clone(), url, body)) {
                Ok(answer) if (200..300).contains(&answer.status) => return Ok(answer),
                Ok(answer) => refusal(&answer, purpose, self.token.is_some()),
                Err(error) => Failure {
                    error: GithubError {
                        action: purpose.action,
                        status: None,
                        problem: format!("no answer from {}: {}", self.api_url, describe(&error)),
                        fix: "check GITHUB_API_URL and the network, then re-run".into(),
                    },
                    wait: Some(backoff(attempt)),
                },
            };
            match failure.wait {
                Some(wait) if attempt < ATTEMPTS && wait <= MAX_WAIT => {
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                _ => return Err(self.redacted(failure.error)),
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .http
            .request(method, url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The error without the token, whatever GitHub echoed.
    fn redacted(&self, mut error: GithubError) -> GithubError {
        if let Some(token) = &self.token {
            let secrets = [token.as_str()];
            error.problem = crate::secrets::redact_each(&error.problem, &secrets);
            error.fix = crate::secrets::redact_each(&error.fix, &secrets);
        }
        error
    }
}

/// A failed attempt, and how long to wait before the next one (None: do not retry).
struct Failure {
    error: GithubError,
    wait: Option<Duration>,
}

/// What a non-2xx answer means, with its fix, and whether it is worth retrying.
fn refusal(answer: &Answer, purpose: Purpose, has_token: bool) -> Failure {
    let message = github_message(&answer.body);
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after").and_then(|v| crate::util::http::parse_retry_after(&v));
    let status = answer.status;
    let lowered = message.to_ascii_lowercase();
    let rate_limited = status == 429
        || (status == 403
            && (header("x-ratelimit-remaining").as_deref() == Some("0")
                || lowered.contains("rate limit")));
    let error = |problem: String, fix: String| GithubError {
        action: purpose.action,
        status: Some(status),
        problem,
        fix,
    };
    let permission_fix = || {
        format!(
            "give the workflow's token `{}`: add it under `permissions:` in the workflow (job or top level); on a pull request from a fork the token is read-only whatever the workflow says",
            purpose.permission
        )
    };
    if rate_limited {
        let reset_wait = header("x-ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|reset| Duration::from_secs(reset.saturating_sub(now_unix()) + 1));
        return Failure {
            error: error(
                format!("rate limited by GitHub ({status}: {message})"),
                "wait for the limit to reset and re-run the job, or use a token with a higher limit (a GitHub App installation token)".into(),
            ),
            wait: Some(retry_after.or(reset_wait).unwrap_or(Duration::from_secs(60))),
        };
    }
    match status {
        401 => Failure {
            error: error(
                format!("401 {message}"),
                if has_token {
                    "the token is invalid or expired: check the secret passed as GITHUB_TOKEN (the action's `github-token` input)".into()
                } else {
                    "no token: set GITHUB_TOKEN (in Actions the action passes `${{ github.token }}`)".into()
                },
            ),
            wait: None,
        },
        404 => Failure {
            error: error(
                format!("404 {message}"),
                format!("check the repository (--repo or GITHUB_REPOSITORY) and the pull request number; a private repository answers 404 to a token without access, so also check `{}` and `contents: read` under `permissions:`", purpose.permission),
            ),
            wait: None,
        },
        422 => Failure {
            error: error(
                format!("422 {message}{}", validation_details(&answer.body)),
                "GitHub rejected the request's content: a commit that is not on GitHub (push it first) or a value it does not accept; the message above says which".into(),
            ),
            wait: None,
        },
        500..=599 => Failure {
            error: error(
                format!("{status} {}", crate::util::text::excerpt(&message)),
                format!("GitHub failed {ATTEMPTS} times; check https://www.githubstatus.com and re-run the job"),
            ),
            wait: Some(retry_after.unwrap_or_default().max(backoff(1))),
        },
        _ => Failure {
            error: error(format!("{status} {message}"), permission_fix()),
            wait: None,
        },
    }
}

/// A refusal's body, read as GitHub's error shape.
fn error_body(body: &str) -> ErrorPayload {
    serde_json::from_str::<Object<ErrorPayload>>(body)
        .ok()
        .and_then(Object::into_inner)
        .unwrap_or_default()
}

/// GitHub's `message` field, or an excerpt of the body.
fn github_message(body: &str) -> String {
    error_body(body)
        .message
        .unwrap_or_else(|| crate::util::text::excerpt(body))
}

/// The `errors[]` of a 422, briefly.
fn validation_details(body: &str) -> String {
    let details: Vec<String> = error_body(body)
        .errors
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    }
}

/// The answer read as `T` (an empty body as `null`): `T` is one of the lenient wrappers,
/// so only a body that is not JSON is an error.
fn parse<T: DeserializeOwned>(answer: &Answer, purpose: Purpose) -> Result<T, GithubError> {
    let body = match answer.body.trim() {
        "" => "null",
        body => body,
    };
    serde_json::from_str::<T>(body)
        .map_err(|e| GithubError {
            action: purpose.action,
            status: Some(answer.status),
            problem: format!(
                "the answer is not JSON ({e}): {}",
                crate::util::text::excerpt(&answer.body)
            ),
            fix: "check GITHUB_API_URL: it must be the API root (https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server)".into(),
        })
}

/// The answer read as a `T`: its default when the body is empty or not an object.
fn read<T: DeserializeOwned + Default>(
    answer: &Answer,
    purpose: Purpose,
) -> Result<T, GithubError> {
    parse::<Object<T>>(answer, purpose).map(|read| read.into_inner().unwrap_or_default())
}

fn unexpected(purpose: Purpose, answer: &Answer) -> GithubError {
    GithubError {
        action: purpose.action,
        status: Some(answer.status),
        problem: format!(
            "expected a list, got {}",
            crate::util::text::excerpt(answer.body.trim())
        ),
        fix: "check GITHUB_API_URL: it must be the API root".into(),
    }
}

/// A request body as JSON text.
fn to_json(body: &impl Serialize, purpose: Purpose) -> Result<String, GithubError> {
    serde_json::to_string(body).map_err(|e| GithubError {
        action: purpose.action,
        status: None,
        problem: format!("cannot write the request: {e}"),
        fix: "this is a bug in promptgate; please report it".into(),
    })
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

/// The wait before retry `attempt` (counted from 1), by the one retry policy.
fn backoff(attempt: u32) -> Duration {
    crate::util::http::retry_delay(
        attempt.saturating_sub(1),
        crate::util::http::clock_jitter(),
        None,
    )
}

fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(link: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("link", link.parse().unwrap());
        map
    }

    #[test]
    fn follows_githubs_link_header() {
        let link = r#"<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=3>; rel="last""#;
        assert_eq!(
            next_link(&headers(link)).as_deref(),
            Some("https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2")
        );
        let last = r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=2>; rel="prev""#;
        assert_eq!(next_link(&headers(last)), None);
    }

    #[test]
    fn origins_keep_the_token_on_its_server() {
        assert_eq!(
            origin("https://ghe.example.com/api/v3/repos"),
            Some("https://ghe.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("not a url"), None);
    }
}
