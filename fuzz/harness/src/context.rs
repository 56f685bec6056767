//! Target `context`: a random tree of contexts with cancels, deadlines on a
//! test clock, dropped handles and registered waiters, against a model.
//!
//! The harness moves the contexts' clock itself ([`step::set_clock`], an
//! hour ahead of the real one). After every operation: each context still
//! held reports the model's error (twice: it never changes) and deadline,
//! and each registered waiter is interrupted exactly when the model says (a
//! registration on a cancelled context is refused with its error, and a
//! deregistered waiter is never touched again).
//!
//! The model is the contract of `Context::err`: a cancellable node is
//! cancelled at a time, and hands that time to its descendants; a context
//! with deadline `d` on a cancelled node reports `DeadlineExceeded` if `d`
//! is at or before the cancel, otherwise `Cancelled`; on a live node (or
//! none), `DeadlineExceeded` once `d` has passed. Deriving a deadline
//! shares the parent's node; deriving from a cancelled context changes
//! nothing; a cancellable child of a cancelled one is born cancelled at its
//! parent's time. (The node's "deadline seen passed" word matters only when
//! a clock read races a cancel, which one thread cannot produce; the stress
//! tests and the unit tests cover it.)

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use concur_core::Waiter;
use concur_sync::step::{self, Registered};
use concur_sync::{CancelHandle, Context, Error};

const MAX_CONTEXTS: usize = 64;
const MAX_WAITERS: usize = 64;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// A child of context `parent`: with a deadline `ms + 1` ahead of the
    /// test clock if given, otherwise a cancellable child.
    Child {
        parent: u8,
        deadline: Option<u8>,
    },
    Cancel(u8),
    DropHandle(u8),
    DropContext(u8),
    Advance(u8),
    Register(u8),
    Deregister(u8),
}

#[derive(Debug, Default)]
struct ModelNode {
    /// Once cancelled: when (test-clock ms, its own or inherited).
    cancelled_at: Option<u64>,
    children: Vec<usize>,
}

#[derive(Debug)]
struct ModelRegistration {
    node: Option<usize>,
    active: bool,
    interrupted: bool,
}

#[derive(Default)]
struct Model {
    nodes: Vec<ModelNode>,
    regs: Vec<ModelRegistration>,
}

impl Model {
    /// Cancels node `root` at test-clock `now`, and its descendants.
    fn cancel(&mut self, root: usize, now: u64) {
        let mut work = vec![root];
        while let Some(n) = work.pop() {
            if self.nodes[n].cancelled_at.is_some() {
                continue;
            }
            self.nodes[n].cancelled_at = Some(now);
            work.extend(std::mem::take(&mut self.nodes[n].children));
            for reg in &mut self.regs {
                if reg.active && reg.node == Some(n) {
                    reg.interrupted = true;
                }
            }
        }
    }

    /// What `err()` returns for a context on `node` with `deadline` at `now`.
    fn err(&self, node: Option<usize>, deadline: Option<u64>, now: u64) -> Option<Error> {
        self.cancelled(node, deadline).or_else(|| {
            deadline
                .filter(|&d| d <= now)
                .map(|_| Error::DeadlineExceeded)
        })
    }

    /// The error a call that reads no clock fails with: the cancellation's.
    fn cancelled(&self, node: Option<usize>, deadline: Option<u64>) -> Option<Error> {
        let at = self.nodes[node?].cancelled_at?;
        Some(match deadline {
            Some(d) if d <= at => Error::DeadlineExceeded,
            _ => Error::Cancelled,
        })
    }
}

struct Slot {
    /// The model node; `None` for contexts without one (background and
    /// deadlines derived from it).
    node: Option<usize>,
    /// The deadline, test-clock ms.
    deadline: Option<u64>,
    ctx: Option<Context>,
    handle: Option<CancelHandle>,
}

