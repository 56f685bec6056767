//! A guided tour of concur-sync. Run it with
//!
//! ```sh
//! cargo run --release --example tour
//! RUSTFLAGS="--cfg concur_debug" cargo run --release --example tour   # step 4 live
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Condvar, Context, Error, Group, Mutex, Semaphore, TaskError, WaitGroup};

mod debug_step;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .init();
    // A task's panic comes back from the group as a PanicError (step 5);
    // keep the default hook's report of it (and any backtrace) to one line.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_worker = thread::current()
            .name()
            .is_some_and(|n| n.starts_with("concur-"));
        if on_worker {
            println!(
                "   (a worker caught a panic at {}; the group will report it)",
                info.location().unwrap()
            );
        } else {
            default_hook(info);
        }
    }));
    println!("concur-sync tour\n================\n");
    bounded_group_over_items()?;
    store_with_lock_ctx()?;
    bounded_fetches()?;
    debug_step::debug_mode();
    group_errors_in_a_job_span();
    deadline_ends_a_blocked_acquire();
    bounded_queue_on_a_condvar()?;
    threads_and_tasks_share_a_semaphore()?;
    println!("\nDone.");
    Ok(())
}

/// 1. A bounded group over a slice: at most `limit` items at once, on at
///    most `limit` reused threads.
fn bounded_group_over_items() -> Result<(), Box<dyn std::error::Error>> {
    println!("1. A bounded Group over a slice of items");
    let items: Vec<u64> = (1..=1000).collect();
    let total = AtomicU64::new(0);
    let running = AtomicU64::new(0);
    let peak = AtomicU64::new(0);
    let group = Group::builder().limit(4);
    let threads = group.scope(|s| {
        for chunk in items.chunks(50) {
            let (total, running, peak) = (&total, &running, &peak);
            s.spawn(move || {
                peak.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                total.fetch_add(chunk.iter().sum::<u64>(), SeqCst);
                thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, SeqCst);
            });
        }
        s.threads_started()
    })??;
    println!(
        "   summed 20 chunks of 50 items: {} (limit 4, peak {} at once, {} threads)\n",
        total.load(SeqCst),
        peak.load(SeqCst),
        threads
    );
    Ok(())
}

/// 2. A store guarded by a mutex: `lock_ctx` gives up when the caller's
///    context ends instead of waiting forever behind a stuck holder.
fn store_with_lock_ctx() -> Result<(), Error> {
    println!("2. A store guarded by a Mutex, locked with a context");
    let store = Mutex::new(HashMap::new());
    let ctx = Context::background().with_timeout(Duration::from_secs(1));
    store.lock_ctx(&ctx)?.insert("user:42", "ada");
    println!("   inserted user:42 under lock_ctx (1 s budget)");
    let held = store.lock();
    let short = Context::background().with_timeout(Duration::from_millis(50));
    let start = Instant::now();
    let err = store.lock_ctx(&short).unwrap_err();
    println!(
        "   while another holder keeps the lock, lock_ctx with a 50 ms budget returns \
         `{err}` after {:.0?}",
        start.elapsed()
    );
    drop(held);
    println!("   the store still has {} entry\n", store.lock().len());
    Ok(())
}

/// 3. A weighted semaphore bounds parallel fetches; a wait group waits for
///    all of them.
fn bounded_fetches() -> Result<(), Error> {
    println!("3. A Semaphore bounding parallel fetches, with a WaitGroup");
    let limit = Arc::new(Semaphore::new(3));
    let wg = Arc::new(WaitGroup::new());
    let running = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let ctx = Context::background();
    for url in 0..12 {
        let permit = limit.clone().acquire_owned(&ctx, 1)?;
        wg.add(1);
        let (wg, running, peak) = (wg.clone(), running.clone(), peak.clone());
        thread::spawn(move || {
            peak.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
            thread::sleep(Duration::from_millis(5 + url % 4)); // the "fetch"
            running.fetch_sub(1, SeqCst);
            drop(permit);
            wg.done();
        });
    }
    wg.wait_ctx(&ctx)?;
    println!(
        "   12 fetches done, at most {} at a time (limit 3)\n",
        peak.load(SeqCst)
    );
    Ok(())
}

