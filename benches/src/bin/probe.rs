//! Measures only the throughput groups named on the command line, the way
//! the report does (calibrated, round-robin, median of 15 samples), and
//! prints their tables: for iterating on one primitive without a full
//! report run. Writes nothing.
//!
//! ```text
//! cargo run -p concur-benches --release --bin probe -- mutex_contended condvar_
//! ```
//!
//! Each argument is a prefix of group names; `--waits` adds the contended
//! lock-wait distributions, `--tasks` the async twins' latencies; `--runs N` repeats the whole measurement N
//! times (a bar counts when the median of three runs meets it); `--case S`
//! keeps only the cases whose name contains `S`, or is `S` if it starts
//! with `=` (repeatable; for profiling one case).

use std::time::Duration;

use concur_benches::measure::{measure_group, Settings};
use concur_benches::render::{fmt_d, fmt_ns};
use concur_benches::throughput_groups;
use concur_benches::{task_latency, waits};

fn main() {
    let mut prefixes = Vec::new();
    let mut runs = 1;
    let mut waits = false;
    let mut tasks = false;
    let mut cases = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--waits" {
            waits = true;
        } else if arg == "--tasks" {
            tasks = true;
        } else if arg == "--case" {
            cases.push(args.next().expect("--case takes a name fragment"));
        } else if arg == "--runs" {
            runs = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--runs takes a count");
        } else {
            prefixes.push(arg);
        }
    }
    let settings = Settings {
        samples: 15,
        target: Duration::from_millis(20),
        pings: 0,
        cancels: 0,
        deadlines: 0,
        lock_waits: 500_000,
    };
    for run in 1..=runs {
        for group in throughput_groups()
            .into_iter()
            .filter(|g| prefixes.iter().any(|p| g.name.starts_with(p.as_str())))
        {
            let mut group = group;
            if !cases.is_empty() {
                group
                    .cases
                    .retain(|c| cases.iter().any(|s| case_matches(c.name, s)));
            }
            let result = measure_group(group, &settings);
            let base = result.cases[0].ns;
            println!("run {run}: {}", result.name);
            for case in &result.cases {
                println!(
                    "  {:<32} {:>10}  concur ÷ case {:.2}",
                    case.name,
                    fmt_ns(case.ns),
                    base / case.ns
                );
            }
        }
        let mut dists = Vec::new();
        if waits {
            dists.extend(waits::distributions(settings.lock_waits));
        }
        if tasks {
            dists.extend(task_latency::distributions(2_000));
        }
        {
            for d in dists {
                println!(
                    "run {run}: {:<28} n {:>8} p50 {:>9}  p99 {:>9}  p99.5 {:>9}  p99.8 {:>9}  p99.9 {:>9}  max {:>9}",
                    d.name,
                    d.sorted.len(),
                    fmt_d(d.quantile(0.5)),
                    fmt_d(d.quantile(0.99)),
                    fmt_d(d.quantile(0.995)),
                    fmt_d(d.quantile(0.998)),
                    fmt_d(d.quantile(0.999)),
                    fmt_d(*d.sorted.last().expect("samples"))
                );
            }
        }
    }
}

/// Whether case `name` is selected by `--case pattern`.
fn case_matches(name: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('=') {
        Some(exact) => name == exact,
        None => name.contains(pattern),
    }
}
