//! One soak run: start everything, print the figures every interval, stop,
//! and check that nothing was lost.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use concur_soak::server::{Config, Server, ShutdownReport};
use concur_sync::Context;

use super::args::Args;
use super::faults::{self, FaultStats};
use super::histogram::Histogram;
use super::{hammer, heap, load, process};

/// Resident memory at the end may exceed its value after the first
/// interval by this fraction plus [`RSS_SLACK_KIB`], and no more.
pub const RSS_GROWTH: f64 = 0.25;
/// Absolute slack on the memory bound (allocator and runtime noise).
pub const RSS_SLACK_KIB: u64 = 8 * 1024;
/// The heap in use at the end may exceed its value after the first
/// interval by this fraction plus [`HEAP_SLACK_KIB`]: what the run keeps
/// (the store's keys, pooled buffers) is there after a minute, so growth
/// beyond is a leak.
pub const HEAP_GROWTH: f64 = 0.10;
/// Absolute slack on the heap bound (a burst's tasks freed a moment late).
pub const HEAP_SLACK_KIB: u64 = 1024;
/// Threads that start lazily on first use and live as long as the process
/// (concur's timer, async-io's reactor), so may outlive the run.
const BACKGROUND_THREADS: [&str; 3] = ["concur-timer", "async-io", "concur-watchdog"];

/// Runs the soak; `Err` lists every invariant that failed.
pub fn run(args: &Args) -> Result<(), Vec<String>> {
    quiet_injected_panics();
    let threads_before = process::thread_names();
    let server = Server::start(Config {
        addr: ([127, 0, 0, 1], 0).into(),
        async_addr: ([127, 0, 0, 1], 0).into(),
        faults: args.faults,
        ..Config::default()
    })
    .map_err(|e| vec![format!("server did not start: {e}")])?;
    let addrs = [server.addr(), server.async_addr()];
    println!(
        "soak: {:?} against {} (threads) and {} (tasks); {} connections, {} hammer threads, faults {}",
        args.duration,
        addrs[0],
        addrs[1],
        args.connections,
        args.hammer,
        if args.faults { "on" } else { "off" }
    );
    // Every part of the run stops when this ends.
    let run_ctx = Context::background().with_timeout(args.duration);
    let (load_stats, clients) = load::start(addrs, args.connections, &run_ctx, args.max_requests);
    let (hammered, hammers) = hammer::start(args.hammer, &run_ctx);
    let fault_stats = Arc::new(FaultStats::default());
    let injector = args.faults.then(|| {
        let (ctx, stats) = (run_ctx.clone(), fault_stats.clone());
        thread::Builder::new()
            .name("soak-faults".into())
            .spawn(move || faults::run(addrs, &ctx, &stats, Duration::from_millis(100), 300))
            .expect("spawn the fault injector")
    });

    let memory = report_intervals(
        args,
        &run_ctx,
        &load_stats,
        &hammered,
        &fault_stats,
        &server,
    );

    let mut problems = Vec::new();
    for handle in clients.into_iter().chain(hammers).chain(injector) {
        if handle.join().is_err() {
            problems.push("a harness thread panicked".to_string());
        }
    }
    problems.extend(load_stats.failures.lock().drain(..));
    let (sent, answered) = (
        load_stats.sent.load(Relaxed),
        load_stats.answered.load(Relaxed),
    );
    if sent != answered {
        problems.push(format!("{sent} requests sent, {answered} answered"));
    }
    let errors = load_stats.errors.load(Relaxed);
    if errors * 1_000_000 > answered * load::MAX_ERRORS_PER_MILLION {
        problems.push(format!(
            "{errors} of {answered} requests answered ERR (at most {} per million)",
            load::MAX_ERRORS_PER_MILLION
        ));
    }
    problems.extend(hammered.check());
    problems.extend(fault_stats.failures.lock().drain(..));
    if args.faults {
        check_faults_injected(&fault_stats, &mut problems);
    }
    let service = server.service().clone();
    service.shutdown();
    let report = server.wait();
    println!("server: {report}");
    check_server(&service, &report, &fault_stats, &mut problems);
    check_threads(&threads_before, &mut problems);
    check_memory(memory, &mut problems);
    println!(
        "totals: {answered} requests ({errors} answered ERR), {} hammer operations, {} KiB resident at the end",
        hammered.ops.load(Relaxed),
        process::rss_kib()
    );
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems),
    }
}

