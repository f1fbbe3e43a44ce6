//! The documented bounds of every numeric config key, and the one parser that enforces them.
//!
//! Each bounded key deserializes through a function here, so every command that loads a
//! config (`validate`, `eval`, `check`, `drill`, the hooks: all through [`super::load`])
//! accepts and refuses exactly the same values, and an out-of-bound value is a config error
//! at its file, line and column saying what is valid. Nothing downstream sees a value
//! outside these bounds, so no count can become an allocation or a wait the machine cannot
//! afford.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// The inclusive range of an integer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The key as written in `promptgate.toml`.
    pub key: &'static str,
    pub min: u64,
    pub max: u64,
}

/// `[gate] repeat` and `[[surface]] repeat`: trials per case per side.
pub const REPEAT: Bound = Bound {
    key: "repeat",
    min: 1,
    max: 100,
};
/// `[gate] max_repeat`: rounds of trials while a surface is inconclusive.
pub const MAX_REPEAT: Bound = Bound {
    key: "max_repeat",
    min: 1,
    max: 20,
};
/// `[gate] quorum`: trials that must pass (also at most `repeat`).
pub const QUORUM: Bound = Bound {
    key: "quorum",
    min: 1,
    max: REPEAT.max,
};
/// `[provider.*] timeout_secs`: the limit of one call (HTTP request or command).
pub const TIMEOUT_SECS: Bound = Bound {
    key: "timeout_secs",
    min: 1,
    max: 3600,
};
/// `[provider.*] concurrency`: calls in flight at once.
pub const CONCURRENCY: Bound = Bound {
    key: "concurrency",
    min: 1,
    max: 256,
};
/// `[provider.*] max_retries`: retries after a transient failure.
pub const MAX_RETRIES: Bound = Bound {
    key: "max_retries",
    min: 0,
    max: 10,
};
/// `[tier.*] min_approvals`.
pub const MIN_APPROVALS: Bound = Bound {
    key: "min_approvals",
    min: 0,
    max: 100,
};
/// `[policy] cross_cutting_surfaces`.
pub const CROSS_CUTTING_SURFACES: Bound = Bound {
    key: "cross_cutting_surfaces",
    min: 2,
    max: 1000,
};
/// `[drill] every_days`.
pub const EVERY_DAYS: Bound = Bound {
    key: "every_days",
    min: 1,
    max: 3660,
};
/// `[drill] max_minutes`.
pub const MAX_MINUTES: Bound = Bound {
    key: "max_minutes",
    min: 1,
    max: 1440,
};

/// Every integer bound, in the order the README lists them.
pub const ALL: &[Bound] = &[
    REPEAT,
    MAX_REPEAT,
    QUORUM,
    TIMEOUT_SECS,
    CONCURRENCY,
    MAX_RETRIES,
    MIN_APPROVALS,
    CROSS_CUTTING_SURFACES,
    EVERY_DAYS,
    MAX_MINUTES,
];

/// Rounds of trials a surface gets at most while it is inconclusive, when the config does
/// not say (the README says why: the calls it costs on a noisy suite, measured).
pub const DEFAULT_MAX_REPEAT: u32 = 3;

/// Defaults of the provider keys a config may leave out (each within its bound).
pub const DEFAULT_CONCURRENCY: u32 = 16;
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// The largest price per million tokens accepted, in USD.
pub const MAX_PRICE_PER_MTOK: f64 = 1_000_000.0;

impl Bound {
    /// The value when it lies within the bound, else the message saying what is valid.
    pub fn check(&self, value: i128) -> Result<u64, String> {
        match u64::try_from(value) {
            Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
            _ => Err(format!(
                "`{}` must be between {} and {}, not {value}",
                self.key, self.min, self.max
            )),
        }
    }

    /// `value` forced into the bound (for values that did not come through the parser).
    pub fn clamp(&self, value: u64) -> u64 {
        value.clamp(self.min, self.max)
    }
}

/// Any TOML integer, however large, so the bound (not the Rust type) decides what is valid.
struct Integer(i128);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntegerVisitor)
    }
}

struct IntegerVisitor;

