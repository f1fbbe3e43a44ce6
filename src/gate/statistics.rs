//! The gate's statistics: the 95% Wilson score interval around a pass rate, the exact
//! two-sided McNemar test on paired flips (regressions vs fixes), and the selection of the
//! hardest tail of cases by difficulty. Pure functions over counts, exact where the contract
//! promises exactness and numerically sound for very large counts.

use serde::Serialize;

/// A two-sided 95% Wilson score interval for a proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The standard normal quantile for a two-sided 95% interval.
const Z_95: f64 = 1.959963984540054;

/// Wilson score interval at 95% for `passed` out of `total`.
///
/// `total == 0` gives the uninformative `[0, 1]`. The edges are exact: `0/n` has
/// `low == 0.0` and `n/n` has `high == 1.0`. A `passed` above `total` is treated as `total`.
pub fn wilson(passed: u64, total: u64) -> Interval {
    if total == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let passed = passed.min(total);
    let n = total as f64;
    let p = passed as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half_width = Z_95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // The closed form cancels to exactly 0 or 1 at the edges only in exact arithmetic.
    let low = if passed == 0 {
        0.0
    } else {
        (center - half_width).clamp(0.0, 1.0)
    };
    let high = if passed == total {
        1.0
    } else {
        (center + half_width).clamp(0.0, 1.0)
    };
    Interval { low, high }
}

/// Exact two-sided McNemar test on the discordant pairs: `b` regressions (pass→fail) and
/// `c` fixes (fail→pass). `p = min(1, 2·P[X ≤ min(b, c)])` with `X ~ Binomial(b + c, 1/2)`;
/// `p = 1` when there are no discordant pairs. Symmetric in `b` and `c`.
///
/// Exact summation up to 120 pairs; beyond, log-space terms whose cost grows with √(b + c)
/// (about 6,000 terms at a million pairs).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    // Equal counts put at least half the mass at or below min(b, c), so p caps at 1.
    if b == c {
        return 1.0;
    }
    let (b, c) = scale_to_summable(b, c);
    let n = b + c;
    let k = b.min(c);
    let lower_tail = if k == 0 {
        // P[X = 0] = 2^-n, exact as a power of two (and 0 once below the smallest f64).
        0.5f64.powi(n.min(2_000) as i32)
    } else if n <= EXACT_MAX_N {
        binomial_half_cdf_exact(n, k)
    } else {
        binomial_half_cdf_large(n, k)
    };
    (2.0 * lower_tail).min(1.0)
}

/// Beyond this many pairs (never seen from a real suite) the sum would take too long.
const MAX_SUMMED_N: u64 = 1 << 40;

/// Halves both counts until their sum is at most `MAX_SUMMED_N`. Scaling down keeps the
/// proportion but weakens the evidence, so p only rises: the test stays conservative.
fn scale_to_summable(mut b: u64, mut c: u64) -> (u64, u64) {
    while b.checked_add(c).is_none_or(|n| n > MAX_SUMMED_N) {
        b /= 2;
        c /= 2;
    }
    (b, c)
}

/// Up to this many trials the binomial coefficients, and their running sum, fit in a u128
/// (C(120, 60)·61 < 2^123), so the tail is one integer sum rounded once.
const EXACT_MAX_N: u64 = 120;

/// `P[X ≤ k]` for `X ~ Binomial(n, 1/2)`, `n ≤ EXACT_MAX_N`, correctly rounded up to the
/// final division by a power of two (which is exact).
fn binomial_half_cdf_exact(n: u64, k: u64) -> f64 {
    let n = u128::from(n);
    let mut coefficient: u128 = 1;
    let mut sum: u128 = 1;
    for i in 1..=u128::from(k) {
        coefficient = coefficient * (n + 1 - i) / i;
        sum += coefficient;
    }
    // n ≤ 120, so 2^-n is a normal f64 and the scaling is exact.
    sum as f64 * 0.5f64.powi(n as i32)
}

/// `P[X ≤ k]` for `X ~ Binomial(n, 1/2)` with large `n`: the probability at `k`, computed in
/// log space by Loader's saddle-point method, times the sum of the ratios of the lower terms
/// to it. Below the mean those ratios shrink, so the sum is small and stops early.
fn binomial_half_cdf_large(n: u64, k: u64) -> f64 {
    let ratio_sum = ratio_sum_below(n, k);
    let log_cdf = log_binomial_half_pmf(n, k) + ratio_sum.ln();
    log_cdf.exp()
}

