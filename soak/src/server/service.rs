//! The state every connection shares, threads and tasks alike, and what a
//! request does to it: the store behind a `RwLock`, a `Semaphore` bounding
//! writes in flight, `Pool`s of line and reply buffers, and the contexts
//! that end the process's work.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use concur_sync::{CancelHandle, Context, Error, OnCancel, Pool, RwLock, Semaphore};

use super::protocol::{Command, Request};
use super::Config;

/// What the service shares.
pub struct Service {
    pub(super) config: Config,
    /// Cancelled on shutdown: stop accepting, stop reading new requests.
    pub(super) root: Context,
    root_cancel: CancelHandle,
    /// Cancelled when the drain deadline passes: requests still running
    /// end with `Cancelled`. Every request's context derives from it.
    pub(super) hard: Context,
    hard_cancel: CancelHandle,
    /// Cancelled if handlers outlive the hard stop by a grace period (a
    /// write blocked on a client that stopped reading): sockets are shut.
    pub(super) kill: Context,
    kill_cancel: CancelHandle,
    store: RwLock<HashMap<String, String>>,
    pub(super) writes: Semaphore,
    /// Request line buffers and reply buffers: a connection takes one of
    /// each per request and gives them back, so steady load allocates no
    /// buffers.
    pub(super) lines: Pool<Vec<u8>>,
    pub(super) replies: Pool<String>,
    /// Running totals and gauges.
    pub counters: Counters,
}

/// Running totals, for `STATS`, the shutdown report and the soak's checks.
#[derive(Default)]
pub struct Counters {
    /// Request lines received: run, refused (past deadline) or bad.
    pub requests: AtomicU64,
    /// Requests running now.
    pub in_flight: AtomicU64,
    /// Connections open now (threads and tasks).
    pub connections: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Requests that ended with `Cancelled` (the drain deadline passed).
    pub cancelled: AtomicU64,
    /// Requests that ended with `DeadlineExceeded`.
    pub expired: AtomicU64,
    /// Handlers that panicked, threads and tasks.
    pub panics: AtomicU64,
}

/// A connection's place in the gauge; counts its handler's panic as it
/// unwinds, whichever runs it (a group's worker or a task).
pub(super) struct Connection<'a>(&'a Counters);

impl<'a> Connection<'a> {
    pub(super) fn open(svc: &'a Service) -> Self {
        svc.counters.connections.fetch_add(1, Relaxed);
        Connection(&svc.counters)
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
        if std::thread::panicking() {
            self.0.panics.fetch_add(1, Relaxed);
            tracing::warn!("handler panicked; connection dropped");
        }
    }
}

/// Decrements the in-flight gauge however the request ends, unwinding
/// included.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// A request's outcome before it is written: a reply, or an error from a
/// wait the request's context ended.
type Outcome = Result<(), Error>;

impl Service {
    pub(super) fn new(config: Config) -> Self {
        let (root, root_cancel) = Context::background().with_cancel();
        let (hard, hard_cancel) = Context::background().with_cancel();
        let (kill, kill_cancel) = Context::background().with_cancel();
        Service {
            writes: Semaphore::new(config.write_permits),
            config,
            root,
            root_cancel,
            hard,
            hard_cancel,
            kill,
            kill_cancel,
            store: RwLock::new(HashMap::new()),
            lines: Pool::new(|| Vec::with_capacity(256)).with_reset(Vec::clear),
            replies: Pool::new(|| String::with_capacity(256)).with_reset(String::clear),
            counters: Counters::default(),
        }
    }

    /// Begins a graceful shutdown: stop accepting and reading; the request
    /// in flight on each connection runs on until the drain deadline.
    pub fn shutdown(&self) {
        self.root_cancel.cancel();
    }

    /// Ends the drain: requests still waiting end with `Cancelled`.
    pub(super) fn stop_hard(&self) {
        self.hard_cancel.cancel();
    }

    /// Shuts every connection's socket, ending handlers stuck in I/O.
    pub(super) fn kill(&self) {
        self.kill_cancel.cancel();
    }

    /// Registers a connection's socket with the shutdown: `shut(Read)` when
    /// the root ends (an idle read sees end of file, since a thread blocked
    /// in `read` sees no context), `shut(Both)` at the kill. The guards
    /// deregister both when the connection ends.
    pub(super) fn watch_socket(
        &self,
        shut: impl Fn(Shutdown) + Send + Sync + 'static,
    ) -> [OnCancel; 2] {
        let shut = Arc::new(shut);
        let shut_both = shut.clone();
        [
            self.root.on_cancel(move || shut(Shutdown::Read)),
            self.kill.on_cancel(move || shut_both(Shutdown::Both)),
        ]
    }

    /// Parses and runs one request line (blocking waits), writing one reply
    /// line into `reply`.
    pub fn handle(&self, line: &[u8], reply: &mut String) {
        let id = self.counters.requests.fetch_add(1, Relaxed);
        let span = tracing::info_span!("request", id);
        let _entered = span.enter();
        let start = Instant::now();
        let Some((ctx, request)) = self.prepare(line, reply) else {
            return;
        };
        let _in_flight = self.begin();
        let outcome = self.run(&ctx, &request.command, reply);
        self.finish(&request.command, outcome, start, reply);
    }

    /// [`handle`](Self::handle) with awaiting waits, for tasks.
    pub async fn handle_async(&self, line: &[u8], reply: &mut String) {
        use tracing::Instrument;
        let id = self.counters.requests.fetch_add(1, Relaxed);
        let span = tracing::info_span!("request", id, task = true);
        async {
            let start = Instant::now();
            let Some((ctx, request)) = self.prepare(line, reply) else {
                return;
            };
            let _in_flight = self.begin();
            let outcome = self.run_async(&ctx, &request.command, reply).await;
            self.finish(&request.command, outcome, start, reply);
        }
        .instrument(span)
        .await
    }

