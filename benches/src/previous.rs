//! The report's comparison with the previous `BENCHMARKS.md`: for every
//! case of every throughput group that both runs measured, concur's ratio
//! to that case then and now. Ratios, not times, because the previous run
//! may have been made on another machine (times moved 2x between VMs,
//! ratios did not); an uncontended row whose ratio rose by more than the
//! noise is called a regression.

use std::fmt::Write as _;

use crate::measure::GroupResult;

/// How much an uncontended ratio may rise before it counts as a
/// regression: the run-to-run noise of those rows on the VMs measured.
pub const NOISE: f64 = 0.05;

/// The groups whose rows must not regress: one thread, nothing contended.
pub const UNCONTENDED: [&str; 10] = [
    "mutex_uncontended",
    "rwlock_read",
    "rwlock_write",
    "semaphore_uncontended",
    "wait_group_100",
    "once_get_1024",
    "context_with_cancel",
    "pool_get_put",
    "timeout_free",
    "mutex_after_interrupts",
];

/// `concur ÷ case` for each case of each group in a `BENCHMARKS.md`
/// (the tables' third column), as (group, case, ratio).
pub fn parse(markdown: &str) -> Vec<(String, String, f64)> {
    let mut rows = Vec::new();
    let mut group = None;
    for line in markdown.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            group = rest.split('`').next().map(str::to_string);
            continue;
        }
        if line.starts_with("## ") {
            group = None;
        }
        let Some(group) = &group else { continue };
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() == 3 {
            if let Ok(ratio) = cells[2].parse::<f64>() {
                rows.push((group.clone(), cells[0].to_string(), ratio));
            }
        }
    }
    rows
}

/// The report's section: every row measured in both runs, uncontended
/// regressions first and named.
pub fn section(previous: &str, now: &[GroupResult]) -> String {
    let before = parse(previous);
    let mut regressions = Vec::new();
    let mut table = String::new();
    for group in now {
        let base = group.cases[0].ns;
        for case in &group.cases[1..] {
            let Some(&(_, _, then)) = before
                .iter()
                .find(|(g, c, _)| *g == group.name && *c == case.name)
            else {
                continue;
            };
            let ratio = base / case.ns;
            let change = ratio / then - 1.0;
            let regressed = UNCONTENDED.contains(&group.name) && change > NOISE;
            if regressed {
                regressions.push(format!("`{}` ÷ {}", group.name, case.name));
            }
            let _ = writeln!(
                table,
                "| {} | {} | {then:.2} | {ratio:.2} | {:+.0}%{} |",
                group.name,
                case.name,
                change * 100.0,
                if regressed { " **regressed**" } else { "" }
            );
        }
    }
    let mut out = String::from("## Against the previous report\n\n");
    let _ = writeln!(
        out,
        "concur's ratio to each anchor in the previous `BENCHMARKS.md` and in this run \
         (ratios, since the two runs may be on different machines); an uncontended row \
         whose ratio rose by more than {:.0}% is a regression. {}\n",
        NOISE * 100.0,
        if regressions.is_empty() {
            "No uncontended row regressed.".to_string()
        } else {
            format!("Regressed: {}.", regressions.join(", "))
        }
    );
    out.push_str("| group | case | before | now | change |\n|---|---|---:|---:|---:|\n");
    out.push_str(&table);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Measured;

    const BEFORE: &str = "## Throughput\n\n### `mutex_uncontended`: lock\n\n| case | median | concur ÷ case |\n|---|---:|---:|\n| concur | 10.0 ns | 1.00 |\n| std | 10.0 ns | 1.00 |\n\n### `fanout_10000`: tasks\n\n| case | median | concur ÷ case |\n|---|---:|---:|\n| concur_group | 5 ms | 1.00 |\n| rayon_scope | 1 ms | 5.00 |\n\n## Latency\n\n| a | b | c |\n";

    fn group(name: &'static str, cases: &[(&'static str, f64)]) -> GroupResult {
        GroupResult {
            name,
            iteration: "",
            cases: cases
                .iter()
                .map(|&(name, ns)| Measured { name, ns })
                .collect(),
        }
    }

    #[test]
    fn parses_the_tables_and_only_them() {
        let rows = parse(BEFORE);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3], ("fanout_10000".into(), "rayon_scope".into(), 5.0));
    }

    #[test]
    fn an_uncontended_ratio_that_rose_is_named() {
        let now = [
            group("mutex_uncontended", &[("concur", 11.0), ("std", 10.0)]),
            group(
                "fanout_10000",
                &[("concur_group", 6.0), ("rayon_scope", 1.0)],
            ),
        ];
        let out = section(BEFORE, &now);
        assert!(
            out.contains("Regressed: `mutex_uncontended` ÷ std."),
            "{out}"
        );
        assert!(
            out.contains("| fanout_10000 | rayon_scope | 5.00 | 6.00 | +20% |"),
            "{out}"
        );
        let fine = [group(
            "mutex_uncontended",
            &[("concur", 10.2), ("std", 10.0)],
        )];
        assert!(section(BEFORE, &fine).contains("No uncontended row regressed."));
    }
}
