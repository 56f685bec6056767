//! Every primitive hammered directly, beside the server: threads pick a
//! random operation and a random context (none, a deadline of a few
//! microseconds, one cancelled from another thread as the wait begins, or
//! one already ended), while owned permits are released on another thread,
//! futures are dropped mid-wait and group tasks panic. At the end the
//! counts must add up: the mutex's and the rwlock's two fields equal their
//! successful updates (no torn read), every permit is back and no waiter
//! queued, the condvar queue holds what was produced and not consumed, and
//! every injected panic was reported as a panic. `Once` and `WaitGroup`
//! are checked every round, `Pool` and `Barrier` only run (a wrong one
//! would show as a hang or a failed check elsewhere).

mod scenarios;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use concur_sync::{Barrier, CancelHandle, Condvar, Context, Mutex, Pool, RwLock, Semaphore};

use super::rng::Rng;

/// Permits of the hammered semaphore.
const PERMITS: u64 = 8;

/// What a hammer thread hands to the helper thread: a cancel to fire (it
/// races the wait that is starting) or something to drop (an owned
/// permit, released on another thread than its own).
enum Chore {
    Cancel(CancelHandle),
    Drop(Box<dyn Send>),
}

/// The primitives and the counts their conservation is checked against.
pub struct Hammered {
    mutex: Mutex<(u64, u64)>,
    mutex_ok: AtomicU64,
    rwlock: RwLock<(u64, u64)>,
    rwlock_ok: AtomicU64,
    torn_reads: AtomicU64,
    semaphore: Arc<Semaphore>,
    queue: Mutex<u64>,
    queue_ready: Condvar,
    produced: AtomicU64,
    consumed: AtomicU64,
    barrier: Barrier,
    pool: Pool<Vec<u8>>,
    /// Operations done, by any thread.
    pub ops: AtomicU64,
    /// Group tasks made to panic, and panics the groups reported.
    pub panics_injected: AtomicU64,
    panics_reported: AtomicU64,
    /// Anything that broke an invariant on the way.
    pub failures: Mutex<Vec<String>>,
}

impl Hammered {
    fn new(threads: usize) -> Self {
        Hammered {
            mutex: Mutex::new((0, 0)),
            mutex_ok: AtomicU64::new(0),
            rwlock: RwLock::new((0, 0)),
            rwlock_ok: AtomicU64::new(0),
            torn_reads: AtomicU64::new(0),
            semaphore: Arc::new(Semaphore::new(PERMITS)),
            queue: Mutex::new(0),
            queue_ready: Condvar::new(),
            produced: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            barrier: Barrier::new(threads),
            pool: Pool::new(|| Vec::with_capacity(64)).with_reset(Vec::clear),
            ops: AtomicU64::new(0),
            panics_injected: AtomicU64::new(0),
            panics_reported: AtomicU64::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    fn fail(&self, what: String) {
        self.failures.lock().push(what);
    }

    /// The conservation checks, once every hammer thread has stopped.
    pub fn check(&self) -> Vec<String> {
        let mut problems = std::mem::take(&mut *self.failures.lock());
        let (a, b) = *self.mutex.lock();
        let ok = self.mutex_ok.load(Relaxed);
        if (a, b) != (ok, ok) {
            problems.push(format!(
                "mutex: fields ({a}, {b}) after {ok} locked updates"
            ));
        }
        let (a, b) = *self.rwlock.read();
        let ok = self.rwlock_ok.load(Relaxed);
        if (a, b) != (ok, ok) {
            problems.push(format!("rwlock: fields ({a}, {b}) after {ok} writes"));
        }
        if self.torn_reads.load(Relaxed) > 0 {
            problems.push(format!(
                "rwlock: {} torn reads",
                self.torn_reads.load(Relaxed)
            ));
        }
        let s = &self.semaphore;
        if s.available() != PERMITS || s.capacity() != PERMITS || s.waiters() != 0 {
            problems.push(format!(
                "semaphore: {} of {PERMITS} permits back, {} waiters queued",
                s.available(),
                s.waiters()
            ));
        }
        let (made, taken, left) = (
            self.produced.load(Relaxed),
            self.consumed.load(Relaxed),
            *self.queue.lock(),
        );
        if made != taken + left {
            problems.push(format!(
                "condvar queue: {made} produced, {taken} consumed, {left} left"
            ));
        }
        let (injected, reported) = (
            self.panics_injected.load(Relaxed),
            self.panics_reported.load(Relaxed),
        );
        if injected != reported {
            problems.push(format!(
                "groups: {injected} task panics injected, {reported} reported"
            ));
        }
        problems
    }
}

/// Starts `threads` hammer threads and their helper; they run until `stop`
/// ends. Join the handles, then [`Hammered::check`].
pub fn start(threads: usize, stop: &Context) -> (Arc<Hammered>, Vec<thread::JoinHandle<()>>) {
    let hammered = Arc::new(Hammered::new(threads));
    let (chores, inbox) = mpsc::channel::<Chore>();
    let mut handles = vec![thread::Builder::new()
        .name("soak-hammer-helper".into())
        .spawn(move || {
            for chore in inbox {
                match chore {
                    Chore::Cancel(handle) => handle.cancel(),
                    Chore::Drop(thing) => drop(thing),
                }
            }
        })
        .expect("spawn the hammer helper")];
    for n in 0..threads {
        let (hammered, stop, chores) = (hammered.clone(), stop.clone(), chores.clone());
        let handle = thread::Builder::new()
            .name(format!("soak-hammer-{n}"))
            .spawn(move || hammer(&hammered, &stop, &chores, n as u64))
            .expect("spawn a hammer thread");
        handles.push(handle);
    }
    (hammered, handles)
}

fn hammer(h: &Hammered, stop: &Context, chores: &mpsc::Sender<Chore>, seed: u64) {
    let mut rng = Rng::new(0x5EED + seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let mut op = 0u64;
    while !stop.is_done() {
        op += 1;
        let ctx = random_context(&mut rng, chores);
        match rng.below(100) {
            0..20 => scenarios::mutex(h, &ctx, &mut rng),
            20..35 => scenarios::rwlock(h, &ctx, &mut rng),
            35..55 => scenarios::semaphore(h, &ctx, &mut rng, chores),
            55..70 => scenarios::condvar(h, &ctx, &mut rng),
            70..85 => runtime.block_on(scenarios::dropped_futures(h, &ctx, &mut rng)),
            85..90 => scenarios::pool(h, &mut rng),
            90..96 => scenarios::once_and_wait_group(h, &ctx, &mut rng),
            _ => scenarios::group(h, &mut rng),
        }
        if op % 1024 == 0 {
            // All hammer threads meet, or give up on a short deadline (a
            // thread that gives up no longer counts as arrived).
            let _ = h
                .barrier
                .wait_ctx(&stop.with_timeout(Duration::from_millis(5)));
        }
        h.ops.fetch_add(1, Relaxed);
    }
}

/// No context, a deadline of up to 300 µs, one cancelled by the helper
/// thread as the wait begins, or one that has already ended.
fn random_context(rng: &mut Rng, chores: &mpsc::Sender<Chore>) -> Context {
    match rng.below(10) {
        0..4 => Context::background(),
        4..7 => Context::background().with_timeout(Duration::from_micros(rng.below(300))),
        7..9 => {
            let (ctx, cancel) = Context::background().with_cancel();
            let _ = chores.send(Chore::Cancel(cancel));
            ctx
        }
        _ => {
            let (ctx, cancel) = Context::background().with_cancel();
            cancel.cancel();
            ctx
        }
    }
}
