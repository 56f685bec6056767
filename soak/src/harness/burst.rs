//! A burst of 10,000 cancellations at once: tasks queued on a semaphore, a
//! mutex and a rwlock, and functions registered with `on_cancel`, all under
//! one context that is cancelled once. Every one must end with `Cancelled`
//! (or run), and nothing may stay queued.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use concur_sync::{Context, Error, Mutex, RwLock, Semaphore};

const SEMAPHORE: usize = 3_000;
const MUTEX: usize = 3_000;
const READERS: usize = 2_000;
const CALLBACKS: usize = 2_000;
/// Cancellations per burst.
pub const TOTAL: usize = SEMAPHORE + MUTEX + READERS + CALLBACKS;

/// Counts its future's first poll: by then a lock future has queued its
/// waiter, so the burst can wait until all of them have.
async fn polled<F: Future>(count: &AtomicUsize, f: F) -> F::Output {
    let mut f = pin!(f);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let out = f.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            count.fetch_add(1, Relaxed);
        }
        out
    })
    .await
}

/// Runs one burst; how long from the cancel to the last waiter's return.
pub fn cancel_10k() -> Result<Duration, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let semaphore = Arc::new(Semaphore::new(0));
    let mutex = Arc::new(Mutex::new(()));
    let rwlock = Arc::new(RwLock::new(()));
    let (parent, cancel) = Context::background().with_cancel();
    let (queued, ran) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let callbacks: Vec<_> = (0..CALLBACKS)
        .map(|_| {
            let ran = ran.clone();
            parent.on_cancel(move || {
                ran.fetch_add(1, Relaxed);
            })
        })
        .collect();
    let (took, wrong) = runtime.block_on(async {
        let held = (mutex.lock(), rwlock.write());
        let mut tasks = Vec::with_capacity(TOTAL - CALLBACKS);
        for i in 0..TOTAL - CALLBACKS {
            // Half wait on the parent itself, half on a child with a
            // deadline far away: both must see the parent's cancel.
            let ctx = match i % 2 {
                0 => parent.clone(),
                _ => parent.with_timeout(Duration::from_secs(3600)),
            };
            let (s, m, r, q) = (
                semaphore.clone(),
                mutex.clone(),
                rwlock.clone(),
                queued.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let result = match i {
                    i if i < SEMAPHORE => polled(&q, s.acquire_async(&ctx, 1)).await.map(drop),
                    i if i < SEMAPHORE + MUTEX => polled(&q, m.lock_async(&ctx)).await.map(drop),
                    _ => polled(&q, r.read_async(&ctx)).await.map(drop),
                };
                result.err()
            }));
        }
        while queued.load(Relaxed) < tasks.len() {
            tokio::task::yield_now().await;
        }
        let start = Instant::now();
        cancel.cancel();
        let mut wrong = 0;
        for task in tasks {
            if task.await.ok().flatten() != Some(Error::Cancelled) {
                wrong += 1;
            }
        }
        drop(held);
        (start.elapsed(), wrong)
    });
    let mut problems = Vec::new();
    if wrong > 0 {
        problems.push(format!("{wrong} waiters did not end with Cancelled"));
    }
    if ran.load(Relaxed) != CALLBACKS {
        problems.push(format!(
            "{} of {CALLBACKS} on_cancel functions ran",
            ran.load(Relaxed)
        ));
    }
    if callbacks.iter().any(|c| c.stop()) {
        problems.push("an on_cancel function was still registered".into());
    }
    if semaphore.waiters() != 0 || semaphore.available() != 0 {
        problems.push(format!(
            "semaphore left with {} waiters, {} permits",
            semaphore.waiters(),
            semaphore.available()
        ));
    }
    if mutex.try_lock().is_none() || rwlock.try_write().is_none() {
        problems.push("a lock stayed held after the burst".into());
    }
    match problems.is_empty() {
        true => Ok(took),
        false => Err(format!(
            "burst of {TOTAL} cancellations: {}",
            problems.join("; ")
        )),
    }
}