/// Prints a figure line and a CSV row every interval until the run ends;
/// returns the memory figures after the first interval and at the last.
fn report_intervals(
    args: &Args,
    run_ctx: &Context,
    load: &load::LoadStats,
    hammered: &hammer::Hammered,
    faults: &FaultStats,
    server: &Server,
) -> (Memory, Memory) {
    let start = Instant::now();
    let mut csv = String::from(
        "elapsed_s,requests,requests_per_s,p50_us,p99_us,max_us,rss_kib,heap_kib,fds,threads,hammer_ops,panics,disconnects,expired,bursts\n",
    );
    let (mut first, mut last, mut last_ops) = (None, Memory::default(), 0);
    let mut tick = 0u32;
    while !run_ctx.is_done() {
        tick += 1;
        let boundary = start + args.interval * tick;
        let _ = run_ctx.with_deadline(boundary).wait();
        let elapsed = start.elapsed().as_secs_f64();
        let window: Histogram = load::take_window(load);
        let seconds = elapsed - args.interval.as_secs_f64() * f64::from(tick - 1);
        let (rss, heap) = (process::rss_kib(), heap::in_use_kib());
        let ops = hammered.ops.load(Relaxed);
        let us = |q: f64| window.quantile(q) as f64 / 1e3;
        let hammer_ops = ops - last_ops;
        let row = [
            format!("{elapsed:.1}"),
            window.count().to_string(),
            format!("{:.0}", window.count() as f64 / seconds.max(1e-3)),
            format!("{:.1}", us(0.5)),
            format!("{:.1}", us(0.99)),
            format!("{:.1}", window.max() as f64 / 1e3),
            rss.to_string(),
            heap.to_string(),
            process::fds().to_string(),
            process::thread_names().len().to_string(),
            hammer_ops.to_string(),
            faults.panics.load(Relaxed).to_string(),
            faults.disconnects.load(Relaxed).to_string(),
            faults.expired.load(Relaxed).to_string(),
            faults.bursts.load(Relaxed).to_string(),
        ];
        let _ = writeln!(csv, "{}", row.join(","));
        println!(
            "[{:>6.0} s] {:>7} req/s  p50 {:>7} µs  p99 {:>8} µs  max {:>9} µs  rss {:>7} KiB  heap {:>6} KiB  fds {:>3}  threads {:>3}  hammer {:>8} ops  keys {:>5}  faults: {} panics {} disconnects {} expired {} bursts",
            elapsed, row[2], row[3], row[4], row[5], rss, heap, row[8], row[9],
            hammer_ops, server.service().keys(), row[11], row[12], row[13], row[14],
        );
        last_ops = ops;
        last = Memory { rss, heap };
        first.get_or_insert(last);
    }
    if let Some(dir) = args.csv.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&args.csv, csv) {
        Ok(()) => println!("figures: {}", args.csv.display()),
        Err(e) => eprintln!("could not write {}: {e}", args.csv.display()),
    }
    (first.unwrap_or_default(), last)
}

/// Resident memory and heap in use, in KiB.
#[derive(Clone, Copy, Debug, Default)]
struct Memory {
    rss: u64,
    heap: u64,
}

fn check_faults_injected(faults: &FaultStats, problems: &mut Vec<String>) {
    for (name, count) in [
        ("panicking handlers", &faults.panics),
        ("mid-request disconnects", &faults.disconnects),
        ("past-deadline requests", &faults.expired),
        ("cancellation bursts", &faults.bursts),
    ] {
        if count.load(Relaxed) == 0 {
            problems.push(format!("no {name} were injected: the run is too short"));
        }
    }
    println!(
        "faults: {} handler panics, {} disconnects mid-request, {} past deadlines, {} bursts of {} cancellations (slowest {} µs), all survived",
        faults.panics.load(Relaxed),
        faults.disconnects.load(Relaxed),
        faults.expired.load(Relaxed),
        faults.bursts.load(Relaxed),
        super::burst::TOTAL,
        faults.burst_max_micros.load(Relaxed),
    );
}

