//! Step 4 of the tour: debug mode (`--cfg concur_debug`), which reports a
//! lock held too long while it is held, a lock-order inversion before it
//! can deadlock, and contention statistics per lock site.

#[cfg(concur_debug)]
use std::collections::HashMap;
#[cfg(concur_debug)]
use std::thread;
#[cfg(concur_debug)]
use std::time::Duration;

use concur_sync::Mutex;

/// 4. The debug build mode.
pub fn debug_mode() {
    println!("4. Debug mode (--cfg concur_debug)");
    #[cfg(concur_debug)]
    {
        held_too_long();
        lock_order_inversion();
        site_statistics();
        println!();
    }
    #[cfg(not(concur_debug))]
    println!(
        "   this build is a production build: a Mutex<()> is {} bytes and no watchdog runs.\n   \
         Rebuild with RUSTFLAGS=\"--cfg concur_debug\" to have, as `tracing` events: locks\n   \
         held past a threshold (while still held), lock-order inversions (before they can\n   \
         deadlock), recursive reads, and contention statistics per lock site.\n",
        std::mem::size_of::<Mutex<()>>()
    );
}

/// A lock held past the threshold is reported while it is held.
#[cfg(concur_debug)]
fn held_too_long() {
    concur_sync::debug::set_threshold(Duration::from_millis(100));
    println!("   threshold 100 ms; a request handler holds the store's lock for 300 ms:");
    let store = Mutex::new(HashMap::<&str, &str>::new());
    thread::scope(|s| {
        let guard = store.lock(); // reported as the holder
        s.spawn(|| drop(store.lock())); // reported as waiting
        thread::sleep(Duration::from_millis(300));
        drop(guard);
    });
}

/// Two code paths that take the same two locks in opposite orders: run
/// one after the other they never deadlock, and debug mode reports the
/// inversion anyway, before the interleaving that would.
#[cfg(concur_debug)]
fn lock_order_inversion() {
    println!("   `transfer` locks accounts then the audit log; `audit` the other way round:");
    let accounts = Mutex::new(vec![100u64, 50]);
    let audit_log = Mutex::new(Vec::<String>::new());
    let transfer = || {
        let mut accounts = accounts.lock();
        accounts[0] -= 10;
        accounts[1] += 10;
        audit_log.lock().push("moved 10".into());
    };
    let audit = || {
        let log = audit_log.lock();
        let total: u64 = accounts.lock().iter().sum();
        assert_eq!(total, 150, "{} entries", log.len());
    };
    thread::scope(|s| {
        let named = |name: &str| thread::Builder::new().name(name.into());
        named("transfer")
            .spawn_scoped(s, transfer)
            .unwrap()
            .join()
            .unwrap();
        named("audit")
            .spawn_scoped(s, audit)
            .unwrap()
            .join()
            .unwrap();
    });
}

/// Contention statistics per lock site, the most waited-on first.
#[cfg(concur_debug)]
fn site_statistics() {
    let counter = Mutex::new(0u64);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20_000 {
                    *counter.lock() += 1;
                }
            });
        }
    });
    println!(
        "   four threads took a counter's lock 80,000 times; this step's sites, most waited first:"
    );
    let sites = concur_sync::debug::stats();
    for site in sites.iter().filter(|s| s.site.file() == file!()).take(4) {
        println!(
            "     line {:>3}: {} acquired {:>6}x, waited {:>5}x (total {:>8.1?}, max {:>8.1?}), longest hold {:?}",
            site.site.line(),
            site.kind,
            site.acquisitions,
            site.waits,
            site.wait_total,
            site.wait_max,
            site.hold_max,
        );
    }
    println!("   (concur_sync::debug::report() emits every site as a `tracing` INFO event)");
}
