//! Token probabilities and chi-square combining, after SpamAssassin 4.0.1's
//! `Mail::SpamAssassin::Bayes::CombineChi` and `Plugin::Bayes`.
//!
//! `token_probability` is Gary Robinson's f(w): the raw ratio
//! `s·nham / (n·nspam + s·nham)` pulled toward `FW_X` by a prior of weight
//! `FW_S`, so a token seen once is not taken as certain.
//!
//! `combine` is Fisher's method. It multiplies `p` and `1 - p` over the
//! chosen tokens and turns each product into a probability with the
//! chi-square distribution of `2·count` degrees of freedom. The two results
//! are then averaged into one spam probability in [0, 1].
//! `select_significant` keeps at most
//! `SIGNIFICANT_TOKENS_MAX` tokens whose distance from 0.5 is at least
//! `PROBABILITY_STRENGTH_MIN`.

/// Robinson's `x`: the probability given to a token never seen before.
/// 0.538 is `$FW_X_CONSTANT` in SpamAssassin 4.0.1's CombineChi.pm.
pub const FW_X: f64 = 0.538;

/// Robinson's `s`: the weight of the prior `FW_X` against the counts.
/// 0.030 is `$FW_S_CONSTANT` in SpamAssassin 4.0.1's CombineChi.pm, the
/// module that chi-square combining uses. The 0.160 in CombineNaiveBayes.pm
/// belongs to the naive Bayes combiner.
pub const FW_S: f64 = 0.030;

/// Minimum `|p - 0.5|` of a token used in combining, because tokens near
/// 0.5 only dilute the result. 0.346 is `$MIN_PROB_STRENGTH` in CombineChi.pm.
pub const PROBABILITY_STRENGTH_MIN: f64 = 0.346;

/// Maximum tokens combined for one message, the strongest first. 150 is
/// `N_SIGNIFICANT_TOKENS` in SpamAssassin 4.0.1's Plugin/Bayes.pm, and it
/// bounds the cost of combining whatever the message length.
pub const SIGNIFICANT_TOKENS_MAX: usize = 150;

/// Below this value a running product is renormalized, so that 150 factors
/// near zero never underflow to 0.0 before the logarithm.
const PRODUCT_RENORMALIZE_BELOW: f64 = 1e-200;

/// Returns Robinson's f(w) for a token seen in `spam_count` spam and
/// `ham_count` ham messages, out of `nspam` and `nham` learned, or `None`
/// when the token was never seen or either total is zero.
pub fn token_probability(spam_count: u32, ham_count: u32, nspam: u32, nham: u32) -> Option<f64> {
    if nspam == 0 || nham == 0 || (spam_count == 0 && ham_count == 0) {
        return None;
    }
    let (s, n) = (f64::from(spam_count), f64::from(ham_count));
    let (ns, nn) = (f64::from(nspam), f64::from(nham));
    let ratio = (s * nn) / (n * ns + s * nn);
    let seen = s + n;
    Some((FW_S * FW_X + seen * ratio) / (FW_S + seen))
}

/// Returns the probabilities to combine: those at least
/// `PROBABILITY_STRENGTH_MIN` from 0.5, strongest first, at most
/// `SIGNIFICANT_TOKENS_MAX` of them.
pub fn select_significant(mut probabilities: Vec<f64>) -> Vec<f64> {
    probabilities.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
    probabilities.truncate(SIGNIFICANT_TOKENS_MAX);
    probabilities.retain(|p| (p - 0.5).abs() >= PROBABILITY_STRENGTH_MIN);
    probabilities
}

/// Combines token probabilities into one spam probability with Fisher's
/// chi-square method, starting from the learned spam and ham shares as
/// CombineChi.pm does. Returns `None` for no tokens or no learned messages.
pub fn combine(nspam: u32, nham: u32, probabilities: &[f64]) -> Option<f64> {
    let total = f64::from(nspam) + f64::from(nham);
    if probabilities.is_empty() || total == 0.0 {
        return None;
    }
    let mut spam_product = Product::new(f64::from(nspam) / total);
    let mut ham_product = Product::new(f64::from(nham) / total);
    for &p in probabilities {
        spam_product.multiply(1.0 - p);
        ham_product.multiply(p);
    }

    let count = probabilities.len();
    let spam = 1.0 - chi2q(-2.0 * spam_product.ln(), count);
    let ham = 1.0 - chi2q(-2.0 * ham_product.ln(), count);
    Some((spam - ham + 1.0) / 2.0)
}

