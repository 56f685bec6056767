//! The harness's command line.

use std::path::PathBuf;
use std::time::Duration;

/// How long and how hard to soak.
#[derive(Debug)]
pub struct Args {
    /// The run's length (`--minutes F` or `--seconds N`).
    pub duration: Duration,
    /// Between two figure lines (`--interval S`; default a minute, or a
    /// quarter of a shorter run).
    pub interval: Duration,
    /// Client connections, half to each listener (`--connections N`).
    pub connections: usize,
    /// Threads hammering the primitives directly (`--hammer N`).
    pub hammer: usize,
    /// Whether to inject faults (`--no-faults` turns them off).
    pub faults: bool,
    /// A cap on requests, beside the time (`--max-requests N`).
    pub max_requests: u64,
    /// Where the per-interval CSV goes (`--csv PATH`).
    pub csv: PathBuf,
}

const USAGE: &str = "usage: concur-soak [--minutes F | --seconds N] [--interval S] \
[--connections N] [--hammer N] [--no-faults] [--max-requests N] [--csv PATH]";

impl Args {
    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut args = args.into_iter();
        let (mut duration, mut interval) = (Duration::from_secs(60), None);
        let mut parsed = Args {
            duration,
            interval: duration,
            connections: 16,
            hammer: 2,
            faults: true,
            max_requests: u64::MAX,
            csv: PathBuf::from("target/soak.csv"),
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
            match flag.as_str() {
                "--minutes" => duration = Duration::from_secs_f64(60.0 * number(&value()?)?),
                "--seconds" => duration = Duration::from_secs_f64(number(&value()?)?),
                "--interval" => interval = Some(Duration::from_secs_f64(number(&value()?)?)),
                "--connections" => parsed.connections = number(&value()?)? as usize,
                "--hammer" => parsed.hammer = number(&value()?)? as usize,
                "--max-requests" => parsed.max_requests = number(&value()?)? as u64,
                "--csv" => parsed.csv = PathBuf::from(value()?),
                "--no-faults" => parsed.faults = false,
                "--faults" => parsed.faults = true,
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if duration.is_zero() || parsed.connections < 2 || parsed.hammer == 0 {
            return Err(format!(
                "need a run time, 2 or more connections and 1 or more hammer threads\n{USAGE}"
            ));
        }
        parsed.duration = duration;
        parsed.interval = interval
            .unwrap_or(Duration::from_secs(60).min(duration / 4))
            .max(Duration::from_secs(1));
        Ok(parsed)
    }
}

fn number(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or(format!("{s:?} is not a number\n{USAGE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn durations_and_defaults() {
        let a = parse("--seconds 20").unwrap();
        assert_eq!(
            (a.duration, a.interval),
            (Duration::from_secs(20), Duration::from_secs(5))
        );
        let a = parse("--minutes 30").unwrap();
        assert_eq!(
            (a.duration, a.interval),
            (Duration::from_secs(1800), Duration::from_secs(60))
        );
        assert!(a.faults);
        assert!(!parse("--no-faults").unwrap().faults);
    }

    #[test]
    fn bad_input_says_why() {
        assert!(parse("--minutes").unwrap_err().contains("needs a value"));
        assert!(parse("--minutes x").unwrap_err().contains("not a number"));
        assert!(parse("--fast").unwrap_err().contains("unknown argument"));
        assert!(parse("--connections 1").is_err());
    }
}
