//! What a group reports, as a user reads it: error chains through `anyhow`,
//! counts that account for every task, which task panicked, what a dropped
//! group discarded, and task closures that compile without annotations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use concur_sync::{Context, Error, Group, TaskError};

const HANG: Duration = Duration::from_secs(60);

fn fetch(item: u32) -> anyhow::Result<()> {
    if item == 1 {
        anyhow::bail!("HTTP 503");
    }
    Ok(())
}

#[test]
fn an_anyhow_chain_reads_each_message_once() {
    let group = Group::builder().limit(1).build().unwrap();
    for item in 0..3 {
        // `?` turns the anyhow error into the group's BoxError; no annotation.
        group.go(move || {
            fetch(item).with_context(|| format!("fetching item {item}"))?;
            Ok(())
        });
    }
    let err = group
        .wait(&Context::background())
        .context("loading the catalogue")
        .unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "loading the catalogue: 1 of 3 tasks failed: fetching item 1: HTTP 503"
    );
    assert_eq!(err.to_string(), "loading the catalogue");
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    assert_eq!(
        chain,
        [
            "loading the catalogue",
            "1 of 3 tasks failed",
            "fetching item 1",
            "HTTP 503"
        ]
    );
}

#[test]
fn the_alternate_form_lists_every_error_with_its_chain() {
    let group = Group::builder().limit(1).build().unwrap();
    for item in [1, 0, 1] {
        group.go(move || {
            fetch(item).with_context(|| format!("fetching item {item}"))?;
            Ok(())
        });
    }
    group.go(|| panic!("bad row"));
    let err = group.wait(&Context::background()).unwrap_err();
    assert_eq!(err.to_string(), "3 of 4 tasks failed (1 panicked)");
    let full = format!("{err:#}");
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(lines[0], "3 of 4 tasks failed (1 panicked)");
    assert_eq!(lines[1], "  1. fetching item 1: HTTP 503");
    assert_eq!(lines[2], "  2. fetching item 1: HTTP 503");
    assert!(
        lines[3].starts_with("  3. task 3 (spawned at ") && lines[3].ends_with(": bad row"),
        "{full}"
    );
    assert_eq!(lines.len(), 4, "{full}");
}

#[test]
fn a_task_error_is_transparent() {
    let group = Group::builder().limit(1).build().unwrap();
    group.go(|| {
        Err(anyhow::anyhow!("HTTP 503")
            .context("fetching item 9")
            .into())
    });
    let err = group.wait(&Context::background()).unwrap_err();
    let task: &TaskError = &err.errors()[0];
    assert_eq!(task.to_string(), "fetching item 9");
    let source = std::error::Error::source(task).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("HTTP 503"));
}

#[test]
fn an_interrupted_wait_accounts_for_every_task() {
    let (ctx, cancel) = Context::background().with_cancel();
    let group = Group::builder().limit(4).context(&ctx).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    // Two tasks that run until released.
    for _ in 0..2 {
        let (rx, started) = (release_rx.clone(), started_tx.clone());
        group.go(move || {
            started.send(()).unwrap();
            let rx = rx.lock().unwrap();
            Ok(rx.recv()?)
        });
    }
    for _ in 0..2 {
        started_rx.recv_timeout(HANG).unwrap();
    }
    for i in 0..198u32 {
        if i == 100 {
            cancel.cancel();
        }
        group.go(move || {
            if i % 10 == 0 {
                return Err(format!("item {i}").into());
            }
            Ok(())
        });
    }
    let (ended, end) = Context::background().with_cancel();
    end.cancel();
    let first = group.wait(&ended).unwrap_err();
    assert_eq!(first.interrupted(), Some(Error::Cancelled));
    assert!(first.unfinished() >= 2, "the two blocked tasks");
    assert_eq!(
        first.succeeded() + first.failures() + first.cancelled() + first.unfinished(),
        200,
        "{first}"
    );
    assert!(
        first.cancelled() >= 98,
        "every go after the cancel: {first}"
    );
    assert!(first.to_string().contains("unfinished"), "{first}");
    // The unfinished ones are collected by the next wait, exactly.
    drop(release_tx);
    let second = group.wait(&Context::background()).unwrap_err();
    assert_eq!(second.unfinished(), 0);
    assert_eq!(
        second.succeeded() + second.failures() + second.cancelled(),
        first.unfinished()
    );
}

