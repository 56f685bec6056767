//! The load generator: a fixed set of client connections on loopback, half
//! to each listener, each sending one request at a time and timing the
//! reply. It stops by itself at its deadline or its request cap.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use concur_sync::{Context, Mutex};

use super::histogram::Histogram;
use super::rng::Rng;

/// `ERR` replies a run tolerates per million requests: a request can miss
/// its one-second deadline when the machine stalls, but a server that
/// fails requests wholesale must not pass.
pub const MAX_ERRORS_PER_MILLION: u64 = 100;

/// Distinct keys the clients use, so the store stops growing after warm-up.
pub const KEYS: u64 = 10_000;

/// What the clients have measured, shared with the reporter.
#[derive(Default)]
pub struct LoadStats {
    /// Latencies since the reporter last took them, one histogram per client.
    pub windows: Vec<Mutex<Histogram>>,
    /// Requests sent and replies read, for the "nothing lost" check.
    pub sent: AtomicU64,
    pub answered: AtomicU64,
    /// Replies that were `ERR ...` (a deadline missed in a stall, say):
    /// the run fails if more than [`MAX_ERRORS_PER_MILLION`] of them.
    pub errors: AtomicU64,
    /// Client failures: a connection lost or a reply that makes no sense.
    pub failures: Mutex<Vec<String>>,
}

/// Starts `clients` client threads against `addrs` (alternating); each
/// stops when `stop` ends or the shared `cap` on requests is reached.
pub fn start(
    addrs: [SocketAddr; 2],
    clients: usize,
    stop: &Context,
    cap: u64,
) -> (Arc<LoadStats>, Vec<thread::JoinHandle<()>>) {
    let stats = Arc::new(LoadStats {
        windows: (0..clients)
            .map(|_| Mutex::new(Histogram::default()))
            .collect(),
        ..LoadStats::default()
    });
    let handles = (0..clients)
        .map(|n| {
            let (stats, stop) = (stats.clone(), stop.clone());
            thread::Builder::new()
                .name(format!("soak-client-{n}"))
                .spawn(move || {
                    if let Err(e) = client(n, addrs[n % 2], &stats, &stop, cap) {
                        stats.failures.lock().push(format!("client {n}: {e}"));
                    }
                })
                .expect("spawn a client thread")
        })
        .collect();
    (stats, handles)
}

fn client(
    n: usize,
    addr: SocketAddr,
    stats: &LoadStats,
    stop: &Context,
    cap: u64,
) -> io::Result<()> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // Only a real hang trips this: a reply takes microseconds.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut rng = Rng::new(n as u64 + 1);
    let (mut request, mut reply) = (String::new(), String::new());
    loop {
        if stop.is_done() {
            return Ok(());
        }
        if stats.sent.fetch_add(1, Relaxed) >= cap {
            // Counted, never sent.
            stats.sent.fetch_sub(1, Relaxed);
            return Ok(());
        }
        request.clear();
        let key = rng.below(KEYS);
        let op = match rng.below(100) {
            0..70 => {
                let _ = writeln!(request, "GET k{key}");
                Op::Get
            }
            70..95 => {
                let len = 8 + rng.below(56) as usize;
                let _ = write!(request, "SET k{key} ");
                request.extend(std::iter::repeat_n('v', len));
                request.push('\n');
                Op::Set
            }
            _ => {
                let _ = writeln!(request, "DEL k{key}");
                Op::Del
            }
        };
        let start = Instant::now();
        writer.write_all(request.as_bytes())?;
        reply.clear();
        if reader.read_line(&mut reply)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        let nanos = start.elapsed().as_nanos() as u64;
        stats.windows[n].lock().record(nanos);
        stats.answered.fetch_add(1, Relaxed);
        if reply.starts_with("ERR ") {
            stats.errors.fetch_add(1, Relaxed);
        } else if !op.accepts(&reply) {
            return Err(io::Error::other(format!(
                "{:?} answered {reply:?}",
                request.trim()
            )));
        }
    }
}

/// What a client asked, for checking its reply.
enum Op {
    Get,
    Set,
    Del,
}

impl Op {
    /// Whether `reply` (not an `ERR`) answers this request: a value is
    /// only ever 8 to 63 `v`s, as the clients write them.
    fn accepts(&self, reply: &str) -> bool {
        let reply = reply.trim_end_matches('\n');
        match self {
            Op::Get => {
                reply == "NOT_FOUND"
                    || reply
                        .strip_prefix("VALUE ")
                        .is_some_and(|v| (8..64).contains(&v.len()) && v.bytes().all(|b| b == b'v'))
            }
            Op::Set => reply == "OK",
            Op::Del => reply == "OK" || reply == "NOT_FOUND",
        }
    }
}

/// Takes every client's window, leaving them empty.
pub fn take_window(stats: &LoadStats) -> Histogram {
    let mut merged = Histogram::default();
    for window in &stats.windows {
        merged.merge(&std::mem::take(&mut *window.lock()));
    }
    merged
}