impl Visitor<'_> for IntegerVisitor {
    type Value = Integer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integer, E> {
        Ok(Integer(i128::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integer, E> {
        Ok(Integer(i128::from(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Integer, E> {
        Ok(Integer(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Integer, E> {
        Ok(Integer(i128::try_from(v).unwrap_or(i128::MAX)))
    }
}

/// Reads an integer within `bound`, keeping its span.
fn spanned<'de, D, T>(deserializer: D, bound: &Bound) -> Result<Spanned<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let raw = Spanned::<Integer>::deserialize(deserializer)?;
    let span = raw.span();
    let value = bound.check(raw.into_inner().0).map_err(de::Error::custom)?;
    let value = T::try_from(value)
        .map_err(|_| de::Error::custom(format!("`{}` is out of range", bound.key)))?;
    Ok(Spanned::new(span, value))
}

fn plain<'de, D, T>(deserializer: D, bound: &Bound) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    spanned(deserializer, bound).map(Spanned::into_inner)
}

/// A finite float (TOML allows `nan` and `inf`, which compare false with everything and so
/// would make a threshold always hold).
fn finite<'de, D: Deserializer<'de>>(deserializer: D, key: &str) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "`{key}` must be a finite number, not {value}"
        )))
    }
}

// One function per key, named after it, for `#[serde(deserialize_with = …)]`.

pub(super) fn repeat<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<u32>, D::Error> {
    spanned(d, &REPEAT)
}

pub(super) fn max_repeat<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<u32>, D::Error> {
    spanned(d, &MAX_REPEAT)
}

pub(super) fn repeat_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<u32>>, D::Error> {
    spanned(d, &REPEAT).map(Some)
}

pub(super) fn quorum<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<u32>>, D::Error> {
    spanned(d, &QUORUM).map(Some)
}

pub(super) fn timeout_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    plain(d, &TIMEOUT_SECS).map(Some)
}

pub(super) fn concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    plain(d, &CONCURRENCY).map(Some)
}

pub(super) fn max_retries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    plain(d, &MAX_RETRIES).map(Some)
}

pub(super) fn min_approvals<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<u32>, D::Error> {
    spanned(d, &MIN_APPROVALS)
}

pub(super) fn cross_cutting_surfaces<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<u32>>, D::Error> {
    spanned(d, &CROSS_CUTTING_SURFACES).map(Some)
}

pub(super) fn every_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    plain(d, &EVERY_DAYS)
}

pub(super) fn max_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    plain(d, &MAX_MINUTES)
}

/// A price per million tokens: finite, 0 or more, at most [`MAX_PRICE_PER_MTOK`].
pub(super) fn price_per_mtok<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = finite(d, "price")?;
    if (0.0..=MAX_PRICE_PER_MTOK).contains(&value) {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "a price per million tokens must be between 0 and {MAX_PRICE_PER_MTOK}, not {value}"
        )))
    }
}

/// A fraction: finite, between 0 and 1.
fn fraction<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<f64, D::Error> {
    let value = finite(d, key)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "`{key}` must be a fraction between 0 and 1 (0.1 for 10%), not {value}"
        )))
    }
}

pub(super) fn tail_drop<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    fraction(d, "tail_drop")
}

pub(super) fn average_hold<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    fraction(d, "average_hold")
}

// A metric's thresholds: finite.

pub(super) fn metric_min<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    finite(d, "min").map(Some)
}

pub(super) fn metric_max<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    finite(d, "max").map(Some)
}