fn check_server(
    service: &concur_soak::server::Service,
    report: &ShutdownReport,
    faults: &FaultStats,
    problems: &mut Vec<String>,
) {
    let c = &service.counters;
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(format!("server: {what}"));
        }
    };
    check(!report.hard_stopped, "the drain needed a hard stop".into());
    check(
        report.cancelled_requests == 0,
        format!("{} requests cancelled", report.cancelled_requests),
    );
    check(
        report.task_permits_back,
        "a connection permit of the task listener is missing".into(),
    );
    let writes = service.writes();
    let (available, capacity) = (writes.available(), writes.capacity());
    check(
        available == capacity,
        format!("{available} of {capacity} write permits back"),
    );
    check(
        writes.waiters() == 0,
        format!("{} writers still queued", writes.waiters()),
    );
    for (name, gauge) in [
        ("requests in flight", &c.in_flight),
        ("connections open", &c.connections),
    ] {
        check(
            gauge.load(Relaxed) == 0,
            format!("{} {name} after shutdown", gauge.load(Relaxed)),
        );
    }
    // With faults off, none injected and none may happen.
    let injected = faults.panics.load(Relaxed);
    check(
        c.panics.load(Relaxed) == injected,
        format!(
            "{injected} PANIC requests, {} handler panics",
            c.panics.load(Relaxed)
        ),
    );
    // Every thread handler that failed is one the injector made panic.
    let thread_panics = faults.thread_panics.load(Relaxed);
    check(
        report.failed_handlers as u64 == thread_panics,
        format!(
            "{} thread handlers failed, {thread_panics} PANICs sent to them; first errors: {:?}",
            report.failed_handlers, report.first_errors
        ),
    );
}

/// Every thread the run started has ended, apart from the process-lifetime
/// background threads.
fn check_threads(before: &[String], problems: &mut Vec<String>) {
    let mut extra = process::thread_names();
    for name in before {
        if let Some(i) = extra.iter().position(|n| n == name) {
            extra.remove(i);
        }
    }
    extra.retain(|n| !BACKGROUND_THREADS.contains(&n.as_str()));
    if !extra.is_empty() {
        problems.push(format!("threads still running after the run: {extra:?}"));
    }
}

fn check_memory((first, last): (Memory, Memory), problems: &mut Vec<String>) {
    let rss_bound = (first.rss as f64 * (1.0 + RSS_GROWTH)) as u64 + RSS_SLACK_KIB;
    let heap_bound = (first.heap as f64 * (1.0 + HEAP_GROWTH)) as u64 + HEAP_SLACK_KIB;
    println!(
        "memory: resident {} KiB after the first interval, {} KiB at the last (bound {rss_bound} KiB: +{:.0}% + {} MiB); heap in use {} KiB and {} KiB (bound {heap_bound} KiB: +{:.0}% + {} MiB)",
        first.rss,
        last.rss,
        RSS_GROWTH * 100.0,
        RSS_SLACK_KIB / 1024,
        first.heap,
        last.heap,
        HEAP_GROWTH * 100.0,
        HEAP_SLACK_KIB / 1024,
    );
    if last.rss > rss_bound {
        problems.push(format!(
            "resident memory grew from {} KiB to {} KiB (bound {rss_bound} KiB)",
            first.rss, last.rss
        ));
    }
    if last.heap > heap_bound {
        problems.push(format!(
            "heap in use grew from {} KiB to {} KiB (bound {heap_bound} KiB): a leak",
            first.heap, last.heap
        ));
    }
}

/// The panics the run injects on purpose are counted, not printed; any
/// other panic still reaches the default hook.
fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        if !(message.contains("fault injection") || message.contains("soak: injected")) {
            default(info);
        }
    }));
}
