//! What debug mode (`--cfg concur_debug`) costs an uncontended lock: the
//! `mutex_uncontended` bench's concur case (lock, increment, unlock) in
//! this build and in a build with the cfg, for `BENCHMARKS.md`.
//!
//! A cfg changes the whole build, so the debug side is the `probe` binary
//! built with it (into `target/debug-cfg-release`) and run as a child
//! process; the two sides alternate run by run, so that the VM's noise
//! falls on both alike.

use std::path::Path;
use std::process::Command;

use crate::measure::{measure_group, median, Settings};
use crate::render::fmt_ns;
use crate::throughput_groups;

/// Alternating measurements, ns per lock+unlock.
pub struct DebugCost {
    /// This (production) build, one median of samples per run.
    pub production: Vec<f64>,
    /// The debug build, likewise.
    pub debug: Vec<f64>,
}

/// Builds the debug probe under `root` and measures `runs` pairs; `Err`
/// says why it could not (no cargo on the machine, a failed build).
pub fn measure(root: &Path, runs: usize, settings: &Settings) -> Result<DebugCost, String> {
    let target = root.join("target/debug-cfg-release");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("RUSTFLAGS", "--cfg concur_debug")
        .args([
            "build",
            "--release",
            "-p",
            "concur-benches",
            "--bin",
            "probe",
        ])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !built.success() {
        return Err(format!("building the debug probe failed ({built})"));
    }
    let probe = target.join("release/probe");
    let mut cost = DebugCost {
        production: Vec::new(),
        debug: Vec::new(),
    };
    for _ in 0..runs {
        let mut group = throughput_groups()
            .into_iter()
            .find(|g| g.name == "mutex_uncontended")
            .expect("the mutex_uncontended group");
        group.cases.truncate(1); // concur's
        cost.production
            .push(measure_group(group, settings).cases[0].ns);
        let out = Command::new(&probe)
            .args(["mutex_uncontended", "--case", "=concur"])
            .output()
            .map_err(|e| format!("running {}: {e}", probe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        cost.debug
            .push(parse_concur_ns(&text).ok_or_else(|| format!("probe said: {text}"))?);
    }
    Ok(cost)
}

/// The concur case's time in the probe's output (`  concur   13.16 ns  ...`).
fn parse_concur_ns(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("concur "))?;
    let mut words = line.split_whitespace().skip(1);
    let value: f64 = words.next()?.parse().ok()?;
    Some(match words.next()? {
        "ns" => value,
        "µs" => value * 1e3,
        "ms" => value * 1e6,
        _ => return None,
    })
}

/// The `BENCHMARKS.md` section.
pub fn section(cost: &Result<DebugCost, String>) -> String {
    let mut md = String::from("## Debug mode's cost\n\n");
    let cost = match cost {
        Ok(cost) => cost,
        Err(why) => return md + &format!("Not measured: {why}.\n\n"),
    };
    let ratios: Vec<f64> = cost
        .production
        .iter()
        .zip(&cost.debug)
        .map(|(p, d)| d / p)
        .collect();
    let spread = |v: &[f64], f: fn(f64) -> String| {
        let mut sorted = v.to_vec();
        let mid = median(&mut sorted); // sorts: the ends are min and max
        format!(
            "{} ({}-{})",
            f(mid),
            f(sorted[0]),
            f(sorted[sorted.len() - 1])
        )
    };
    md += &format!(
        "`mutex_uncontended`, concur case (lock, increment, unlock), {} alternating runs of \
         each build; median (min-max). The debug build records the holder for the watchdog, \
         pushes and pops the thread's held-lock stack, and counts the hold in its site's \
         statistics.\n\n| build | lock+unlock |\n|---|---:|\n| production | {} |\n\
         | `--cfg concur_debug` | {} |\n| debug ÷ production, run by run | {} |\n\n",
        ratios.len(),
        spread(&cost.production, fmt_ns),
        spread(&cost.debug, fmt_ns),
        spread(&ratios, |r| format!("{r:.2}x")),
    );
    md
}
