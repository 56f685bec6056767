//! Target `context`: a random tree of contexts with cancels, deadlines on a
//! fake clock, dropped handles and registered waiters, against a model.
//!
//! Deadlines are placed an hour ahead of the real clock, so the real timer
//! thread never reaches them; the harness plays the timer with
//! [`step::fire_deadlines`] as its fake clock advances. After every
//! operation: each context still held reports the model's error (`None`,
//! `Cancelled` or `DeadlineExceeded`: exactly the descendants of an ended
//! node are done, with the ancestor's error) and deadline; the number of
//! deadlines the timer fires is the model's; and each registered waiter is
//! interrupted exactly when the model says (a registration on an ended
//! context is refused with its error, and a deregistered waiter is never
//! touched again).

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
    /// A child of context `parent`, with a deadline `ms + 1` ahead of the
    /// fake clock if given.
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

#[derive(Debug)]
struct ModelNode {
    /// Fake-clock ms of the node's own timer entry (earlier than its
    /// parent's deadline), while it has one.
    timer: Option<u64>,
    /// The deadline `deadline()` reports (own or inherited), fake ms.
    effective: Option<u64>,
    err: Option<Error>,
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
    fn end(&mut self, root: usize, err: Error) {
        let mut work = vec![root];
        while let Some(n) = work.pop() {
            if self.nodes[n].err.is_some() {
                continue;
            }
            self.nodes[n].err = Some(err);
            self.nodes[n].timer = None;
            work.extend(std::mem::take(&mut self.nodes[n].children));
            for reg in &mut self.regs {
                if reg.active && reg.node == Some(n) {
                    reg.interrupted = true;
                }
            }
        }
    }
}

struct Slot {
    /// `None` for the background context.
    node: Option<usize>,
    ctx: Option<Context>,
    handle: Option<CancelHandle>,
}

/// Runs one input; panics if the contexts and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let base = Instant::now() + Duration::from_secs(3600);
    let at = |ms: u64| base + Duration::from_millis(ms);
    let mut now = 0u64;
    let waiters: Vec<Pin<Arc<Waiter>>> =
        (0..MAX_WAITERS).map(|_| Arc::pin(Waiter::new())).collect();
    let mut registered: Vec<Option<Registered>> = Vec::new();
    let mut slots = vec![Slot {
        node: None,
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
                let own = deadline.map(|d| now + 1 + u64::from(d));
                let (ctx, handle) = match own {
                    Some(ms) => parent_ctx.with_deadline(at(ms)),
                    None => parent_ctx.with_cancel(),
                };
                let (parent_effective, parent_err) = match slots[p].node {
                    Some(n) => (model.nodes[n].effective, model.nodes[n].err),
                    None => (None, None),
                };
                let own = own.filter(|&d| parent_effective.is_none_or(|pd| d < pd));
                let id = model.nodes.len();
                model.nodes.push(ModelNode {
                    timer: own.filter(|_| parent_err.is_none()),
                    effective: own.or(parent_effective),
                    err: parent_err,
                    children: Vec::new(),
                });
                if let (Some(n), None) = (slots[p].node, parent_err) {
                    model.nodes[n].children.push(id);
                }
                slots.push(Slot {
                    node: Some(id),
                    ctx: Some(ctx),
                    handle: Some(handle),
                });
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
                let n = slots[s].node.expect("background has no handle");
                model.end(n, Error::Cancelled);
            }
            Op::DropContext(k) => {
                let s = pick(k, slots.len());
                if s > 0 {
                    slots[s].ctx = None;
                }
            }
            Op::Advance(ms) => {
                now += u64::from(ms);
                let mut due: Vec<(u64, usize)> = model
                    .nodes
                    .iter()
                    .enumerate()
                    .filter_map(|(n, node)| node.timer.filter(|&t| t <= now).map(|t| (t, n)))
                    .collect();
                due.sort();
                let fired = step::fire_deadlines(at(now));
                assert_eq!(fired, due.len(), "deadlines fired at {now}; {trace:?}");
                for (_, n) in due {
                    model.end(n, Error::DeadlineExceeded);
                }
            }
            Op::Register(k) => {
                let id = registered.len();
                if id == MAX_WAITERS {
                    continue;
                }
                let s = pick(k, slots.len());
                let Some(ctx) = &slots[s].ctx else { continue };
                let expected = slots[s].node.and_then(|n| model.nodes[n].err);
                match step::register(ctx, waiters[id].clone()) {
                    Ok(reg) => {
                        assert_eq!(expected, None, "registered on a done context; {trace:?}");
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
        check(&slots, &model, &waiters, &at, &trace);
    }
    // Deregister before the waiters go, then end every context.
    registered.clear();
    drop(slots);
    assert_eq!(
        step::fire_deadlines(at(u64::MAX / 2)),
        0,
        "timer entries left behind"
    );
}

fn check(
    slots: &[Slot],
    model: &Model,
    waiters: &[Pin<Arc<Waiter>>],
    at: &dyn Fn(u64) -> Instant,
    trace: &[Op],
) {
    for slot in slots {
        let (Some(ctx), Some(n)) = (&slot.ctx, slot.node) else {
            continue;
        };
        let node = &model.nodes[n];
        assert_eq!(ctx.err(), node.err, "context {n}; {trace:?}");
        assert_eq!(
            ctx.deadline(),
            node.effective.map(at),
            "deadline of {n}; {trace:?}"
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
