//! What the process holds, read from `/proc/self` (Linux): resident
//! memory, open descriptors, threads and their names.

use std::fs;

/// Resident set size in KiB (`VmRSS`), 0 where unknown.
pub fn rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors.
pub fn fds() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The names of the process's threads, sorted.
pub fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    fs::read_to_string(e.path().join("comm"))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
