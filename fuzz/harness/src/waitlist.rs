//! Target `waitlist`: the intrusive wait list against a `VecDeque`.
//!
//! Operations on 16 nodes: push back, insert after a node (or at the
//! front), remove (from anywhere, including a node that is not linked, or
//! twice), pop front. After each, walking the
//! list forwards (checking every `prev` link and the tail on the way) must
//! give the model's order.

use std::collections::VecDeque;
use std::pin::pin;

use arbitrary::{Arbitrary, Unstructured};

use crate::next_op;
use concur_core::step::ListHarness;

const NODES: usize = 16;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Push(u8),
    Remove(u8),
    RemoveTwice(u8),
    Pop,
    /// Insert the second node after the first (a first of 16 or more: at
    /// the front).
    InsertAfter(u8, u8),
}

/// Runs one input; panics if the list and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let list = pin!(ListHarness::<NODES>::new());
    let list = list.as_ref();
    let mut model: VecDeque<usize> = VecDeque::new();
    let mut trace = Vec::new();
    while let Some(op) = next_op(&mut u) {
        trace.push(op);
        match op {
            Op::Push(i) => {
                let i = usize::from(i) % NODES;
                let fresh = !model.contains(&i);
                assert_eq!(list.push_back(i), fresh, "{trace:?}");
                if fresh {
                    model.push_back(i);
                }
            }
            Op::Remove(i) | Op::RemoveTwice(i) => {
                let i = usize::from(i) % NODES;
                let linked = model.contains(&i);
                assert_eq!(list.remove(i), linked, "{trace:?}");
                model.retain(|&m| m != i);
                if matches!(op, Op::RemoveTwice(_)) {
                    assert!(!list.remove(i), "removed twice; {trace:?}");
                }
            }
            Op::InsertAfter(a, i) => {
                let i = usize::from(i) % NODES;
                let anchor = usize::from(a) % (NODES + 1);
                let anchor = (anchor < NODES).then_some(anchor);
                let at = match anchor {
                    None => Some(0),
                    Some(a) => model.iter().position(|&m| m == a).map(|p| p + 1),
                };
                let fresh = !model.contains(&i) && at.is_some();
                assert_eq!(list.insert_after(anchor, i), fresh, "{trace:?}");
                if let (true, Some(at)) = (fresh, at) {
                    model.insert(at, i);
                }
            }
            Op::Pop => assert_eq!(list.pop_front(), model.pop_front(), "{trace:?}"),
        }
        let mut order = Vec::with_capacity(NODES);
        let len = list.walk(|i| order.push(i));
        assert_eq!(len, model.len(), "{trace:?}");
        assert!(
            order.iter().eq(model.iter()),
            "{order:?} vs {model:?}; {trace:?}"
        );
        for i in 0..NODES {
            assert_eq!(list.is_linked(i), model.contains(&i), "{trace:?}");
        }
    }
}
