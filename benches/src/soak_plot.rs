//! The soak run's plot: the CSV the soak harness writes (one row per
//! interval) drawn as three panels over time: throughput, p50 and p99
//! request latency, and memory (resident, and the heap in use).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the report finds the committed figures of the README's run.
pub const CSV: &str = "soak/results/soak-30min.csv";

/// One panel: a title, a unit, and its series (name, column).
struct Panel {
    title: &'static str,
    series: &'static [(&'static str, &'static str)],
    scale: f64,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "throughput (requests/s)",
        series: &[("requests/s", "requests_per_s")],
        scale: 1.0,
    },
    Panel {
        title: "request latency (µs)",
        series: &[("p50", "p50_us"), ("p99", "p99_us")],
        scale: 1.0,
    },
    Panel {
        title: "memory (MiB): resident, and heap in use",
        series: &[("resident", "rss_kib"), ("heap", "heap_kib")],
        scale: 1.0 / 1024.0,
    },
];

/// The SVG for the CSV's rows, or why it cannot be drawn.
pub fn render(csv: &str) -> Result<String, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    if rows.len() < 2 {
        return Err(format!("{} rows: too few to plot", rows.len()));
    }
    let column = |name: &str| -> Result<Vec<f64>, String> {
        let i = header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))?;
        Ok(rows
            .iter()
            .map(|r| r.get(i).copied().unwrap_or(f64::NAN))
            .collect())
    };
    let minutes: Vec<f64> = column("elapsed_s")?.iter().map(|s| s / 60.0).collect();
    let x_max = minutes.iter().cloned().fold(0.0, f64::max).max(1e-9);
    let (left, width, panel_h, gap) = (70.0, 620.0, 130.0, 50.0);
    let height = 40.0 + PANELS.len() as f64 * (panel_h + gap);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14" font-weight="bold">Soak: {m:.0} minutes under load and faults</text>"#,
        w = left + width + 30.0,
        m = x_max
    );
    let colors = ["#1f77b4", "#d62728"];
    for (p, panel) in PANELS.iter().enumerate() {
        let top = 45.0 + p as f64 * (panel_h + gap);
        let series: Vec<(&str, Vec<f64>)> = panel
            .series
            .iter()
            .map(|(name, col)| {
                Ok((
                    *name,
                    column(col)?.iter().map(|v| v * panel.scale).collect(),
                ))
            })
            .collect::<Result<_, String>>()?;
        let y_max = series
            .iter()
            .flat_map(|(_, v)| v.iter().cloned())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            * 1.15;
        let y_max = if y_max > 0.0 { y_max } else { 1.0 };
        let x = |m: f64| left + width * m / x_max;
        let y = |v: f64| top + panel_h * (1.0 - v / y_max);
        let _ = write!(
            svg,
            r##"<text x="{left}" y="{ty}" font-weight="bold">{title}</text><rect x="{left}" y="{top}" width="{width}" height="{panel_h}" fill="none" stroke="#bbb"/><text x="{lx}" y="{top2}" text-anchor="end">{ymax:.0}</text><text x="{lx}" y="{bottom}" text-anchor="end">0</text><text x="{right}" y="{xl}" text-anchor="end">{x_max:.0} min</text><text x="{left}" y="{xl}">0</text>"##,
            ty = top - 6.0,
            title = panel.title,
            lx = left - 6.0,
            top2 = top + 10.0,
            bottom = top + panel_h,
            ymax = y_max,
            right = left + width,
            xl = top + panel_h + 15.0,
        );
        for (s, (name, values)) in series.iter().enumerate() {
            let points: Vec<String> = minutes
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_finite())
                .map(|(m, v)| format!("{:.1},{:.1}", x(*m), y(*v)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{pts}"/><text x="{lx}" y="{ly}" fill="{c}">{name}</text>"#,
                c = colors[s % colors.len()],
                pts = points.join(" "),
                lx = left + width - 120.0 + 60.0 * s as f64,
                ly = top - 6.0,
            );
        }
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// Draws `csv` (a path, or the committed run's figures) into
/// `benches/plots/soak.svg` under `root`.
pub fn write_plot(root: &Path, csv: Option<&Path>) -> Result<PathBuf, String> {
    let csv = csv.map_or_else(|| root.join(CSV), Path::to_path_buf);
    let text = std::fs::read_to_string(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let svg = render(&text).map_err(|e| format!("{}: {e}", csv.display()))?;
    let out = root.join("benches/plots/soak.svg");
    std::fs::write(&out, svg).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// `report --soak [CSV]`: only the soak plot. Returns whether the flag was
/// given (and the report has nothing else to do).
pub fn plot_only(root: &Path) -> bool {
    let mut args = std::env::args().skip_while(|a| a != "--soak");
    if args.next().is_none() {
        return false;
    }
    match write_plot(root, args.next().as_deref().map(Path::new)) {
        Ok(out) => eprintln!("wrote {}", out.display()),
        Err(e) => {
            eprintln!("no soak plot: {e}");
            std::process::exit(1);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_the_harness_csv() {
        let csv = "elapsed_s,requests,requests_per_s,p50_us,p99_us,max_us,rss_kib,heap_kib\n\
                   60.0,100,10,50.0,900.0,2000.0,15000,1900\n\
                   120.0,100,12,55.0,950.0,2100.0,15100,1910\n";
        let svg = super::render(csv).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 5);
        assert!(super::render("elapsed_s\n1\n").is_err());
        assert!(super::render("elapsed_s,x\n1,2\n3,4\n")
            .unwrap_err()
            .contains("no column requests_per_s"));
    }
}