/// Σ_{i ≤ k} P[X = i] / P[X = k], summed from `k` downwards until the terms no longer count.
fn ratio_sum_below(n: u64, k: u64) -> f64 {
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut i = k;
    while i > 0 {
        // P[X = i - 1] / P[X = i] = i / (n - i + 1), at most 1 because k ≤ n / 2.
        term *= i as f64 / (n - i + 1) as f64;
        let next = sum + term;
        if next == sum {
            break;
        }
        sum = next;
        i -= 1;
    }
    sum
}

/// ln P[X = k] for `X ~ Binomial(n, 1/2)`, accurate to a few ulps for any size (Loader 2000,
/// "Fast and accurate computation of binomial probabilities").
fn log_binomial_half_pmf(n: u64, k: u64) -> f64 {
    let ln_half = -std::f64::consts::LN_2;
    if k == 0 || k == n {
        return n as f64 * ln_half;
    }
    let (n, k) = (n as f64, k as f64);
    let half_n = n / 2.0;
    let log_core = stirling_error(n)
        - stirling_error(k)
        - stirling_error(n - k)
        - deviance_term(k, half_n)
        - deviance_term(n - k, half_n);
    let log_scale = (2.0 * std::f64::consts::PI * k * (1.0 - k / n)).ln();
    log_core - 0.5 * log_scale
}

/// ln(m!) − [(m + ½)·ln m − m + ½·ln(2π)] for a positive integer `m`: the error of
/// Stirling's formula, from a table for small `m` and its asymptotic series beyond.
fn stirling_error(m: f64) -> f64 {
    // δ(m) for m = 1..=15, computed with 40-digit arithmetic.
    const SMALL: [f64; 15] = [
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
        0.007573675487951841,
        0.00694284010720953,
        0.006408994188004207,
        0.0059513701127588475,
        0.005554733551962801,
    ];
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if m <= 15.0 {
        return SMALL[(m as usize).saturating_sub(1)];
    }
    let m2 = m * m;
    if m > 500.0 {
        (S0 - S1 / m2) / m
    } else if m > 80.0 {
        (S0 - (S1 - S2 / m2) / m2) / m
    } else if m > 35.0 {
        (S0 - (S1 - (S2 - S3 / m2) / m2) / m2) / m
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / m2) / m2) / m2) / m2) / m
    }
}

/// x·ln(x / μ) + μ − x, the binomial deviance term, by a series when `x` is close to `μ`
/// (where the direct form cancels catastrophically).
fn deviance_term(x: f64, mu: f64) -> f64 {
    if (x - mu).abs() >= 0.1 * (x + mu) {
        return x * (x / mu).ln() + mu - x;
    }
    let v = (x - mu) / (x + mu);
    let v2 = v * v;
    let mut sum = (x - mu) * v;
    let mut power = 2.0 * x * v;
    let mut j = 1.0;
    loop {
        power *= v2;
        let next = sum + power / (2.0 * j + 1.0);
        if next == sum {
            return sum;
        }
        sum = next;
        j += 1.0;
    }
}

