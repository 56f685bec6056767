//! A log-linear latency histogram: 16 buckets per power of two, so a
//! percentile is within 1/16 (6.25%) of the true value, in a fixed 8 KiB
//! that recording never grows.

const SUB: u32 = 4; // 2^4 buckets per power of two
const BUCKETS: usize = ((64 - SUB as usize) + 1) << SUB;

/// Counts of nanosecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < (1 << SUB) {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB
    let sub = (v >> (exp - SUB)) & ((1 << SUB) - 1);
    (((exp - SUB + 1) as usize) << SUB) + sub as usize
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < (1 << SUB) {
        return i as u64;
    }
    let exp = (i >> SUB) as u32 + SUB - 1;
    let sub = (i & ((1 << SUB) - 1)) as u64;
    let low = (1u64 << exp) | (sub << (exp - SUB));
    low + ((1u64 << (exp - SUB)) - 1)
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value counted (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0..=1), as its bucket's upper bound (never above
    /// the maximum); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_and_bound() {
        for v in [0, 1, 15, 16, 17, 31, 32, 1000, 123_456_789, u64::MAX] {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(upper(i) >= v, "{v}: upper {}", upper(i));
            if v >= 16 {
                assert!((upper(i) - v) as f64 <= v as f64 / 16.0, "{v}");
            }
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.07, "{p50}");
        assert_eq!(h.quantile(1.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);
        let mut other = Histogram::default();
        other.record(5_000_000);
        h.merge(&other);
        assert_eq!((h.count(), h.max()), (1001, 5_000_000));
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }
}
