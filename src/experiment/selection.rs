//! Exact order statistics in bounded memory, over data that can be read again: the k-th
//! smallest of a stream of floats found in a few passes, never holding more than
//! [`CANDIDATES`] values and a histogram of [`BUCKETS`] counts, whatever the stream's length.
//!
//! Values are ordered as `f64::total_cmp` orders them (so `-0.0 < 0.0`), through
//! [`order_key`], a bijection onto `u64` that keeps that order. Each pass counts the values
//! whose key lies in the range known to hold the wanted rank, and keeps them while there are
//! at most [`CANDIDATES`]; at the end of the pass either the candidates are sorted and the
//! answer read off, or the range narrows to the one histogram bucket holding the rank (a
//! 256th of it). A range of one key is an answer too (all values in it are equal), so a
//! selection ends after at most 9 passes; usually the first ends it.

/// How many values of the current range a selector keeps before it narrows instead.
pub const CANDIDATES: usize = 1024;
/// Buckets of the histogram a range is split into when it holds more than [`CANDIDATES`].
pub const BUCKETS: usize = 256;

/// The position of `x` in `f64::total_cmp` order, as an unsigned integer: for any `a`, `b`,
/// `order_key(a).cmp(&order_key(b)) == a.total_cmp(&b)`.
pub fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The inverse of [`order_key`].
pub fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

/// Finds the value of rank `rank` (0-based, in `total_cmp` order) among the values passed to
/// [`RankSelector::see`], over as many passes as it needs. Every pass must see the same
/// values (in any order); between passes call [`RankSelector::end_pass`].
#[derive(Clone, Debug)]
pub struct RankSelector {
    rank: u64,
    /// The inclusive key range known to hold the rank.
    lo: u64,
    hi: u64,
    /// Values seen (in every pass) with a key below `lo`.
    below: u64,
    /// This pass: values with a key in `lo..=hi`, the first [`CANDIDATES`] of them, and the
    /// histogram of their keys.
    in_range: u64,
    candidates: Vec<f64>,
    counts: Box<[u64; BUCKETS]>,
    answer: Option<f64>,
}

impl RankSelector {
    /// A selector for the value of rank `rank` among values that all lie in `min..=max`
    /// (in `total_cmp` order; a wider range only costs passes).
    pub fn new(rank: u64, min: f64, max: f64) -> RankSelector {
        let (lo, hi) = (order_key(min), order_key(max));
        assert!(lo <= hi, "min {min} is above max {max}");
        RankSelector {
            rank,
            lo,
            hi,
            below: 0,
            in_range: 0,
            candidates: Vec::new(),
            counts: Box::new([0; BUCKETS]),
            answer: None,
        }
    }

    /// The answer, once a pass has found it.
    pub fn answer(&self) -> Option<f64> {
        self.answer
    }

    /// The width of a bucket of the current range (at least 1).
    fn width(&self) -> u64 {
        (self.hi - self.lo) / BUCKETS as u64 + 1
    }

    /// Takes one value of this pass.
    pub fn see(&mut self, x: f64) {
        if self.answer.is_some() {
            return;
        }
        let key = order_key(x);
        if key < self.lo || key > self.hi {
            return;
        }
        self.in_range += 1;
        if self.candidates.len() < CANDIDATES {
            self.candidates.push(x);
        }
        self.counts[((key - self.lo) / self.width()) as usize] += 1;
    }

