//! Registers the registry's groups (`concur_benches`) with criterion.

use concur_benches::Group;
use criterion::Criterion;

/// Benches every case of every group, as criterion groups of the same
/// names. `samples` overrides criterion's sample count (for slow cases).
pub fn bench_groups(c: &mut Criterion, groups: Vec<Group>, samples: Option<usize>) {
    for group in groups {
        let mut g = c.benchmark_group(group.name);
        if let Some(samples) = samples {
            g.sample_size(samples);
        }
        for mut case in group.cases {
            g.bench_function(case.name, |b| b.iter_custom(|iters| (case.run)(iters)));
        }
        g.finish();
    }
}
