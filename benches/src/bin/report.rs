//! Runs a short version of every benchmark in one process and writes
//! `BENCHMARKS.md` (at the workspace root) and its plots (`benches/plots/`).
//!
//! ```text
//! cargo run -p concur-benches --release --bin report [-- --quick | --soak [CSV]]
//! ```
//!
//! Each throughput case is calibrated to about 20 ms per sample, then
//! sampled 15 times, round-robin with the other cases of its group so that
//! drift in the machine's speed hits every case alike (each round starts
//! one case later: no case always runs first); the table shows the
//! median. Latencies are distributions of single events. `--quick` takes 5
//! samples of about 5 ms (for a smoke run; not for publishing). `--soak`
//! only draws the soak harness's CSV (default: the committed 30-minute
//! run's) into `benches/plots/soak.svg`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use concur_benches::latency;
use concur_benches::measure::{measure_group, Settings};
use concur_benches::render::{bar_chart, fmt_d, fmt_ns, machine};
use concur_benches::waits::{self, Lock};
use concur_benches::{sizes, task_latency, throughput_groups};

struct Bar {
    what: String,
    measured: String,
    met: bool,
}

/// Which side of a bar a ratio must be on.
#[derive(Clone, Copy)]
enum Limit {
    AtMost(f64),
    AtLeast(f64),
}

impl Limit {
    fn allows(self, ratio: f64) -> bool {
        match self {
            Limit::AtMost(limit) => ratio <= limit,
            Limit::AtLeast(limit) => ratio >= limit,
        }
    }
}