pub(super) fn metric_max_drop<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    finite(d, "max_drop").map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid config with `gate`, `provider` and `more` spliced in.
    fn config(gate: &str, provider: &str, more: &str) -> String {
        format!(
            "[gate]\n{gate}\n[provider.main]\nkind = \"openai\"\nmodel = \"m\"\n{provider}\n{more}\n[[surface]]\nname = \"s\"\nprompts = [\"p/*.md\"]\ncases = \"e/c.jsonl\"\nprovider = \"main\"\ntier = \"self\"\nmin_pass_rate = 0.9\n"
        )
    }

    /// The one error loading `text` gives, rendered.
    fn error(text: &str) -> String {
        let errors =
            crate::config::load("promptgate.toml", text.as_bytes()).expect_err("should be refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].to_string()
    }

    fn loads(text: &str) -> crate::config::Config {
        crate::config::load("promptgate.toml", text.as_bytes())
            .unwrap_or_else(|e| panic!("{text}\n{e:?}"))
            .config
    }

    #[test]
    fn check_accepts_the_range_and_names_it_otherwise() {
        assert_eq!(REPEAT.check(1), Ok(1));
        assert_eq!(REPEAT.check(100), Ok(100));
        for bad in [0, 101, -1, i128::from(u32::MAX), i128::from(u64::MAX) + 1] {
            assert_eq!(
                REPEAT.check(bad),
                Err(format!("`repeat` must be between 1 and 100, not {bad}"))
            );
        }
        assert_eq!(MAX_RETRIES.check(0), Ok(0));
        assert_eq!(TIMEOUT_SECS.clamp(u64::MAX), TIMEOUT_SECS.max);
        assert_eq!(CONCURRENCY.clamp(0), 1);
    }

    #[test]
    fn every_bound_holds_its_default() {
        for bound in ALL {
            assert!(bound.min <= bound.max, "{bound:?}");
        }
        assert!(CONCURRENCY.check(DEFAULT_CONCURRENCY.into()).is_ok());
        assert!(TIMEOUT_SECS.check(DEFAULT_TIMEOUT_SECS.into()).is_ok());
        assert!(MAX_RETRIES.check(DEFAULT_MAX_RETRIES.into()).is_ok());
        const { assert!(QUORUM.max <= REPEAT.max) };
    }

    #[test]
    fn values_at_the_bounds_load() {
        let text = config(
            "repeat = 100\nquorum = 100",
            "timeout_secs = 3600\nconcurrency = 256\nmax_retries = 0",
            "[policy]\ncross_cutting_surfaces = 2\n[drill]\nevery_days = 3660\nmax_minutes = 1440\n[tier.self]\nmin_approvals = 0",
        );
        let loaded = loads(&text);
        assert_eq!(*loaded.gate.repeat.get_ref(), 100);
        let provider = loaded.provider["main"].get_ref();
        assert_eq!(provider.timeout(), std::time::Duration::from_secs(3600));
        assert_eq!((provider.concurrency(), provider.max_retries()), (256, 0));
        let defaults = loads(&config("", "", ""));
        let provider = defaults.provider["main"].get_ref();
        assert_eq!(
            (
                provider.timeout().as_secs(),
                provider.concurrency(),
                provider.max_retries()
            ),
            (
                DEFAULT_TIMEOUT_SECS,
                DEFAULT_CONCURRENCY as usize,
                DEFAULT_MAX_RETRIES
            )
        );
    }

    #[test]
    fn out_of_bound_values_are_errors_at_their_place_saying_what_is_valid() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "repeat = 4294967295",
                "",
                "",
                "2:10: `repeat` must be between 1 and 100, not 4294967295",
            ),
            (
                "repeat = 4294967296",
                "",
                "",
                "2:10: `repeat` must be between 1 and 100, not 4294967296",
            ),
            (
                "repeat = 0",
                "",
                "",
                "2:10: `repeat` must be between 1 and 100, not 0",
            ),
            (
                "repeat = -3",
                "",
                "",
                "2:10: `repeat` must be between 1 and 100, not -3",
            ),
            (
                "quorum = 101",
                "",
                "",
                "2:10: `quorum` must be between 1 and 100, not 101",
            ),
            (
                "",
                "timeout_secs = 18446744073709551615",
                "",
                "6:16: `timeout_secs` must be between 1 and 3600, not 18446744073709551615",
            ),
            (
                "",
                "timeout_secs = 0",
                "",
                "6:16: `timeout_secs` must be between 1 and 3600, not 0",
            ),
            (
                "",
                "concurrency = 100000",
                "",
                "6:15: `concurrency` must be between 1 and 256, not 100000",
            ),
            (
                "",
                "max_retries = 4294967295",
                "",
                "6:15: `max_retries` must be between 0 and 10, not 4294967295",
            ),
            (
                "",
                "",
                "[policy]\ncross_cutting_surfaces = 1",
                "`cross_cutting_surfaces` must be between 2 and 1000, not 1",
            ),
            (
                "",
                "",
                "[drill]\nevery_days = 0",
                "`every_days` must be between 1 and 3660, not 0",
            ),
            (
                "",
                "",
                "[drill]\nmax_minutes = 99999",
                "`max_minutes` must be between 1 and 1440, not 99999",
            ),
            (
                "",
                "",
                "[tier.self]\nmin_approvals = 1000",
                "`min_approvals` must be between 0 and 100, not 1000",
            ),
            (
                "",
                "",
                "[price.m]\ninput_per_mtok = nan\noutput_per_mtok = 1",
                "`price` must be a finite number, not NaN",
            ),
            (
                "",
                "",
                "[price.m]\ninput_per_mtok = -1.0\noutput_per_mtok = 1",
                "must be between 0 and 1000000, not -1",
            ),
        ];
        for (gate, provider, more, expected) in cases {
            let message = error(&config(gate, provider, more));
            assert!(
                message.starts_with("error: promptgate.toml:") && message.contains(expected),
                "{gate}{provider}{more}: {message}"
            );
        }
        let message = error(&config("repeat = 1000", "", ""));
        assert!(
            message.contains("help: the bounds of every numeric key"),
            "{message}"
        );
    }

    #[test]
    fn a_surface_repeat_and_metric_thresholds_are_bounded_too() {
        let base = config("", "", "");
        let message = error(&format!("{base}repeat = 4294967295\n"));
        assert!(
            message.contains("`repeat` must be between 1 and 100, not 4294967295"),
            "{message}"
        );
        let message = error(&format!(
            "{base}metrics = [{{ name = \"x\", min = nan }}]\n"
        ));
        assert!(
            message.contains("`min` must be a finite number, not NaN"),
            "{message}"
        );
        let message = error(&config("max_cost_usd = inf", "", ""));
        assert!(
            message.contains("`max_cost_usd` must be a finite amount more than 0"),
            "{message}"
        );
    }

    #[test]
    fn a_float_or_a_string_is_not_a_count() {
        let message = error(&config("repeat = 2.5", "", ""));
        assert!(message.contains("expected a whole number"), "{message}");
        let message = error(&config("repeat = \"3\"", "", ""));
        assert!(message.contains("expected a whole number"), "{message}");
    }
}