/// Returns the upper tail of the chi-square distribution with `2·half_df`
/// degrees of freedom at `x2`, capped at 1.0.
pub fn chi2q(x2: f64, half_df: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..half_df {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// A product kept as mantissa and binary exponent so that it cannot
/// underflow.
struct Product {
    mantissa: f64,
    exponent: i64,
}

impl Product {
    fn new(start: f64) -> Product {
        Product {
            mantissa: start,
            exponent: 0,
        }
    }

    fn multiply(&mut self, factor: f64) {
        self.mantissa *= factor;
        if self.mantissa < PRODUCT_RENORMALIZE_BELOW && self.mantissa > 0.0 {
            let (mantissa, exponent) = frexp(self.mantissa);
            self.mantissa = mantissa;
            self.exponent += exponent;
        }
    }

    fn ln(&self) -> f64 {
        self.mantissa.ln() + self.exponent as f64 * std::f64::consts::LN_2
    }
}

/// Splits a positive normal or subnormal `value` into a mantissa in
/// [0.5, 1) and a power of two, as C's frexp does.
fn frexp(value: f64) -> (f64, i64) {
    let mut exponent = 0;
    let mut mantissa = value;
    // Scale subnormals into the normal range first, because their exponent
    // field is zero.
    if mantissa < f64::MIN_POSITIVE {
        mantissa *= 2f64.powi(64);
        exponent -= 64;
    }
    let bits = mantissa.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    exponent += biased - 1022;
    let mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (mantissa, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn robinson_probability_matches_hand_values() {
        // s=1, n=0, ns=nn=10: ratio 1, f = (0.03·0.538 + 1) / 1.03.
        let p = token_probability(1, 0, 10, 10).unwrap();
        assert!(close(p, (0.03 * 0.538 + 1.0) / 1.03), "{p}");
        // s=3, n=1, ns=100, nn=200: ratio 600/700, f = (0.01614 + 4·6/7) / 4.03.
        let p = token_probability(3, 1, 100, 200).unwrap();
        assert!(close(p, (0.01614 + 4.0 * 600.0 / 700.0) / 4.03), "{p}");
    }

    #[test]
    fn robinson_probability_unseen_or_untrained_is_none() {
        assert_eq!(token_probability(0, 0, 10, 10), None);
        assert_eq!(token_probability(1, 0, 0, 10), None);
        assert_eq!(token_probability(1, 0, 10, 0), None);
    }

    #[test]
    fn chi2q_matches_hand_values() {
        // Two degrees of freedom: the tail is exp(-x/2).
        assert!(close(chi2q(2.0, 1), (-1.0f64).exp()));
        // Four degrees of freedom: exp(-m)(1 + m) with m = x/2.
        assert!(close(chi2q(6.0, 2), (-3.0f64).exp() * 4.0));
        assert_eq!(chi2q(0.0, 3), 1.0);
    }

    #[test]
    fn combine_one_token_matches_hand_value() {
        // nspam = nham and one token p = 0.9, so the products are S = 0.5·0.1
        // and H = 0.5·0.9. With one token chi2q(-2 ln P, 1) = P, so the
        // result is ((1 - 0.05) - (1 - 0.45) + 1) / 2 = 0.7.
        let p = combine(10, 10, &[0.9]).unwrap();
        assert!(close(p, 0.7), "{p}");
    }

    #[test]
    fn combine_symmetric_tokens_give_one_half() {
        let p = combine(50, 50, &[0.99, 0.01, 0.9, 0.1]).unwrap();
        assert!(close(p, 0.5), "{p}");
    }

    #[test]
    fn combine_many_extreme_tokens_does_not_underflow() {
        let spammy = vec![0.999_999; SIGNIFICANT_TOKENS_MAX];
        let p = combine(1000, 1000, &spammy).unwrap();
        assert!(p > 0.99, "{p}");
        assert!(p <= 1.0, "{p}");
        let hammy = vec![0.000_001; SIGNIFICANT_TOKENS_MAX];
        let p = combine(1000, 1000, &hammy).unwrap();
        assert!((0.0..0.01).contains(&p), "{p}");
    }

    #[test]
    fn combine_without_tokens_is_none() {
        assert_eq!(combine(10, 10, &[]), None);
        assert_eq!(combine(0, 0, &[0.9]), None);
    }

    #[test]
    fn select_significant_drops_weak_and_keeps_strongest() {
        let mut probabilities = vec![0.5, 0.6, 0.84, 0.85, 0.15, 0.16];
        probabilities.extend(std::iter::repeat_n(0.99, 200));
        let chosen = select_significant(probabilities);
        assert_eq!(chosen.len(), SIGNIFICANT_TOKENS_MAX);
        assert!(chosen.iter().all(|&p| p == 0.99));

        let chosen = select_significant(vec![0.5, 0.6, 0.84, 0.85, 0.15, 0.16, 0.01]);
        assert_eq!(chosen, vec![0.01, 0.85, 0.15]);
    }

    #[test]
    fn frexp_splits_normal_and_subnormal_values() {
        for value in [1.0, 0.75, 1e-250, 5e-324, 3.0e-310] {
            let (mantissa, exponent) = frexp(value);
            assert!((0.5..1.0).contains(&mantissa), "{value}: {mantissa}");
            // Two steps, because 2^-1073 alone underflows to zero.
            let half = exponent as i32 / 2;
            let back = mantissa * 2f64.powi(half) * 2f64.powi(exponent as i32 - half);
            assert_eq!(back, value, "{value}");
        }
    }
}
