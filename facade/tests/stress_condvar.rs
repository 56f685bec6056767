//! A bounded producer/consumer queue on `Mutex` + two `Condvar`s, under
//! random cancels and short deadlines: every item is delivered exactly
//! once, and nobody is left waiting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::Duration;

use concur_sync::{CancelHandle, Condvar, Context, Error, Mutex};

mod common;
use common::{within, Rng};

const HANG: Duration = Duration::from_secs(240);
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const ITEMS_EACH: u64 = 10_000;
const TOTAL: u64 = PRODUCERS * ITEMS_EACH;
const CAPACITY: usize = 4;

struct Queue {
    items: Mutex<VecDeque<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl Queue {
    fn push(&self, ctx: &Context, item: u64, rng: &mut Rng) -> Result<(), Error> {
        let (mut items, outcome) = self
            .not_full
            .wait_while_ctx(ctx, self.items.lock(), |q| q.len() == CAPACITY);
        outcome?;
        items.push_back(item);
        drop(items);
        if rng.below(8) == 0 {
            self.not_empty.notify_all();
        } else {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    fn pop(&self, ctx: &Context) -> Result<u64, Error> {
        let (mut items, outcome) = self
            .not_empty
            .wait_while_ctx(ctx, self.items.lock(), |q| q.is_empty());
        outcome?;
        let item = items.pop_front().expect("not empty");
        drop(items);
        self.not_full.notify_one();
        Ok(item)
    }
}

/// A random context: background, a short deadline, or one the canceller
/// may cancel at any moment.
fn random_ctx(rng: &mut Rng, handles: &StdMutex<Vec<CancelHandle>>) -> Context {
    match rng.below(3) {
        0 => Context::background().with_timeout(Duration::from_micros(50 + rng.below(500))),
        1 => {
            let (ctx, handle) = Context::background().with_cancel();
            handles.lock().unwrap().push(handle);
            ctx
        }
        // Consumers must not wait forever once everything is delivered.
        _ => Context::background().with_timeout(Duration::from_millis(20)),
    }
}

#[test]
fn a_bounded_queue_delivers_every_item_exactly_once_under_cancels() {
    within(HANG, || {
        let queue = Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        let delivered: Arc<Vec<AtomicU8>> =
            Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());
        let consumed = Arc::new(AtomicU64::new(0));
        let gave_up = Arc::new(AtomicU64::new(0));
        let handles: Arc<StdMutex<Vec<CancelHandle>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));

        let canceller = {
            let (handles, stop) = (handles.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = Rng(0x2545_F491_4F6C_DD1D);
                while !stop.load(Ordering::Relaxed) {
                    let mut list = handles.lock().unwrap();
                    if !list.is_empty() {
                        let k = rng.below(list.len() as u64) as usize;
                        list.swap_remove(k).cancel();
                    }
                    drop(list);
                    thread::yield_now();
                }
            })
        };
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (queue, handles, gave_up) = (queue.clone(), handles.clone(), gave_up.clone());
                thread::spawn(move || {
                    let mut rng = Rng(p * 7919 + 1);
                    for i in 0..ITEMS_EACH {
                        let item = p * ITEMS_EACH + i;
                        // A push that gives up is tried again: the item must
                        // not be lost or doubled by the failed attempt.
                        while queue
                            .push(&random_ctx(&mut rng, &handles), item, &mut rng)
                            .is_err()
                        {
                            gave_up.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| {
                let (queue, handles, delivered, consumed, gave_up) = (
                    queue.clone(),
                    handles.clone(),
                    delivered.clone(),
                    consumed.clone(),
                    gave_up.clone(),
                );
                thread::spawn(move || {
                    let mut rng = Rng(c * 104_729 + 3);
                    while consumed.load(Ordering::SeqCst) < TOTAL {
                        match queue.pop(&random_ctx(&mut rng, &handles)) {
                            Ok(item) => {
                                let before =
                                    delivered[item as usize].fetch_add(1, Ordering::SeqCst);
                                assert_eq!(before, 0, "item {item} delivered twice");
                                consumed.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(_) => {
                                gave_up.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in producers.into_iter().chain(consumers) {
            t.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        canceller.join().unwrap();

        assert!(delivered.iter().all(|d| d.load(Ordering::SeqCst) == 1));
        assert!(queue.items.lock().is_empty());
        assert_eq!(
            (queue.not_empty.waiters(), queue.not_full.waiters()),
            (0, 0)
        );
        assert!(gave_up.load(Ordering::Relaxed) > 0, "no wait ever gave up");
    });
}
