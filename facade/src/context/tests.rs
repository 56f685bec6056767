use super::*;

fn node(ctx: &Context) -> &Node {
    ctx.node.as_ref().unwrap()
}

/// A blocked call that panics must not leave its stack registration
/// linked: a later cancel would follow it into a dead frame.
#[test]
fn a_panicking_blocked_call_deregisters() {
    let (ctx, cancel) = Context::background().with_cancel();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = ctx.block(|_node| {
            assert_eq!(node(&ctx).registered(), 1);
            panic!("core call panics");
        });
    }));
    assert!(panicked.is_err());
    assert_eq!(node(&ctx).registered(), 0);
    cancel.cancel();
    assert_eq!(ctx.err(), Some(Error::Cancelled));
}

#[test]
fn the_child_of_a_cancelled_parent_is_born_cancelled_and_unlisted() {
    let (parent, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (child, _c) = parent.with_cancel();
    assert_eq!(child.err(), Some(Error::Cancelled));
    assert_eq!(node(&parent).children(), 0);
}

#[test]
fn deriving_a_deadline_shares_the_node_and_lists_nothing() {
    let (parent, _cancel) = Context::background().with_cancel();
    let child = parent.with_timeout(Duration::from_secs(3600));
    assert!(Arc::ptr_eq(
        parent.node.as_ref().unwrap(),
        child.node.as_ref().unwrap()
    ));
    assert_eq!(node(&parent).children(), 0);
    assert!(Context::background()
        .with_timeout(Duration::from_secs(1))
        .node
        .is_none());
}

/// The first of the two events stays the answer. A deadline seen passed
/// before the cancel: `DeadlineExceeded` forever, for that context, while a
/// context on the same node without that deadline says `Cancelled`.
#[test]
fn a_deadline_seen_passed_survives_a_later_cancel() {
    let (ctx, cancel) = Context::background().with_cancel();
    let past = ctx.with_deadline(Instant::now() - Duration::from_millis(1));
    let later = ctx.with_timeout(Duration::from_secs(3600));
    assert_eq!(past.err(), Some(Error::DeadlineExceeded));
    cancel.cancel();
    assert_eq!(past.err(), Some(Error::DeadlineExceeded));
    assert_eq!(later.err(), Some(Error::Cancelled));
    assert_eq!(ctx.err(), Some(Error::Cancelled));
}

/// A deadline that passed before the cancel counts as first even if nobody
/// looked before the cancel: the cancel freezes its own time.
#[test]
fn a_deadline_passed_unseen_before_a_cancel_still_wins() {
    let (ctx, cancel) = Context::background().with_cancel();
    let past = ctx.with_deadline(Instant::now() - Duration::from_secs(1));
    cancel.cancel();
    assert_eq!(past.err(), Some(Error::DeadlineExceeded));
}

/// A child derived from an ended parent reports the parent's error,
/// whatever its own deadline (Go reports `Canceled` here too).
#[test]
fn parent_errors_come_first() {
    let (parent, cancel) = Context::background().with_cancel();
    cancel.cancel();
    assert_eq!(
        parent.with_timeout(Duration::ZERO).err(),
        Some(Error::Cancelled)
    );
    assert_eq!(
        parent
            .with_deadline(Instant::now() - Duration::from_secs(5))
            .err(),
        Some(Error::Cancelled)
    );
    let (grandchild, _g) = parent.with_timeout(Duration::ZERO).with_cancel();
    assert_eq!(grandchild.err(), Some(Error::Cancelled));

    // A parent ended by its deadline: the cancel of a child node created
    // afterwards does not turn its answer into `Cancelled`.
    let expired = Context::background().with_timeout(Duration::ZERO);
    let (child, child_cancel) = expired.with_cancel();
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));
    child_cancel.cancel();
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));
}

#[test]
fn cause_is_shared_by_descendants_and_not_given_for_deadlines() {
    #[derive(Debug)]
    struct Shutdown;
    impl fmt::Display for Shutdown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("shutting down")
        }
    }
    impl StdError for Shutdown {}

    let (root, cancel) = Context::background().with_cancel();
    let (child, _c) = root.with_cancel();
    let expired = child.with_deadline(Instant::now() - Duration::from_secs(1));
    assert!(root.cause().is_none());
    cancel.cancel_with(Shutdown);
    cancel.cancel_with(std::io::Error::other("ignored: already ended"));
    assert_eq!(root.cause().unwrap().to_string(), "shutting down");
    assert_eq!(child.cause().unwrap().to_string(), "shutting down");
    assert!(child.cause().unwrap().is::<Shutdown>());
    assert_eq!(child.err(), Some(Error::Cancelled));
    // Its deadline came first: the cause is the error itself.
    assert_eq!(
        expired.cause().unwrap().to_string(),
        Error::DeadlineExceeded.to_string()
    );
    let (plain, plain_cancel) = Context::background().with_cancel();
    drop(plain_cancel);
    assert_eq!(plain.cause().unwrap().to_string(), "context cancelled");
}

#[test]
fn size_is_three_words() {
    assert!(std::mem::size_of::<Context>() <= 3 * std::mem::size_of::<usize>());
}