#[test]
fn a_panic_names_its_task() {
    let group = Group::builder().limit(1).build().unwrap();
    for i in 0..5 {
        group.go(move || {
            assert_ne!(i, 3, "task three");
            Ok(())
        });
    }
    let err = group.wait(&Context::background()).unwrap_err();
    let TaskError::Panicked(panic) = &err.errors()[0] else {
        panic!("expected a panic: {err:#}")
    };
    assert_eq!(panic.task(), 3);
    assert!(
        panic.message().contains("task three"),
        "{}",
        panic.message()
    );
    assert!(
        panic.to_string().starts_with("task 3 (spawned at "),
        "{panic}"
    );
    // Indices continue across waits.
    group.go(|| panic!("later"));
    let err = group.wait(&Context::background()).unwrap_err();
    let TaskError::Panicked(panic) = &err.errors()[0] else {
        panic!("expected a panic")
    };
    assert_eq!(panic.task(), 5);
}

#[test]
fn closures_need_no_annotation() {
    let group = Group::builder().limit(2).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    group.go(|| Ok(()));
    let r = ran.clone();
    group.spawn(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    // The non-blocking forms infer the same way (whether they are accepted
    // depends on timing; they only have to compile).
    let _ = group.try_spawn(|| ());
    let _ = group.try_go(|| Ok(()));
    group.wait(&Context::background()).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);

    // A typed group: `Err(e)` without `.into()`.
    let typed = Group::builder().error::<std::io::Error>().build().unwrap();
    typed.go(|| Err(std::io::Error::other("disk")));
    let err = typed.wait(&Context::background()).unwrap_err();
    assert!(err.errors()[0]
        .as_error()
        .downcast_ref::<std::io::Error>()
        .is_some());

    // Scoped tasks borrow, with either form.
    let mut total = 0;
    concur_sync::scope(|s| {
        s.spawn(|| total += 1);
    })
    .unwrap();
    concur_sync::scope(|s| s.go(|| Ok(()))).unwrap();
    assert_eq!(total, 1);
}

#[cfg(feature = "tracing")]
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

#[cfg(feature = "tracing")]
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a subscriber on this thread; returns what it logged.
#[cfg(feature = "tracing")]
fn logged(f: impl FnOnce()) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
#[cfg(feature = "tracing")]
fn a_dropped_group_reports_what_it_discarded() {
    let log = logged(|| {
        let group = Group::builder().limit(1).build().unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        group.go(move || {
            started_tx.send(()).unwrap();
            release_rx.recv()?;
            Err("the running one failed".into())
        });
        started_rx.recv_timeout(HANG).unwrap();
        // Queued behind the running task: never started.
        let feeder = std::thread::scope(|s| {
            let feeder = s.spawn(|| {
                for _ in 0..3 {
                    group.go(|| Ok(()));
                }
            });
            // The feeder is blocked at the limit or done; let the first go.
            release_tx.send(()).unwrap();
            feeder.join()
        });
        feeder.unwrap();
        drop(group);
    });
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("a Group was dropped without a wait"), "{log}");
    assert!(log.contains("failed=1"), "{log}");
    assert!(
        log.contains("first_error=\"the running one failed\""),
        "{log}"
    );
    // A group whose outcomes were collected reports nothing.
    let quiet = logged(|| {
        let group = Group::builder().limit(1).build().unwrap();
        group.go(|| Ok(()));
        group.wait(&Context::background()).unwrap();
        drop(group);
    });
    assert_eq!(quiet, "");
}

#[test]
#[cfg(feature = "tracing")]
fn a_group_dropped_before_its_tasks_ran_reports_them_cancelled() {
    let log = logged(|| {
        let group = Group::builder().limit(1).build().unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        group.go(move || {
            started_tx.send(()).unwrap();
            Ok(release_rx.recv()?)
        });
        started_rx.recv_timeout(HANG).unwrap();
        // A cancelled group runs no more tasks: each `go` is counted.
        group.cancel();
        for _ in 0..4 {
            group.go(|| Ok(()));
        }
        release_tx.send(()).unwrap();
        drop(group);
    });
    assert!(log.contains("cancelled=4"), "{log}");
    assert!(
        log.contains("4 of 5 tasks cancelled before starting"),
        "{log}"
    );
}