    /// The request and its context, or `None` with an error reply written.
    fn prepare<'l>(&self, line: &'l [u8], reply: &mut String) -> Option<(Context, Request<'l>)> {
        match Request::parse_bytes(line) {
            Ok(request) => {
                let timeout = request.timeout.map_or(self.config.request_timeout, |t| {
                    t.min(self.config.request_timeout)
                });
                Some((self.hard.with_timeout(timeout), request))
            }
            Err(e) => {
                tracing::info!(error = %e, "bad request");
                let _ = writeln!(reply, "ERR {e}");
                None
            }
        }
    }

    fn begin(&self) -> InFlight<'_> {
        self.counters.in_flight.fetch_add(1, Relaxed);
        InFlight(&self.counters.in_flight)
    }

    fn finish(&self, command: &Command<'_>, outcome: Outcome, start: Instant, reply: &mut String) {
        let micros = start.elapsed().as_micros() as u64;
        match outcome {
            Ok(()) => tracing::info!(command = command.name(), micros, "served"),
            Err(e) => {
                match e {
                    Error::Cancelled => &self.counters.cancelled,
                    _ => &self.counters.expired,
                }
                .fetch_add(1, Relaxed);
                tracing::info!(command = command.name(), micros, error = %e, "not served");
                reply.clear();
                let _ = writeln!(reply, "ERR {e}");
            }
        }
    }

    /// A request whose context has already ended is not started, as a Go
    /// handler checks `ctx.Err()` first: a call that need not wait would
    /// succeed even past its deadline.
    fn run(&self, ctx: &Context, command: &Command<'_>, reply: &mut String) -> Outcome {
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let _permit = match command.writes() {
            true => Some(self.writes.acquire(ctx, 1)?),
            false => None,
        };
        match *command {
            Command::Get(key) => Self::get(&*self.store.read_ctx(ctx)?, key, reply),
            Command::Set(key, value) => {
                Self::set(&mut *self.store.write_ctx(ctx)?, key, value, reply)
            }
            Command::Del(key) => Self::del(&mut *self.store.write_ctx(ctx)?, key, reply),
            Command::Hold(ms) => {
                // Ends with the hold's own timeout, or earlier with the
                // request's end, which `hold` tells apart.
                let _ = ctx.with_timeout(ms).wait();
                return Self::hold(ctx, reply);
            }
            _ => self.control(command, reply),
        }
        Ok(())
    }

    async fn run_async(&self, ctx: &Context, command: &Command<'_>, reply: &mut String) -> Outcome {
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let _permit = match command.writes() {
            true => Some(self.writes.acquire_async(ctx, 1).await?),
            false => None,
        };
        match *command {
            Command::Get(key) => Self::get(&*self.store.read_async(ctx).await?, key, reply),
            Command::Set(key, value) => {
                Self::set(&mut *self.store.write_async(ctx).await?, key, value, reply)
            }
            Command::Del(key) => Self::del(&mut *self.store.write_async(ctx).await?, key, reply),
            Command::Hold(ms) => {
                let _ = ctx.with_timeout(ms).done().await;
                return Self::hold(ctx, reply);
            }
            _ => self.control(command, reply),
        }
        Ok(())
    }

    fn get(store: &HashMap<String, String>, key: &str, reply: &mut String) {
        match store.get(key) {
            Some(value) => writeln!(reply, "VALUE {value}"),
            None => writeln!(reply, "NOT_FOUND"),
        }
        .expect("writing to a String");
    }

    fn set(store: &mut HashMap<String, String>, key: &str, value: &str, reply: &mut String) {
        match store.get_mut(key) {
            Some(old) => value.clone_into(old),
            None => drop(store.insert(key.to_owned(), value.to_owned())),
        }
        reply.push_str("OK\n");
    }

    fn del(store: &mut HashMap<String, String>, key: &str, reply: &mut String) {
        reply.push_str(match store.remove(key) {
            Some(_) => "OK\n",
            None => "NOT_FOUND\n",
        });
    }

    /// `HOLD` waited on a child context with its own timeout: that timeout
    /// is success, the end of the request's context is not.
    fn hold(ctx: &Context, reply: &mut String) -> Outcome {
        match ctx.err() {
            Some(e) => Err(e),
            None => {
                reply.push_str("OK\n");
                Ok(())
            }
        }
    }

    /// The commands that touch no store.
    fn control(&self, command: &Command<'_>, reply: &mut String) {
        match command {
            Command::Stats => self.write_stats(reply),
            Command::Shutdown => {
                tracing::info!("SHUTDOWN requested");
                self.shutdown();
                reply.push_str("OK shutting down\n");
            }
            Command::Panic if self.config.faults => {
                panic!("PANIC command (fault injection)")
            }
            Command::Panic => reply.push_str("ERR faults are off (start with --faults)\n"),
            _ => unreachable!("store commands are run above"),
        }
    }

    fn write_stats(&self, reply: &mut String) {
        let c = &self.counters;
        let _ = writeln!(
            reply,
            "STATS keys={} requests={} in_flight={} connections={} write_permits={}/{} write_waiters={} expired={} cancelled={}",
            self.keys(),
            c.requests.load(Relaxed),
            c.in_flight.load(Relaxed),
            c.connections.load(Relaxed),
            self.writes.available(),
            self.writes.capacity(),
            self.writes.waiters(),
            c.expired.load(Relaxed),
            c.cancelled.load(Relaxed),
        );
    }

    /// The semaphore bounding writes in flight.
    pub fn writes(&self) -> &Semaphore {
        &self.writes
    }

    /// The number of keys stored.
    pub fn keys(&self) -> usize {
        self.store.read().len()
    }
}
