//! Test support: catch tasks that outlive the test that started them.

use std::sync::Arc;

use crate::group::{core_of, Core};
use crate::Group;

/// Fails the test (panics on drop) if the [`Group`] it watches still has
/// tasks queued or running when the guard goes out of scope, naming where
/// the running ones were spawned.
///
/// ```should_panic
/// use std::sync::mpsc;
/// use concur_sync::{testing::LeakGuard, Group};
///
/// let group = Group::builder().limit(1).build().unwrap();
/// let _guard = LeakGuard::watch(&group);
/// let (_tx, rx) = mpsc::channel::<()>();
/// group.go(move || Ok(rx.recv()?)); // never finishes
/// // the guard drops first and panics: "1 task(s) of a watched group still running ..."
/// # drop(_guard); std::mem::forget(group);
/// ```
#[must_use = "the guard checks the group when it is dropped"]
pub struct LeakGuard {
    core: Arc<Core<'static>>,
}

impl std::fmt::Debug for LeakGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakGuard")
            .field("outstanding", &self.outstanding())
            .finish()
    }
}

impl LeakGuard {
    /// Watches `group` until the guard is dropped.
    pub fn watch<E>(group: &Group<E>) -> Self {
        Self {
            core: core_of(group),
        }
    }

    /// Tasks still queued or running now.
    pub fn outstanding(&self) -> u32 {
        u32::try_from(self.core.pending_count()).unwrap_or(u32::MAX)
    }
}

impl Drop for LeakGuard {
    fn drop(&mut self) {
        let outstanding = self.outstanding();
        if outstanding == 0 || std::thread::panicking() {
            return;
        }
        let sites: Vec<String> = self
            .core
            .running_sites()
            .iter()
            .map(|l| l.to_string())
            .collect();
        panic!(
            "{outstanding} task(s) of a watched group still running or queued at the end of the \
             test; running ones were spawned at: [{}]",
            sites.join(", ")
        );
    }
}

/// Stops the deadline timer thread if no wait is scheduled on it, and
/// waits for it to exit; returns whether it is stopped (`false`: waits
/// with deadlines are pending, and it runs on). The next wait that needs
/// it starts it again.
///
/// The timer thread serves every future's deadline and lives for the
/// process otherwise. Call this at the end of a test that awaited with a
/// deadline where threads left running count against the test (Miri
/// reports them as leaks).
///
/// ```
/// use std::time::Duration;
/// use concur_sync::{testing, Context, Error, Semaphore};
///
/// let sem = Semaphore::new(0);
/// let ctx = Context::background().with_timeout(Duration::from_millis(1));
/// let got = futures::executor::block_on(sem.acquire_async(&ctx, 1));
/// assert_eq!(got.err(), Some(Error::DeadlineExceeded));
/// assert!(testing::stop_timer(), "nothing waits: the timer stops");
/// ```
pub fn stop_timer() -> bool {
    crate::timer::stop()
}
