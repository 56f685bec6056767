//! How the report binary writes: durations for tables, the machine line,
//! and SVG bar charts.

use std::fmt::Write as _;
use std::time::Duration;

/// Nanoseconds as ns, µs or ms with two decimals.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 100.0 {
        format!("{ns:.2} ns")
    } else if ns < 100_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// A duration as [`fmt_ns`] writes it.
pub fn fmt_d(d: Duration) -> String {
    fmt_ns(d.as_nanos() as f64)
}

/// The trimmed standard output of a command that succeeded.
pub fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The machine line of the report: CPU, cores, kernel, rustc, build, date.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| std::env::consts::OS.into());
    let rustc = command("rustc", &["--version"]).unwrap_or_else(|| "unknown rustc".into());
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    format!(
        "{cpu}, {cores} logical CPUs, Linux {kernel}, {rustc}, {} build; run {date}",
        if cfg!(debug_assertions) {
            "debug (not for publishing)"
        } else {
            "release"
        }
    )
}

/// A horizontal bar chart on a log scale: one row per label, one bar per
/// series, values in nanoseconds.
pub fn bar_chart(title: &str, rows: &[(String, Vec<(&str, f64)>)]) -> String {
    let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
    let series: Vec<&str> = rows
        .first()
        .map(|(_, bars)| bars.iter().map(|(s, _)| *s).collect())
        .unwrap_or_default();
    let values = rows.iter().flat_map(|(_, b)| b.iter().map(|(_, v)| *v));
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Whole decades around the values, with room below the smallest so its
    // bar is visible.
    let lo = 10f64.powf((lo.max(1e-3) / 2.0).log10().floor());
    let hi = 10f64.powf(hi.log10().ceil());
    let (left, width, bar_h, gap) = (230.0, 560.0, 14.0, 12.0);
    let row_h = bar_h * series.len() as f64 + gap;
    let height = 60.0 + row_h * rows.len() as f64 + 40.0;
    let x = |v: f64| left + width * (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10());
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">"#,
        w = left + width + 90.0
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>"#
    );
    let mut decade = lo;
    while decade <= hi * 1.0001 {
        let px = x(decade);
        let _ = write!(
            svg,
            r##"<line x1="{px}" y1="40" x2="{px}" y2="{y2}" stroke="#ddd"/><text x="{px}" y="{ty}" text-anchor="middle">{label}</text>"##,
            y2 = height - 35.0,
            ty = height - 20.0,
            label = fmt_ns(decade)
        );
        decade *= 10.0;
    }
    for (r, (label, bars)) in rows.iter().enumerate() {
        let y0 = 45.0 + r as f64 * row_h;
        let _ = write!(
            svg,
            r#"<text x="{tx}" y="{ty}" text-anchor="end">{label}</text>"#,
            tx = left - 8.0,
            ty = y0 + row_h / 2.0
        );
        for (s, (_, v)) in bars.iter().enumerate() {
            let y = y0 + s as f64 * bar_h;
            let _ = write!(
                svg,
                r#"<rect x="{left}" y="{y}" width="{w}" height="{h}" fill="{c}"/><text x="{tx}" y="{ty}" font-size="10">{v}</text>"#,
                w = (x(*v) - left).max(1.0),
                h = bar_h - 2.0,
                c = colors[s % colors.len()],
                tx = x(*v) + 4.0,
                ty = y + bar_h - 4.0,
                v = fmt_ns(*v)
            );
        }
    }
    for (s, name) in series.iter().enumerate() {
        let lx = left + s as f64 * 120.0;
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="28" width="10" height="10" fill="{c}"/><text x="{tx}" y="37">{name}</text>"#,
            c = colors[s % colors.len()],
            tx = lx + 14.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
