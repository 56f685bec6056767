//! Each group task runs inside the span current at its `go` call, so a
//! request's attributes appear on every event a task emits.
//!
//! Its own test binary: it installs a process-wide subscriber (worker
//! threads must see it too).

#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use concur_sync::{Context, Group};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tasks_run_inside_the_callers_span() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_thread_names(true)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let group = Group::builder().limit(2).build().unwrap();
    for job_id in [7u32, 8] {
        let span = tracing::info_span!("job", job_id, trace_id = "abc123");
        let _entered = span.enter();
        for item in 0..3 {
            group.spawn(move || tracing::info!(item, "processed"));
        }
    }
    // Outside any span: no job attributes.
    group.spawn(|| tracing::info!("unattributed"));
    group.wait(&Context::background()).unwrap();

    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let processed: Vec<&str> = out.lines().filter(|l| l.contains("processed")).collect();
    assert_eq!(processed.len(), 6, "{out}");
    for job_id in [7, 8] {
        let tagged = processed
            .iter()
            .filter(|l| l.contains(&format!("job{{job_id={job_id} trace_id=\"abc123\"}}")))
            .count();
        assert_eq!(tagged, 3, "job {job_id} events:\n{out}");
    }
    assert!(
        processed.iter().all(|l| l.contains("concur-group-")),
        "ran on workers:\n{out}"
    );
    let unattributed = out.lines().find(|l| l.contains("unattributed")).unwrap();
    assert!(!unattributed.contains("job_id"), "{unattributed}");
}
