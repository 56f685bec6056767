//! A small key-value service over TCP, written the way a user would write it
//! with concur. One process, two listeners on one store:
//!
//! * threads: an accept loop hands each connection to a `Group` of handlers
//!   with a limit (`threads.rs`);
//! * tasks: a tokio runtime serves the second listener, one task per
//!   connection, bounded by a `Semaphore` of owned permits (`tasks.rs`).
//!
//! Both share one [`Service`]: a `RwLock`'d map, a `Semaphore` bounding
//! writes in flight, a `Pool` of line buffers, and two contexts. The *root*
//! ends on shutdown (Ctrl-C or `SHUTDOWN`): accepting stops, idle
//! connections see end of file, a request already read runs on and its
//! connection closes after the reply. The *hard*
//! context, parent of every request's deadline, ends when the drain
//! deadline passes: whatever still waits ends with `Cancelled`, and
//! [`Server::wait`] reports it all.

mod protocol;
mod report;
mod service;
mod tasks;
mod threads;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Context, Group, Semaphore, WaitGroup};

pub use protocol::{Command, ParseError, Request};
pub use report::ShutdownReport;
pub use service::{Counters, Service};

/// The longest request line, its end included.
const MAX_LINE: usize = 4096;
const TOO_LONG: &[u8] = b"ERR request line too long\n";
/// After the hard stop, how long handlers have to write their replies
/// before their sockets are shut.
const HARD_STOP_GRACE: Duration = Duration::from_secs(1);

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the thread-served listener binds.
    pub addr: SocketAddr,
    /// Where the task-served listener binds.
    pub async_addr: SocketAddr,
    /// Connection handlers running at once on threads (the group's limit).
    pub threads: usize,
    /// Accepted connections that may queue behind them.
    pub queue: usize,
    /// Connections open at once on tasks.
    pub tasks: usize,
    /// Runtime worker threads for the tasks.
    pub workers: usize,
    /// Writes in flight at once (`SET`, `DEL`, `HOLD`).
    pub write_permits: u64,
    /// A request's deadline, and the cap on the one a client asks for.
    pub request_timeout: Duration,
    /// How long in-flight requests may run on after shutdown begins.
    pub drain: Duration,
    /// Whether `PANIC` panics (fault injection).
    pub faults: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: ([127, 0, 0, 1], 7070).into(),
            async_addr: ([127, 0, 0, 1], 7071).into(),
            threads: 32,
            queue: 32,
            tasks: 1024,
            workers: 2,
            write_permits: 4,
            request_timeout: Duration::from_secs(1),
            drain: Duration::from_secs(2),
            faults: false,
        }
    }
}

/// A running server.
pub struct Server {
    service: Arc<Service>,
    addr: SocketAddr,
    async_addr: SocketAddr,
    group: Arc<Group>,
    accept: thread::JoinHandle<()>,
    accept_task: tokio::task::JoinHandle<()>,
    runtime: tokio::runtime::Runtime,
    tasks: Arc<WaitGroup>,
    task_limit: Arc<Semaphore>,
}

impl Server {
    /// Binds both listeners and starts serving.
    pub fn start(config: Config) -> io::Result<Server> {
        let listener = TcpListener::bind(config.addr)?;
        let async_listener = TcpListener::bind(config.async_addr)?;
        let (addr, async_addr) = (listener.local_addr()?, async_listener.local_addr()?);
        let service = Arc::new(Service::new(config.clone()));
        let group = Group::builder()
            .limit(config.threads)
            .queue(config.queue)
            .context(&service.root)
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let group = Arc::new(group);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .thread_name("kv-task-worker")
            .build()?;
        let tasks = Arc::new(WaitGroup::new());
        let task_limit = Arc::new(Semaphore::new(config.tasks as u64));
        let async_listener = async_net::TcpListener::try_from(async_listener)?;
        let accept_task = runtime.spawn(tasks::accept_loop(
            service.clone(),
            async_listener,
            task_limit.clone(),
            tasks.clone(),
        ));
        let accept = {
            let (service, group) = (service.clone(), group.clone());
            thread::Builder::new()
                .name("kv-accept".into())
                .spawn(move || threads::accept_loop(service, listener, group))?
        };
        tracing::info!(%addr, %async_addr, "serving");
        Ok(Server {
            service,
            addr,
            async_addr,
            group,
            accept,
            accept_task,
            runtime,
            tasks,
            task_limit,
        })
    }

