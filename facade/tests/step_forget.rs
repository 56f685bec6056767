//! A leaked `step::Registered` (feature `step`) leaves the context pointing
//! at a waiter that stays alive: the registration owns a clone of it, and
//! leaking the registration leaks that clone. Cancelling later interrupts
//! live memory (Miri checks the "live" part when it runs this file).

use std::mem;
use std::pin::Pin;
use std::sync::Arc;

use concur_core::Waiter;
use concur_sync::{step, Context};

fn waiter() -> Pin<Arc<Waiter>> {
    Arc::pin(Waiter::new())
}

#[test]
fn a_leaked_registration_keeps_its_waiter_alive_for_the_cancel() {
    let (ctx, cancel) = Context::background().with_cancel();
    let waiter = waiter();
    mem::forget(step::register(&ctx, waiter.clone()).unwrap());
    cancel.cancel();
    assert!(waiter.is_interrupted());
}

#[test]
fn a_leaked_registration_survives_every_other_owner() {
    let (parent, cancel) = Context::background().with_cancel();
    let (child, _child_cancel) = parent.with_cancel();
    mem::forget(step::register(&child, waiter()).unwrap());
    // Only the leaked registration still owns the waiter, and the child
    // context lives on in the parent's tree until cancelled.
    drop(child);
    cancel.cancel();
    assert!(parent.is_done());
}

#[test]
fn a_dropped_registration_is_no_longer_interrupted() {
    let (ctx, cancel) = Context::background().with_cancel();
    let waiter = waiter();
    drop(step::register(&ctx, waiter.clone()).unwrap());
    cancel.cancel();
    assert!(!waiter.is_interrupted());
}