    /// Ends a pass: finds the answer or narrows the range. Returns whether it is found.
    ///
    /// Panics if the pass did not see the values it must have (the rank is not in range):
    /// every pass must see the same values.
    pub fn end_pass(&mut self) -> bool {
        if self.answer.is_some() {
            return true;
        }
        let want = self.rank.checked_sub(self.below).filter(|&w| w < self.in_range);
        let want = want.unwrap_or_else(|| {
            panic!("rank {} is not among the {} values in range: the passes differ", self.rank, self.in_range)
        });
        if self.in_range as usize <= CANDIDATES {
            self.candidates.sort_by(f64::total_cmp);
            self.answer = Some(self.candidates[want as usize]);
        } else if self.lo == self.hi {
            self.answer = Some(from_order_key(self.lo));
        } else {
            let width = self.width();
            let mut before = 0;
            for (b, &count) in self.counts.iter().enumerate() {
                if before + count > want {
                    let lo = self.lo + b as u64 * width;
                    self.hi = self.hi.min(lo + (width - 1));
                    self.lo = lo;
                    self.below += before;
                    break;
                }
                before += count;
            }
        }
        self.in_range = 0;
        self.candidates.clear();
        self.counts.fill(0);
        if self.answer.is_some() {
            self.candidates = Vec::new();
        }
        self.answer.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs selectors for every rank in `ranks` over `values` until all are found; returns
    /// the answers and the passes taken.
    fn select(values: &[f64], ranks: &[u64]) -> (Vec<f64>, usize) {
        let min = values.iter().copied().min_by(f64::total_cmp).unwrap();
        let max = values.iter().copied().max_by(f64::total_cmp).unwrap();
        let mut selectors: Vec<RankSelector> =
            ranks.iter().map(|&r| RankSelector::new(r, min, max)).collect();
        let mut passes = 0;
        loop {
            passes += 1;
            for &v in values {
                selectors.iter_mut().for_each(|s| s.see(v));
            }
            if selectors.iter_mut().map(|s| s.end_pass()).fold(true, |a, b| a & b) {
                break;
            }
            assert!(passes < 20, "a selection ends");
        }
        (selectors.iter().map(|s| s.answer().unwrap()).collect(), passes)
    }

    fn sorted(values: &[f64]) -> Vec<f64> {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        s
    }

    #[test]
    fn order_keys_keep_total_order_and_invert() {
        let xs =
            [f64::NEG_INFINITY, -1e300, -1.5, -f64::MIN_POSITIVE, -0.0, 0.0, 5e-324, 1.0, 2.5, f64::INFINITY];
        for pair in xs.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
        }
        for x in xs {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn few_values_take_one_pass() {
        let values = [3.0, 1.0, 2.0, -0.0, 0.0];
        let (answers, passes) = select(&values, &[0, 1, 2, 4]);
        assert_eq!(passes, 1);
        assert_eq!(answers[0].to_bits(), (-0.0f64).to_bits());
        assert_eq!(answers[1].to_bits(), 0.0f64.to_bits());
        assert_eq!(&answers[2..], &[1.0, 3.0]);
    }

    #[test]
    fn many_ties_end_on_a_single_key() {
        // 5,000 zeros and 5,000 ones: far more than the candidates, all on two keys.
        let values: Vec<f64> = (0..10_000).map(|i| f64::from(i % 2)).collect();
        let (answers, passes) = select(&values, &[0, 4_999, 5_000, 9_999]);
        assert_eq!(answers, vec![0.0, 0.0, 1.0, 1.0]);
        assert!(passes <= 9, "{passes} passes");
    }

    #[test]
    fn spread_values_narrow_to_the_candidates() {
        // 50,000 distinct values over many magnitudes, in a scrambled order.
        let values: Vec<f64> =
            (0..50_000u64).map(|i| ((i * 7919) % 50_000) as f64 * 1.37 - 20_000.0).collect();
        let s = sorted(&values);
        let ranks = [0, 1, 24_999, 25_000, 47_499, 47_500, 49_999];
        let (answers, passes) = select(&values, &ranks);
        for (r, a) in ranks.iter().zip(answers) {
            assert_eq!(a.to_bits(), s[*r as usize].to_bits(), "rank {r}");
        }
        assert!((2..=9).contains(&passes), "{passes} passes");
    }

    #[test]
    #[allow(clippy::float_cmp)]
    fn extreme_ranges_are_exact() {
        let mut values = vec![f64::NEG_INFINITY, f64::INFINITY, -f64::MAX, f64::MAX];
        values.extend((0..3_000).map(|i| f64::from(i) * 1e-310));
        let s = sorted(&values);
        let ranks: Vec<u64> = (0..values.len() as u64).step_by(97).collect();
        let (answers, _) = select(&values, &ranks);
        for (r, a) in ranks.iter().zip(answers) {
            assert_eq!(a.to_bits(), s[*r as usize].to_bits(), "rank {r}");
        }
    }

    proptest! {
        #[test]
        fn selection_equals_sorting(
            values in prop::collection::vec(
                prop_oneof![
                    (-5i32..5).prop_map(f64::from),
                    any::<f64>().prop_filter("no NaN", |v| !v.is_nan()),
                    (0u32..4000).prop_map(|v| f64::from(v) / 8.0),
                ],
                1..4_000,
            ),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        ) {
            let s = sorted(&values);
            let ranks: Vec<u64> = picks.iter().map(|p| p.index(values.len()) as u64).collect();
            let (answers, _) = select(&values, &ranks);
            for (r, a) in ranks.iter().zip(answers) {
                prop_assert_eq!(a.to_bits(), s[*r as usize].to_bits());
            }
        }
    }
}