/// 5. Group errors logged through `tracing` inside a `job_id` span; a panic
///    comes back as a typed `PanicError`, never as a cancellation.
fn group_errors_in_a_job_span() {
    println!("5. Every error of a Group, logged inside the job's span");
    let span = tracing::info_span!("job", job_id = 1017);
    let _entered = span.enter();
    let group = Group::builder().limit(3).build().expect("limit 3 is valid");
    for shard in 0..6u32 {
        group.go(move || {
            tracing::info!(shard, "indexing");
            match shard {
                2 => Err(format!("shard {shard}: checksum mismatch").into()),
                4 => panic!("shard {shard}: index out of bounds"),
                _ => Ok(()),
            }
        });
    }
    match group.wait(&Context::background()) {
        Ok(()) => println!("   all shards indexed"),
        Err(err) => {
            for e in err.errors() {
                match e {
                    TaskError::Panicked(p) => tracing::error!(
                        task = p.task(),
                        site = %p.spawn_site(),
                        thread = p.thread().unwrap_or("?"),
                        "task panicked: {}",
                        p.message()
                    ),
                    other => tracing::error!("task failed: {other}"),
                }
            }
            println!("   wait returned: {err}\n");
        }
    }
}

/// A deadline inside the wait: the blocked thread sleeps in a timed futex
/// wait (Linux), with no timer thread; a per-call timeout; an acquire of more
/// permits than exist, granted by `add_permits`; a cancel cause.
fn deadline_ends_a_blocked_acquire() {
    println!(
        "6. Deadlines inside the wait, a per-call timeout, waiting for permits not added yet, a cancel with a cause"
    );
    let sem = Semaphore::new(1);
    let held = sem.try_acquire(1).expect("free");
    let ctx = Context::background().with_timeout(Duration::from_millis(30));
    let start = Instant::now();
    let err = sem.acquire(&ctx, 1).unwrap_err();
    println!(
        "   acquire returned `{err}` after {:.1?} (deadline 30 ms)",
        start.elapsed()
    );
    let start = Instant::now();
    let late = sem
        .try_acquire_for(1, Duration::from_millis(5))
        .unwrap_err();
    println!(
        "   try_acquire_for(1, 5 ms) returned `{late}` after {:.1?}",
        start.elapsed()
    );
    drop(held);
    println!(
        "   the permit is free again: try_acquire_for on it takes it at once: {}",
        sem.try_acquire_for(1, Duration::ZERO).is_ok()
    );
    // More permits than exist: the request waits aside (holding up nobody)
    // until a producer adds them, as Go's and tokio's semaphores do.
    let granted = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            sem.acquire(&Context::background(), 5)
                .map(|permit| permit.num_permits())
        });
        while sem.waiters() == 0 {
            std::thread::yield_now();
        }
        println!(
            "   acquire(5) on a semaphore of {} waits: waiters() = {}, try_acquire(1) still works: {}",
            sem.capacity(),
            sem.waiters(),
            sem.try_acquire(1).is_ok()
        );
        sem.add_permits(4);
        waiter.join().expect("the waiter does not panic")
    });
    println!(
        "   add_permits(4) grants it: {} permits",
        granted.expect("granted")
    );
    let (request, cancel) = Context::background().with_cancel();
    cancel.cancel_with(std::io::Error::other("client disconnected"));
    println!(
        "   a request cancelled with a cause: err() = `{}`, cause() = `{}`",
        request.err().expect("cancelled"),
        request.cause().expect("cancelled")
    );
}