/// The benchmark issue's bars on the ratio of two cases of one group:
/// (description, group, numerator case, denominator case, limit).
#[rustfmt::skip]
const RATIO_BARS: [(&str, &str, &str, &str, Limit); 36] = [
    ("Mutex uncontended, concur ÷ std (≤ 1.05)", "mutex_uncontended", "concur", "std", Limit::AtMost(1.05)),
    ("Mutex uncontended, concur ÷ parking_lot (≤ 1.0)", "mutex_uncontended", "concur", "parking_lot", Limit::AtMost(1.0)),
    ("lock_ctx(background) ÷ lock() (≤ 1.05)", "mutex_uncontended", "concur_lock_ctx_background", "concur", Limit::AtMost(1.05)),
    ("lock_ctx(live context) ÷ lock() (≤ 1.3)", "mutex_uncontended", "concur_lock_ctx_live", "concur", Limit::AtMost(1.3)),
    ("Semaphore uncontended, try_acquire ÷ tokio try_acquire (≤ 0.6)", "semaphore_uncontended", "concur_try_acquire", "tokio_try_acquire", Limit::AtMost(0.6)),
    ("Async acquire+release uncontended, concur ÷ tokio (≤ 0.6)", "semaphore_async_uncontended", "concur", "tokio", Limit::AtMost(0.6)),
    ("Async acquire+release uncontended, concur ÷ async-lock (≤ 0.6)", "semaphore_async_uncontended", "concur", "async_lock", Limit::AtMost(0.6)),
    ("Async acquire, 8 tasks on 2 workers, 1 permit, concur ÷ tokio (≤ 1.0)", "semaphore_async_contended_8", "concur", "tokio", Limit::AtMost(1.0)),
    ("Async acquire with a live context ÷ background (≤ 1.3)", "semaphore_async_uncontended", "concur_live_context", "concur", Limit::AtMost(1.3)),
    ("Async mutex lock+unlock uncontended, concur ÷ tokio (≤ 0.6)", "mutex_async_uncontended", "concur", "tokio", Limit::AtMost(0.6)),
    ("Async mutex, 8 tasks on 2 workers, held across a yield, concur ÷ tokio (≤ 1.0)", "mutex_async_contended_8", "concur", "tokio", Limit::AtMost(1.0)),
    ("Semaphore(1) shared by 2 threads and 8 tasks, concur ÷ tokio (≤ 1.0)", "semaphore_mixed", "concur", "tokio", Limit::AtMost(1.0)),
    ("Semaphore(1) contended, 2 threads, concur ÷ tokio (≤ 0.25)", "semaphore_contended_2", "concur", "tokio", Limit::AtMost(0.25)),
    ("Mutex contended, 2 threads, concur ÷ parking_lot (≤ 1.1)", "mutex_contended_2", "concur", "parking_lot", Limit::AtMost(1.1)),
    ("Mutex contended, 8 threads, concur ÷ parking_lot (≤ 1.1)", "mutex_contended_8", "concur", "parking_lot", Limit::AtMost(1.1)),
    ("RwLock writers contended, 2 threads, concur ÷ parking_lot (≤ 1.1)", "rwlock_write_contended_2", "concur", "parking_lot", Limit::AtMost(1.1)),
    ("RwLock writers contended, 8 threads, concur ÷ parking_lot (≤ 1.1)", "rwlock_write_contended_8", "concur", "parking_lot", Limit::AtMost(1.1)),
    ("Fan-out, concur group ÷ rayon scope (≤ 1.5)", "fanout_10000", "concur_group", "rayon_scope", Limit::AtMost(1.5)),
    ("Fan-out, concur scope ÷ rayon scope (≤ 1.5)", "fanout_10000", "concur_scope", "rayon_scope", Limit::AtMost(1.5)),
    ("Fan-out of 100 × 10 µs on started workers ÷ the floor (≤ 1.1)", "fanout_100x10us", "concur_group", "floor_two_threads", Limit::AtMost(1.1)),
    ("Fan-out, thread per task ÷ concur group (≥ 100)", "fanout_10000", "thread_per_task", "concur_group", Limit::AtLeast(100.0)),
    ("WaitGroup, concur ÷ crossbeam (≤ 0.5)", "wait_group_100", "concur", "crossbeam", Limit::AtMost(0.5)),
    ("Pool, concur ÷ Mutex<Vec> pool (≤ 0.5)", "pool_get_put", "concur", "mutex_vec", Limit::AtMost(0.5)),
    ("Pool, concur ÷ thread-local free list (≤ 0.8)", "pool_get_put", "concur", "thread_local", Limit::AtMost(0.8)),
    ("Pool, 8 threads, concur ÷ Mutex<Vec> pool (≤ 0.15)", "pool_get_put_8", "concur", "mutex_vec", Limit::AtMost(0.15)),
    ("Pool, 8 threads, concur ÷ thread-local free lists (≤ 1.0)", "pool_get_put_8", "concur", "thread_local", Limit::AtMost(1.0)),
    ("Once fast path (1,024 cells), concur ÷ OnceLock (≤ 1.1)", "once_get_1024", "concur", "std_once_lock", Limit::AtMost(1.1)),
    ("Once fast path (1,024 cells), concur ÷ LazyLock (≤ 1.1)", "once_get_1024", "concur", "std_lazy_lock", Limit::AtMost(1.1)),
    ("try_lock_for on a free mutex ÷ parking_lot try_lock_for (≤ 1.2)", "timeout_free", "concur_try_lock_for", "parking_lot_try_lock_for", Limit::AtMost(1.2)),
    ("try_acquire_for on a free permit ÷ parking_lot try_lock_for (≤ 1.2)", "timeout_free", "concur_semaphore_try_acquire_for", "parking_lot_try_lock_for", Limit::AtMost(1.2)),
    ("with_timeout + lock_ctx ÷ (Instant::now + parking_lot try_lock_for) (≤ 1.2)", "timeout_free", "concur_with_timeout_lock_ctx", "now_plus_parking_lot_try_lock_for", Limit::AtMost(1.2)),
    ("Mutex after 1,000 interrupted waiters ÷ fresh (≤ 1.05)", "mutex_after_interrupts", "concur_after_1000_interrupts", "concur_fresh", Limit::AtMost(1.05)),
    ("Condvar ping-pong, concur ÷ std (≤ 1.05)", "condvar_pingpong", "concur", "std", Limit::AtMost(1.05)),
    ("Condvar ping-pong, concur ÷ parking_lot (≤ 1.05)", "condvar_pingpong", "concur", "parking_lot", Limit::AtMost(1.05)),
    ("notify_all of 8, concur ÷ parking_lot (≤ 1.2)", "condvar_notify_all_8", "concur", "parking_lot", Limit::AtMost(1.2)),
    ("notify_all of 8, the chain ÷ a stampede of notify_one (≤ 1.0)", "condvar_notify_all_8", "concur", "concur_stampede", Limit::AtMost(1.0)),
];

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let settings = if quick {
        Settings {
            samples: 5,
            target: Duration::from_millis(5),
            pings: 2_000,
            cancels: 200,
            deadlines: 50,
            lock_waits: 50_000,
        }
    } else {
        Settings {
            samples: 15,
            target: Duration::from_millis(20),
            pings: 20_000,
            cancels: 2_000,
            deadlines: 1_000,
            lock_waits: 500_000,
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if concur_benches::soak_plot::plot_only(&root) {
        return;
    }
    let previous = std::fs::read_to_string(root.join("BENCHMARKS.md")).ok(); // to compare with
    let started = Instant::now();

    let mut results = Vec::new();
    for group in throughput_groups() {
        let began = Instant::now();
        let name = group.name;
        results.push(measure_group(group, &settings));
        eprintln!("measured {name} in {:.1} s", began.elapsed().as_secs_f64());
    }
    eprintln!("measuring latency distributions");
    let mut dists = latency::distributions(settings.pings, settings.cancels, settings.deadlines);
    dists.extend(task_latency::distributions(settings.cancels));
    dists.extend(waits::distributions(settings.lock_waits));
    eprintln!("measuring debug mode's cost (builds the probe with --cfg concur_debug)");
    let debug_cost =
        concur_benches::debug_cost::measure(&root, if quick { 2 } else { 7 }, &settings);
    let elapsed = started.elapsed();

    let group = |name: &str| {
        results
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    };
    let dist = |name: &str| {
        dists
            .iter()
            .find(|d| d.name == name)
            .expect("a distribution")
    };
    let mut bars: Vec<Bar> = RATIO_BARS
        .iter()
        .map(|&(what, g, a, b, limit)| {
            let ratio = group(g).ns(a) / group(g).ns(b);
            Bar {
                what: what.to_string(),
                measured: format!("{ratio:.2}x"),
                met: limit.allows(ratio),
            }
        })
        .collect();
    let wake_median = |name| dist(name).quantile(0.5).as_secs_f64();
    let wake_ratio = wake_median("wakeup_concur") / wake_median("wakeup_std_condvar");
    let wake_p99_one = dist("wakeup_concur").quantile(0.99) / 2;
    let cancel_p99 = dist("cancel_concur").quantile(0.99);
    let overshoot_p99 = dist("deadline_overshoot_concur").quantile(0.99);
    bars.extend([
        Bar {
            what: "Wake-up median, concur ÷ std Condvar (≤ 1.0)".into(),
            measured: format!("{wake_ratio:.2}x"),
            met: Limit::AtMost(1.0).allows(wake_ratio),
        },
        Bar {
            what: "Cancel p99 ≤ 2 × one wake-up's p99 (half concur's round-trip p99)".into(),
            measured: format!("{} vs 2 × {}", fmt_d(cancel_p99), fmt_d(wake_p99_one)),
            met: cancel_p99 <= wake_p99_one * 2,
        },
        Bar {
            what: "Deadline overshoot p99 < 1 ms".into(),
            measured: fmt_d(overshoot_p99),
            met: overshoot_p99 < Duration::from_millis(1),
        },
    ]);
    // The async twins' latencies, each beside the tokio way (p50, p99).
    for (what, ours, theirs, limit) in [
        ("Task wake-up", "task_wake_concur", "task_wake_tokio", 1.2),
        (
            "Task cancel",
            "task_cancel_concur",
            "task_cancel_tokio",
            1.2,
        ),
        (
            "Task deadline overshoot",
            "task_deadline_overshoot_concur",
            "task_deadline_overshoot_tokio",
            1.0,
        ),
    ] {
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let ratio =
                dist(ours).quantile(q).as_secs_f64() / dist(theirs).quantile(q).as_secs_f64();
            bars.push(Bar {
                what: format!("{what} {label}, concur ÷ tokio (≤ {limit})"),
                measured: format!(
                    "{ratio:.2}x ({} vs {})",
                    fmt_d(dist(ours).quantile(q)),
                    fmt_d(dist(theirs).quantile(q))
                ),
                met: Limit::AtMost(limit).allows(ratio),
            });
        }
    }
    // Fairness: the tail of the waits behind the throughput.
    for threads in [2, 8] {
        let p999 = |lock: Lock| dist(lock.series(threads)).quantile(0.999);
        let max = |lock: Lock| *dist(lock.series(threads)).sorted.last().expect("samples");
        let (ours, theirs) = (p999(Lock::Concur), p999(Lock::ParkingLot));
        bars.push(Bar {
            what: format!(
                "Lock wait p99.9, {threads} threads, concur ≤ parking_lot (longest waits beside)"
            ),
            measured: format!(
                "{} vs {} (max {} vs {})",
                fmt_d(ours),
                fmt_d(theirs),
                fmt_d(max(Lock::Concur)),
                fmt_d(max(Lock::ParkingLot))
            ),
            met: ours <= theirs,
        });
    }
    // Both sleep in the kernel's timed futex: nothing may be added on top.
    let anchor = dist("deadline_overshoot_parking_lot");
    for (series, call) in [
        ("deadline_overshoot_concur_lock_ctx", "lock_ctx"),
        ("deadline_overshoot_concur", "acquire"),
    ] {
        for (q, label, limit) in [(0.5, "median", 1.2), (0.99, "p99", 1.5)] {
            let ratio = dist(series).quantile(q).as_secs_f64() / anchor.quantile(q).as_secs_f64();
            bars.push(Bar {
                what: format!(
                    "Deadline overshoot {label}, blocked {call} ÷ parking_lot try_lock_until (≤ {limit})"
                ),
                measured: format!("{ratio:.2}x"),
                met: Limit::AtMost(limit).allows(ratio),
            });
        }
    }

    // Plots.
    let plots = root.join("benches/plots");
    std::fs::create_dir_all(&plots).expect("create benches/plots");
    let latency_rows: Vec<(String, Vec<(&str, f64)>)> = dists
        .iter()
        .map(|d| {
            (
                d.name.to_string(),
                vec![
                    ("median", d.quantile(0.5).as_nanos() as f64),
                    ("p99", d.quantile(0.99).as_nanos() as f64),
                ],
            )
        })
        .collect();
    write(
        &plots.join("latency.svg"),
        &bar_chart("Latency: median and p99 (log scale)", &latency_rows),
    );
    let fan = group("fanout_10000");
    let fan_rows: Vec<(String, Vec<(&str, f64)>)> = fan
        .cases
        .iter()
        .map(|c| (c.name.to_string(), vec![("median per fan-out", c.ns)]))
        .collect();
    write(
        &plots.join("fanout.svg"),
        &bar_chart(
            "Fan-out of 10,000 tiny tasks, at most 2 at a time (log scale)",
            &fan_rows,
        ),
    );
    let mut contended_rows = Vec::new();
    for name in [
        "mutex_contended_2",
        "mutex_contended_8",
        "rwlock_write_contended_2",
        "rwlock_write_contended_8",
        "semaphore_contended_2",
        "semaphore_contended_8",
    ] {
        for c in &group(name).cases {
            contended_rows.push((format!("{name}: {}", c.name), vec![("per operation", c.ns)]));
        }
    }
    write(
        &plots.join("contended.svg"),
        &bar_chart("Contended, time per operation (log scale)", &contended_rows),
    );

    // The report.
    let mut md = String::new();
    let _ = writeln!(md, "# concur benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run -p concur-benches --release --bin report`{} in {:.0} s. \
         Machine: {}.\n",
        if quick {
            " -- --quick (a smoke run)"
        } else {
            ""
        },
        elapsed.as_secs_f64(),
        machine()
    );
    let _ = writeln!(
        md,
        "Every number below comes from this one run, all cases of a group measured side by \
         side (round-robin, each round starting one case later, {} samples of about {} ms each, median shown). Ratios are concur's \
         time divided by the other's: below 1.0, concur is faster. The same workloads run \
         under criterion with `cargo bench -p concur-benches` (cases in \
         `benches/src/`). On the 2-core VM this was made on, the uncontended rows move by \
         about 5% between runs (read ratios within 0.05 of a bar as at the bar); anything \
         that sleeps or contends (contended, latency, fan-out rows) moved by 2x or more \
         between runs, depending mostly on whether the other core was idle (idle cores \
         wake slowly).\n",
        settings.samples,
        settings.target.as_millis()
    );
    let _ = writeln!(md, "## The bars\n\n| bar | measured | met |\n|---|---|---|");
    for bar in &bars {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            bar.what,
            bar.measured,
            if bar.met { "yes" } else { "**no**" }
        );
    }
    let _ = writeln!(md, "\nNo uncontended path makes a system call, and a release makes none while nobody is parked: the core sleeps and wakes only through its `Park` (the futex), and `core/tests/syscalls.rs` runs every uncontended path of every primitive under a `Park` that counts its calls: zero. The counting-allocator test in `facade/tests/alloc.rs` shows the uncontended and blocking paths do not allocate either.\n");
    let _ = writeln!(md, "## Throughput and cost per operation\n");
    for g in &results {
        let base = g.cases[0].ns;
        let _ = writeln!(
            md,
            "### `{}`: {}\n\n| case | median | concur ÷ case |\n|---|---:|---:|",
            g.name, g.iteration
        );
        for c in &g.cases {
            let _ = writeln!(md, "| {} | {} | {:.2} |", c.name, fmt_ns(c.ns), base / c.ns);
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "![contended](benches/plots/contended.svg)\n\n![fan-out](benches/plots/fanout.svg)\n"
    );
    let _ = writeln!(md, "## Latency distributions\n\n| series | what | samples | median | p90 | p99 | p99.9 | max |\n|---|---|---:|---:|---:|---:|---:|---:|");
    for d in &dists {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            d.name,
            d.what,
            d.sorted.len(),
            fmt_d(d.quantile(0.5)),
            fmt_d(d.quantile(0.9)),
            fmt_d(d.quantile(0.99)),
            fmt_d(d.quantile(0.999)),
            fmt_d(*d.sorted.last().expect("samples"))
        );
    }
    let _ = writeln!(md, "\n![latency](benches/plots/latency.svg)\n");
    if let Some(previous) = &previous {
        md.push_str(&concur_benches::previous::section(previous, &results));
        md.push('\n');
    }
    md.push_str(&concur_benches::debug_cost::section(&debug_cost));
    let _ = writeln!(md, "## Sizes (bytes, this target)\n");
    let _ = writeln!(
        md,
        "| primitive | {} |\n|---|{}",
        sizes::COLUMNS.join(" | "),
        "---:|".repeat(sizes::COLUMNS.len())
    );
    for row in sizes::table() {
        let cells: Vec<String> = row
            .sizes
            .iter()
            .map(|(_, s)| s.map_or_else(|| "–".to_string(), |s| s.to_string()))
            .collect();
        let _ = writeln!(md, "| {} | {} |", row.primitive, cells.join(" | "));
    }
    write(&root.join("BENCHMARKS.md"), &md);
    eprintln!(
        "wrote BENCHMARKS.md and benches/plots/ in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
