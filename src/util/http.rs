//! What every HTTP client of promptgate shares: the TLS crypto provider installed once,
//! `Retry-After` read as seconds or as an HTTP date, and one retry policy (exponential
//! backoff with jitter, never sooner than the server asked, never longer than a minute).

use std::time::Duration;

/// The longest wait between two attempts, whatever the server asks.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The first wait; each retry doubles it.
const BASE_BACKOFF: Duration = Duration::from_millis(250);

/// How long to wait before retry `attempt` (0 for the first retry): exponential backoff
/// scaled by `jitter` (in [0.5, 1.5), to spread concurrent clients apart), at least what
/// the server asked, at most [`MAX_BACKOFF`].
pub fn retry_delay(attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
    BASE_BACKOFF
        .mul_f64(2f64.powi(attempt.min(16) as i32) * jitter.clamp(0.5, 1.5))
        .max(retry_after.unwrap_or_default())
        .min(MAX_BACKOFF)
}

/// A jitter factor in [0.5, 1.5) from the clock, for clients without state of their own.
pub fn clock_jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    0.5 + f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Parses a `Retry-After` header value: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = super::time::http_date_to_unix(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// rustls is built without a default crypto provider (ring is chosen, not aws-lc); reqwest
/// needs one installed before its first client.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_retry_policy() {
        assert_eq!(retry_delay(0, 1.0, None), Duration::from_millis(250));
        assert_eq!(retry_delay(2, 1.0, None), Duration::from_secs(1));
        assert_eq!(
            retry_delay(2, 0.5, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(retry_delay(30, 1.4, None), MAX_BACKOFF);
        assert!((0.5..1.5).contains(&clock_jitter()));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
