//! Target `group`: a [`Group`] fed arbitrary task outcomes (ok, error,
//! panic, cancelling the group's context) under an arbitrary configuration
//! (limit, queue, error bound, cancel on error) and submission (`go`,
//! `try_go`, `go_all`), checked against the `GroupError` those outcomes
//! imply.
//!
//! Which tasks run after a cancellation depends on scheduling, so the
//! checks are the invariants that hold in every schedule: each task either
//! ran or was counted as cancelled; the errors reported are exactly those of
//! the failing tasks that ran (the first `max_errors` kept in full, the rest
//! counted), each once, with its message; without a cancellation every task
//! runs; the group never starts more than `limit` workers; a second wait
//! finds nothing left.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use arbitrary::{Arbitrary, Unstructured};
use concur_sync::{Context, Group, TaskError};

const TASK_PANIC: &str = "concur-fuzz task panic";

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
    Panic,
    Cancel,
}

/// How the tasks are handed to the group.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Submit {
    /// `go` each: blocks while the group is full.
    Go,
    /// `try_go` each: refuses while the group is full, without counting.
    TryGo,
    /// `go_all` over them all: a batch, blocking while the group is full.
    GoAll,
}

#[derive(Arbitrary, Debug)]
struct Input {
    limit: u8,
    queue: u8,
    max_errors: u8,
    cancel_on_error: bool,
    submit: Submit,
    tasks: Vec<Outcome>,
}

/// Keeps the tasks' own panics quiet (and away from a fuzzer's hook, which
/// aborts on any panic); every other panic goes to the previous hook.
fn quiet_task_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<String>().map(String::as_str);
            if !message.is_some_and(|m| m.starts_with(TASK_PANIC)) {
                previous(info);
            }
        }));
    });
}

/// Runs one input; panics if the group's report is wrong.
pub fn run(data: &[u8]) {
    quiet_task_panics();
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let limit = usize::from(input.limit % 4) + 1;
    let queue = usize::from(input.queue % 8);
    let max_errors = usize::from(input.max_errors % 6) + 1;
    let tasks: Vec<Outcome> = input.tasks.into_iter().take(40).collect();
    let (parent, cancel) = Context::background().with_cancel();
    let cancel = Arc::new(cancel);
    let group = Group::builder()
        .limit(limit)
        .queue(queue)
        .max_errors(max_errors)
        .cancel_on_error(input.cancel_on_error)
        .context(&parent)
        .build()
        .expect("a valid configuration");
    let ran: Arc<Vec<AtomicBool>> =
        Arc::new(tasks.iter().map(|_| AtomicBool::new(false)).collect());
    let mut refused = 0;
    let task = |i: usize| {
        let (ran, cancel, outcome) = (ran.clone(), cancel.clone(), tasks[i]);
        move || -> Result<(), concur_sync::BoxError> {
            ran[i].store(true, Ordering::Relaxed);
            match outcome {
                Outcome::Ok => Ok(()),
                Outcome::Fail => Err(format!("task {i} failed").into()),
                Outcome::Panic => panic!("{TASK_PANIC} {i}"),
                Outcome::Cancel => {
                    cancel.cancel();
                    Ok(())
                }
            }
        }
    };
    match input.submit {
        // try_go refuses (while full, or cancelled) without counting.
        Submit::TryGo => refused = (0..tasks.len()).filter(|&i| !group.try_go(task(i))).count(),
        Submit::Go => (0..tasks.len()).for_each(|i| group.go(task(i))),
        // Refused tasks of a batch are counted as cancelled, as `go`'s are.
        Submit::GoAll => {
            let accepted = group.go_all((0..tasks.len()).map(task));
            assert!(accepted <= tasks.len());
        }
    }
    let result = group.wait(&Context::background());

    let ran: Vec<bool> = ran.iter().map(|r| r.load(Ordering::Relaxed)).collect();
    let failed: BTreeSet<usize> = (0..tasks.len())
        .filter(|&i| ran[i] && matches!(tasks[i], Outcome::Fail | Outcome::Panic))
        .collect();
    let ran_count = ran.iter().filter(|&&r| r).count();
    let cancelling =
        tasks.contains(&Outcome::Cancel) || (input.cancel_on_error && !failed.is_empty());
    let context = format!(
        "{tasks:?} {:?} limit {limit} queue {queue} max_errors {max_errors} {result:?}",
        input.submit
    );
    match &result {
        Ok(()) => {
            assert!(failed.is_empty(), "{context}");
            assert_eq!(ran_count + refused, tasks.len(), "{context}");
        }
        Err(err) => {
            assert_eq!(err.interrupted(), None, "{context}");
            assert_eq!(
                ran_count + refused + err.cancelled(),
                tasks.len(),
                "{context}"
            );
            assert_eq!(err.failures(), failed.len(), "{context}");
            assert_eq!(
                err.errors().len(),
                failed.len().min(max_errors),
                "{context}"
            );
            assert_eq!(
                err.omitted(),
                failed.len() - err.errors().len(),
                "{context}"
            );
            let mut seen = BTreeSet::new();
            for e in err.errors() {
                let (message, panicked) = match e {
                    TaskError::Failed(err) => (err.to_string(), false),
                    TaskError::Panicked(p) => (p.message().to_string(), true),
                    _ => unreachable!("a new TaskError kind"),
                };
                let i: usize = message
                    .split_whitespace()
                    .find_map(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("no task index in {message:?}; {context}"));
                assert!(failed.contains(&i) && seen.insert(i), "{context}");
                assert_eq!(panicked, tasks[i] == Outcome::Panic, "{context}");
            }
            assert!(
                !failed.is_empty() || err.cancelled() > 0,
                "an empty GroupError; {context}"
            );
        }
    }
    if !cancelling {
        assert_eq!(
            result.as_ref().err().map_or(0, |e| e.cancelled()),
            0,
            "cancelled without a cancellation; {context}"
        );
        if input.submit != Submit::TryGo {
            assert!(ran.iter().all(|&r| r), "a task never ran; {context}");
        }
    }
    assert!(group.threads_started() <= limit, "{context}");
    assert!(
        group.wait(&Context::background()).is_ok(),
        "second wait; {context}"
    );
}