/// 7. A bounded queue on `Mutex` + two `Condvar`s: producers wait while it
///    is full, consumers while it is empty, each with a context, so a wait
///    for an item that never comes ends at its deadline with the lock held.
fn bounded_queue_on_a_condvar() -> Result<(), Error> {
    println!("\n7. A bounded queue on Mutex + Condvar, waits with a deadline");
    struct Queue {
        items: Mutex<std::collections::VecDeque<u32>>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    const CAPACITY: usize = 2;
    let queue = Arc::new(Queue {
        items: Mutex::new(Default::default()),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let producer = {
        let queue = queue.clone();
        thread::spawn(move || -> Result<(), Error> {
            let ctx = Context::background().with_timeout(Duration::from_secs(5));
            for item in 1..=6 {
                let (mut items, outcome) =
                    queue
                        .not_full
                        .wait_while_ctx(&ctx, queue.items.lock(), |q| q.len() == CAPACITY);
                outcome?;
                items.push_back(item);
                drop(items);
                queue.not_empty.notify_one();
            }
            Ok(())
        })
    };
    let mut sum = 0;
    for _ in 0..6 {
        let ctx = Context::background().with_timeout(Duration::from_secs(5));
        let (mut items, outcome) = queue
            .not_empty
            .wait_while_ctx(&ctx, queue.items.lock(), |q| q.is_empty());
        outcome?;
        sum += items.pop_front().expect("not empty");
        drop(items);
        queue.not_full.notify_one();
    }
    producer.join().expect("the producer does not panic")?;
    println!("   6 items through a queue of {CAPACITY}: sum {sum}");
    let ctx = Context::background().with_timeout(Duration::from_millis(20));
    let start = Instant::now();
    let (items, outcome) = queue
        .not_empty
        .wait_while_ctx(&ctx, queue.items.lock(), |q| q.is_empty());
    println!(
        "   a 7th pop returned `{}` after {:.1?}, holding the lock: {}",
        outcome.expect_err("nothing was produced"),
        start.elapsed(),
        queue.items.is_locked()
    );
    drop(items);
    Ok(())
}

/// 8. Threads and async tasks on one semaphore: the tasks' `acquire_async`
///    waits in the same FIFO queue as the threads' `acquire`, and a task's
///    wait ends when its context is cancelled or its deadline passes.
fn threads_and_tasks_share_a_semaphore() -> Result<(), Error> {
    println!("\n8. Threads and tokio tasks on one Semaphore(2)");
    let sem = Arc::new(Semaphore::new(2));
    let held = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let ctx = Context::background().with_timeout(Duration::from_secs(10));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (sem, ctx, held, peak) = (sem.clone(), ctx.clone(), held.clone(), peak.clone());
            rt.spawn(async move {
                for _ in 0..200 {
                    let _permit = sem.acquire_async(&ctx, 1).await?;
                    peak.fetch_max(held.fetch_add(1, SeqCst) + 1, SeqCst);
                    tokio::task::yield_now().await;
                    held.fetch_sub(1, SeqCst);
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| -> Result<(), Error> {
                for _ in 0..200 {
                    let _permit = sem.acquire(&ctx, 1)?;
                    peak.fetch_max(held.fetch_add(1, SeqCst) + 1, SeqCst);
                    thread::yield_now();
                    held.fetch_sub(1, SeqCst);
                }
                Ok(())
            });
        }
    });
    rt.block_on(async {
        for task in tasks {
            task.await.expect("the task does not panic")?;
        }
        Ok::<(), Error>(())
    })?;
    println!(
        "   2 threads and 8 tasks took a permit 2,000 times; at most {} held at once",
        peak.load(SeqCst)
    );
    // A task waiting for a permit nobody gives back: its context's cancel
    // wakes it, and its deadline would have.
    let _all = sem.acquire(&ctx, 2)?;
    let (task_ctx, cancel) = Context::background().with_cancel();
    let waiting = {
        let sem = sem.clone();
        rt.spawn(async move { sem.acquire_async(&task_ctx, 1).await.map(drop) })
    };
    rt.block_on(async {
        while sem.waiters() == 0 {
            tokio::task::yield_now().await;
        }
    });
    cancel.cancel();
    let cancelled = rt.block_on(waiting).expect("the task does not panic");
    let soon = Context::background().with_timeout(Duration::from_millis(20));
    let start = Instant::now();
    let late = rt.block_on(sem.acquire_async(&soon, 1));
    println!(
        "   a waiting task, cancelled: `{}`; another, after its 20 ms deadline ({:.1?}): `{}`",
        cancelled.expect_err("cancelled"),
        start.elapsed(),
        late.expect_err("deadline")
    );
    Ok(())
}