/// Runs one input; panics if the contexts and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let base = Instant::now() + Duration::from_secs(3600);
    let at = |ms: u64| base + Duration::from_millis(ms);
    let mut now = 0u64;
    step::set_clock(at(now));
    let waiters: Vec<Pin<Arc<Waiter>>> =
        (0..MAX_WAITERS).map(|_| Arc::pin(Waiter::new())).collect();
    let mut registered: Vec<Option<Registered>> = Vec::new();
    let mut slots = vec![Slot {
        node: None,
        deadline: None,
        ctx: Some(Context::background()),
        handle: None,
    }];
    let mut model = Model::default();
    let mut trace = Vec::new();

    while let Some(op) = next_op(&mut u) {
        trace.push(op);
        let pick = |k: u8, len: usize| usize::from(k) % len;
        match op {
            Op::Child { parent, deadline } => {
                if slots.len() == MAX_CONTEXTS {
                    continue;
                }
                let p = pick(parent, slots.len());
                let Some(parent_ctx) = &slots[p].ctx else {
                    continue;
                };
                let (node, parent_deadline) = (slots[p].node, slots[p].deadline);
                let cancelled_at = node.and_then(|n| model.nodes[n].cancelled_at);
                let slot = match deadline {
                    Some(d) => {
                        let own = now + 1 + u64::from(d);
                        let deadline = match cancelled_at {
                            Some(_) => parent_deadline,
                            None => Some(parent_deadline.map_or(own, |pd| pd.min(own))),
                        };
                        Slot {
                            node,
                            deadline,
                            ctx: Some(parent_ctx.with_deadline(at(own))),
                            handle: None,
                        }
                    }
                    None => {
                        let (ctx, handle) = parent_ctx.with_cancel();
                        let id = model.nodes.len();
                        model.nodes.push(ModelNode {
                            cancelled_at,
                            children: Vec::new(),
                        });
                        if let (Some(n), None) = (node, cancelled_at) {
                            model.nodes[n].children.push(id);
                        }
                        Slot {
                            node: Some(id),
                            deadline: parent_deadline,
                            ctx: Some(ctx),
                            handle: Some(handle),
                        }
                    }
                };
                slots.push(slot);
            }
            Op::Cancel(k) | Op::DropHandle(k) => {
                let s = pick(k, slots.len());
                let Some(handle) = slots[s].handle.take() else {
                    continue;
                };
                if matches!(op, Op::Cancel(_)) {
                    handle.cancel();
                    slots[s].handle = Some(handle);
                } else {
                    drop(handle);
                }
                let n = slots[s]
                    .node
                    .expect("only cancellable contexts have handles");
                model.cancel(n, now);
            }
            Op::DropContext(k) => {
                let s = pick(k, slots.len());
                if s > 0 {
                    slots[s].ctx = None;
                }
            }
            Op::Advance(ms) => {
                now += u64::from(ms);
                step::set_clock(at(now));
            }
            Op::Register(k) => {
                let id = registered.len();
                if id == MAX_WAITERS {
                    continue;
                }
                let s = pick(k, slots.len());
                let Some(ctx) = &slots[s].ctx else { continue };
                let expected = model.cancelled(slots[s].node, slots[s].deadline);
                match step::register(ctx, waiters[id].clone()) {
                    Ok(reg) => {
                        assert_eq!(
                            expected, None,
                            "registered on a cancelled context; {trace:?}"
                        );
                        registered.push(Some(reg));
                    }
                    Err(err) => {
                        assert_eq!(Some(err), expected, "refused registration; {trace:?}");
                        registered.push(None);
                    }
                }
                model.regs.push(ModelRegistration {
                    node: slots[s].node,
                    active: expected.is_none(),
                    interrupted: false,
                });
            }
            Op::Deregister(k) => {
                if registered.is_empty() {
                    continue;
                }
                let r = pick(k, registered.len());
                registered[r] = None;
                model.regs[r].active = false;
            }
        }
        check(&slots, &model, &waiters, now, &at, &trace);
    }
    // Deregister before the waiters go.
    registered.clear();
    drop(slots);
    step::use_real_clock();
}

fn check(
    slots: &[Slot],
    model: &Model,
    waiters: &[Pin<Arc<Waiter>>],
    now: u64,
    at: &dyn Fn(u64) -> Instant,
    trace: &[Op],
) {
    for (i, slot) in slots.iter().enumerate() {
        let Some(ctx) = &slot.ctx else {
            continue;
        };
        let expected = model.err(slot.node, slot.deadline, now);
        assert_eq!(ctx.err(), expected, "context {i}; {trace:?}");
        // Asked twice: the answer never changes.
        assert_eq!(ctx.err(), expected, "context {i}, again; {trace:?}");
        assert_eq!(
            ctx.deadline(),
            slot.deadline.map(at),
            "deadline of {i}; {trace:?}"
        );
    }
    for (r, reg) in model.regs.iter().enumerate() {
        assert_eq!(
            waiters[r].is_interrupted(),
            reg.interrupted,
            "waiter {r} ({reg:?}); {trace:?}"
        );
    }
}