    /// The thread-served listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The task-served listener's address.
    pub fn async_addr(&self) -> SocketAddr {
        self.async_addr
    }

    /// The shared state: counters, `shutdown()`.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Waits for shutdown to begin, then drains: handlers have until the
    /// drain deadline to finish, after which the hard context is cancelled
    /// and the rest end with `Cancelled`. Returns what happened.
    pub fn wait(self) -> ShutdownReport {
        let svc = &self.service;
        svc.root.wait();
        let begun = Instant::now();
        let mut report = ShutdownReport {
            in_flight: svc.counters.in_flight.load(Relaxed),
            connections: svc.counters.connections.load(Relaxed),
            ..ShutdownReport::default()
        };
        tracing::info!(
            in_flight = report.in_flight,
            connections = report.connections,
            drain_ms = svc.config.drain.as_millis() as u64,
            "shutting down: accepting stopped, draining"
        );
        let drain = Context::background().with_timeout(svc.config.drain);
        // Both accept loops end before the drain counts handlers, so no
        // connection accepted at the last moment is missed.
        join_accept_thread(self.accept, self.addr, &drain);
        let _ = self.runtime.block_on(self.accept_task);
        let (group, tasks) = (&*self.group, &*self.tasks);
        if !wait_handlers(group, tasks, &drain, &mut report) {
            report.hard_stopped = true;
            tracing::warn!("drain deadline passed: cancelling what is left");
            svc.stop_hard();
            // Cancelled requests still write their replies; a handler stuck
            // in a write past the grace has its socket shut.
            let grace = Context::background().with_timeout(HARD_STOP_GRACE);
            if !wait_handlers(group, tasks, &grace, &mut report) {
                report.killed = true;
                tracing::warn!("handlers stuck past the grace: shutting their sockets");
                svc.kill();
                wait_handlers(group, tasks, &Context::background(), &mut report);
            }
        }
        report.drained_in = begun.elapsed();
        // Only the hard stop cancels a request's context.
        report.cancelled_requests = svc.counters.cancelled.load(Relaxed);
        report.requests = svc.counters.requests.load(Relaxed);
        report.accepted = svc.counters.accepted.load(Relaxed);
        report.panics = svc.counters.panics.load(Relaxed);
        report.task_permits_back = self.task_limit.available() == self.task_limit.capacity()
            && self.task_limit.waiters() == 0;
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        tracing::info!(%report, "stopped");
        report
    }
}

/// Waits for every handler, the group's threads and the counted tasks,
/// until `ctx` ends; adds the group's errors to `report`. Whether all have
/// finished.
fn wait_handlers(
    group: &Group,
    tasks: &WaitGroup,
    ctx: &Context,
    report: &mut ShutdownReport,
) -> bool {
    let threads = group.wait(ctx);
    let threads_done = !threads.as_ref().is_err_and(|e| e.unfinished() > 0);
    let tasks_done = tasks.wait_ctx(ctx).is_ok();
    report.add_group_result(threads);
    threads_done && tasks_done
}

/// Joins the accept thread. The root's `on_cancel` woke it with a
/// connection to ourselves; if that failed (out of descriptors, say), try
/// again until the thread has ended or `by` ends, then leave it running
/// rather than hang the shutdown.
fn join_accept_thread(accept: thread::JoinHandle<()>, addr: SocketAddr, by: &Context) {
    while !accept.is_finished() {
        if by.is_done() {
            tracing::error!("the accept thread did not wake; left running");
            return;
        }
        let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(10));
        let _ = by.with_timeout(Duration::from_millis(1)).wait();
    }
    let _ = accept.join();
}

/// Errors that mean the client went away, not that serving failed.
fn is_disconnect(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected
    )
}