/// The hardest ⌈10%⌉ of cases by difficulty (higher = harder), as the given indexes,
/// hardest first, ties broken by the lower index.
///
/// The size counts ALL cases given (at least 1 when there is any), capped at the number of
/// cases that have a difficulty. Cases without one (`None`, or NaN, which cannot be ranked)
/// are never in the tail; when no case has one the tail is empty and cannot be measured.
pub fn tail(cases: &[(usize, Option<f64>)]) -> Vec<usize> {
    let size = cases.len().div_ceil(10);
    let mut ranked: Vec<(usize, f64)> = cases
        .iter()
        .filter_map(|&(index, difficulty)| Some((index, difficulty.filter(|d| !d.is_nan())?)))
        .collect();
    ranked.sort_by(|(index_a, a), (index_b, b)| b.total_cmp(a).then(index_a.cmp(index_b)));
    ranked
        .into_iter()
        .take(size)
        .map(|(index, _)| index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative closeness, for values that span hundreds of orders of magnitude.
    fn assert_rel_close(actual: f64, expected: f64, tolerance: f64) {
        let error = ((actual - expected) / expected).abs();
        assert!(
            error <= tolerance,
            "{actual:e} vs {expected:e}: relative error {error:e} > {tolerance:e}"
        );
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} vs {expected} (tolerance {tolerance})"
        );
    }

    // ---- Wilson ----

    #[test]
    fn wilson_of_no_trials_is_uninformative() {
        assert_eq!(
            wilson(0, 0),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn wilson_zero_passes_has_an_exact_zero_low() {
        let interval = wilson(0, 10);
        assert_eq!(interval.low, 0.0);
        assert_close(interval.high, 0.277_532_799_862_889_2, 1e-12);
    }

    #[test]
    fn wilson_all_passes_has_an_exact_one_high() {
        let interval = wilson(10, 10);
        assert_eq!(interval.high, 1.0);
        assert_close(interval.low, 0.722_467_200_137_110_8, 1e-12);
    }

    #[test]
    fn wilson_single_trial() {
        let passed = wilson(1, 1);
        assert_eq!(passed.high, 1.0);
        assert_close(passed.low, 0.206_549_314_377_237_4, 1e-12);
        let failed = wilson(0, 1);
        assert_eq!(failed.low, 0.0);
        assert_close(failed.high, 0.793_450_685_622_762_6, 1e-12);
    }

    #[test]
    fn wilson_half_of_ten() {
        let interval = wilson(5, 10);
        assert_close(interval.low, 0.236_593_090_512_564, 1e-12);
        assert_close(interval.high, 0.763_406_909_487_436, 1e-12);
    }

    #[test]
    fn wilson_half_of_a_hundred_is_symmetric_about_one_half() {
        let interval = wilson(50, 100);
        assert_close(interval.low, 0.403_831_530_365_995_6, 1e-12);
        assert_close(interval.high, 0.596_168_469_634_004_4, 1e-12);
        assert_close(interval.low + interval.high, 1.0, 1e-15);
    }

    #[test]
    fn wilson_reference_values() {
        // Computed independently with mpmath at 40 digits.
        let cases = [
            (9, 10, 0.595_849_973_204_761_5, 0.982_123_786_904_927_1),
            (90, 100, 0.825_634_338_495_086_6, 0.944_770_862_939_324_9),
            (1, 3, 0.061_491_944_720_396_24, 0.792_340_399_197_952_3),
        ];
        for (passed, total, low, high) in cases {
            let interval = wilson(passed, total);
            assert_close(interval.low, low, 1e-12);
            assert_close(interval.high, high, 1e-12);
        }
    }

    #[test]
    fn wilson_large_n_narrows_around_the_rate() {
        let interval = wilson(900_000_000, 1_000_000_000);
        assert!(interval.low < 0.9 && 0.9 < interval.high);
        assert_close(interval.low, 0.899_981_404_612_419_6, 1e-12);
        assert_close(interval.high, 0.900_018_592_314_413_4, 1e-12);
        let edge = wilson(u64::MAX, u64::MAX);
        assert_eq!(edge.high, 1.0);
        assert!(edge.low > 0.999_999 && edge.low <= 1.0);
        let none = wilson(0, u64::MAX);
        assert_eq!(none.low, 0.0);
        assert!(none.high >= 0.0 && none.high < 1e-6);
    }

    #[test]
    fn wilson_always_brackets_the_rate_and_stays_in_range() {
        for total in 1..=60u64 {
            for passed in 0..=total {
                let interval = wilson(passed, total);
                let rate = passed as f64 / total as f64;
                assert!(
                    0.0 <= interval.low && interval.low <= rate,
                    "{passed}/{total}"
                );
                assert!(
                    rate <= interval.high && interval.high <= 1.0,
                    "{passed}/{total}"
                );
                let mirror = wilson(total - passed, total);
                assert_close(interval.low, 1.0 - mirror.high, 1e-12);
            }
        }
    }

    #[test]
    fn wilson_treats_more_passes_than_trials_as_all_passed() {
        assert_eq!(wilson(12, 10), wilson(10, 10));
    }

    // ---- McNemar ----

    #[test]
    fn mcnemar_no_discordant_pairs_is_one() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn mcnemar_five_regressions_no_fixes_is_exactly_a_sixteenth() {
        assert_eq!(mcnemar_exact(5, 0), 0.0625);
    }

    #[test]
    fn mcnemar_ten_against_two() {
        // 2 · (1 + 12 + 66) / 4096
        assert_eq!(mcnemar_exact(10, 2), 0.038_574_218_75);
    }

    #[test]
    fn mcnemar_single_flip_is_one() {
        assert_eq!(mcnemar_exact(1, 0), 1.0);
        assert_eq!(mcnemar_exact(0, 1), 1.0);
    }

    #[test]
    fn mcnemar_equal_counts_are_capped_at_one() {
        for n in [1, 2, 7, 60, 61, 500, 123_456] {
            assert_eq!(mcnemar_exact(n, n), 1.0, "b = c = {n}");
        }
        assert_eq!(mcnemar_exact(3, 2), 1.0);
    }

    #[test]
    fn mcnemar_is_symmetric() {
        for (b, c) in [(5, 0), (10, 2), (70, 50), (150, 100), (50_000, 49_000)] {
            assert_eq!(mcnemar_exact(b, c), mcnemar_exact(c, b), "({b}, {c})");
        }
    }

    #[test]
    fn mcnemar_small_counts_are_exact() {
        // Exact fractions: 2 · Σ_{i ≤ k} C(n, i) / 2^n.
        assert_eq!(mcnemar_exact(10, 0), 0.001_953_125);
        assert_eq!(mcnemar_exact(20, 5), 0.004077315330505371);
        assert_rel_close(mcnemar_exact(70, 50), 0.08240747932752655, 1e-15);
        assert_rel_close(mcnemar_exact(61, 59), 0.9273150210898833, 1e-15);
    }

    #[test]
    fn mcnemar_large_counts_match_exact_reference_values() {
        // Computed with exact integer sums in Python, rounded to 20 digits.
        let cases: [(u64, u64, f64); 9] = [
            (100, 21, 1.6063112905391715e-13),
            (150, 100, 0.001883300935076157),
            (300, 200, 8.940066542253267e-06),
            (1_000, 900, 0.02310884510890107),
            (5_000, 4_800, 0.04440414879984629),
            (50_000, 49_000, 0.0014980826229749737),
            (100_000, 99_500, 0.26391078505483273),
            (500_500, 499_500, 0.3177946913633055),
            (501_000, 499_000, 0.04560829986538208),
        ];
        for (b, c, expected) in cases {
            assert_rel_close(mcnemar_exact(b, c), expected, 1e-13);
        }
    }

    #[test]
    fn mcnemar_agrees_across_the_exact_and_large_methods() {
        // n = 120 is summed exactly, n = 121 goes through log space.
        for k in 0..=60 {
            let exact = 2.0 * binomial_half_cdf_exact(120, k);
            let large = 2.0 * binomial_half_cdf_large(120, k);
            assert_rel_close(large, exact, 1e-12);
        }
        assert_rel_close(mcnemar_exact(101, 20), 3.2918992186751774e-14, 1e-13);
    }

    #[test]
    fn mcnemar_underflows_to_zero_without_nan() {
        // True values: 1.47e-331 and 2.02e-301030, below the smallest f64.
        assert_eq!(mcnemar_exact(1_100, 0), 0.0);
        assert_eq!(mcnemar_exact(1_000_000, 0), 0.0);
        assert_eq!(mcnemar_exact(600_000, 400_000), 0.0);
        let p = mcnemar_exact(1_000, 0);
        assert_eq!(p, 2.0f64.powi(-999));
    }

    #[test]
    fn mcnemar_is_sound_up_to_a_million_pairs() {
        let mut previous = 0.0;
        for c in (400_000..=500_000).step_by(2_500) {
            let p = mcnemar_exact(1_000_000 - c, c);
            assert!(p.is_finite() && (0.0..=1.0).contains(&p), "c = {c}: {p}");
            assert!(
                p >= previous,
                "p must grow as the counts even out (c = {c})"
            );
            previous = p;
        }
        assert_eq!(mcnemar_exact(500_000, 500_000), 1.0);
        assert_eq!(mcnemar_exact(u64::MAX, u64::MAX), 1.0);
        assert_eq!(mcnemar_exact(u64::MAX, 0), 0.0);
        let p = mcnemar_exact(u64::MAX, u64::MAX - 10);
        assert!(p.is_finite() && (0.0..=1.0).contains(&p));
    }

    #[test]
    fn mcnemar_scales_absurd_counts_down_conservatively() {
        assert_eq!(scale_to_summable(600_000, 400_000), (600_000, 400_000));
        assert_eq!(scale_to_summable(1 << 40, 0), (1 << 40, 0));
        assert_eq!(
            scale_to_summable(u64::MAX, 3 << 41),
            ((1 << 39) - 1, 3 << 16)
        );
        let unscaled = mcnemar_exact(1 << 39, (1 << 39) - (1 << 21));
        let scaled = mcnemar_exact(1 << 41, (1 << 41) - (1 << 23));
        assert!(scaled >= unscaled);
    }

    #[test]
    fn stirling_error_table_meets_the_series() {
        // The series at 16 continues the table smoothly: δ(m) ≈ 1/(12m).
        let at_15 = stirling_error(15.0);
        let at_16 = stirling_error(16.0);
        assert!(at_16 < at_15);
        // The series' first omitted term is ~1e-16 at 16, far below what the p-value needs.
        assert_close(at_16, 0.005_207_655_919_609_640_4, 1e-15);
    }

    // ---- tail ----

    fn indexed(difficulties: &[Option<f64>]) -> Vec<(usize, Option<f64>)> {
        difficulties.iter().copied().enumerate().collect()
    }

    #[test]
    fn tail_of_twenty_five_cases_is_the_three_hardest() {
        let cases: Vec<(usize, Option<f64>)> = (0..25).map(|i| (i, Some(i as f64))).collect();
        assert_eq!(tail(&cases), vec![24, 23, 22]);
    }

    #[test]
    fn tail_of_ten_or_fewer_cases_is_one() {
        assert_eq!(tail(&indexed(&[Some(0.2), Some(0.9), Some(0.5)])), vec![1]);
        let ten: Vec<(usize, Option<f64>)> = (0..10).map(|i| (i, Some(1.0))).collect();
        assert_eq!(tail(&ten), vec![0]);
        assert_eq!(tail(&[(7, Some(3.0))]), vec![7]);
    }

    #[test]
    fn tail_size_rounds_up() {
        let eleven: Vec<(usize, Option<f64>)> = (0..11).map(|i| (i, Some(i as f64))).collect();
        assert_eq!(tail(&eleven), vec![10, 9]);
        let twenty: Vec<(usize, Option<f64>)> = (0..20).map(|i| (i, Some(i as f64))).collect();
        assert_eq!(tail(&twenty), vec![19, 18]);
    }

    #[test]
    fn tail_skips_cases_without_difficulty() {
        let mut cases: Vec<(usize, Option<f64>)> = (0..25).map(|i| (i, Some(i as f64))).collect();
        cases[24].1 = None;
        cases[22].1 = None;
        assert_eq!(tail(&cases), vec![23, 21, 20]);
    }

    #[test]
    fn tail_size_counts_all_cases_but_is_capped_by_those_with_difficulty() {
        let mut cases: Vec<(usize, Option<f64>)> = (0..30).map(|i| (i, None)).collect();
        cases[5].1 = Some(0.4);
        cases[9].1 = Some(0.8);
        assert_eq!(tail(&cases), vec![9, 5]);
    }

    #[test]
    fn tail_without_any_difficulty_is_empty() {
        let cases: Vec<(usize, Option<f64>)> = (0..25).map(|i| (i, None)).collect();
        assert!(tail(&cases).is_empty());
        assert!(tail(&[]).is_empty());
        assert!(tail(&[(0, Some(f64::NAN))]).is_empty());
    }

    #[test]
    fn tail_breaks_ties_by_lower_index() {
        let cases = [
            (40, Some(0.5)),
            (12, Some(0.9)),
            (30, Some(0.9)),
            (3, Some(0.9)),
            (8, Some(0.1)),
        ];
        let many: Vec<(usize, Option<f64>)> = cases
            .iter()
            .copied()
            .chain((100..125).map(|i| (i, Some(0.0))))
            .collect();
        assert_eq!(tail(&many), vec![3, 12, 30]);
    }

    #[test]
    fn tail_orders_by_value_not_by_input_position() {
        let cases = [(0, Some(-1.0)), (1, Some(f64::INFINITY)), (2, Some(2.5))];
        assert_eq!(tail(&cases), vec![1]);
        let mut many: Vec<(usize, Option<f64>)> = (100..117).map(|i| (i, Some(0.0))).collect();
        many.extend(cases);
        assert_eq!(tail(&many), vec![1, 2]);
    }
}
