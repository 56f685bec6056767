//! Faults the server and the library must survive, injected while the load
//! runs: handlers that panic, clients that leave mid-request, requests whose
//! deadline has passed, and bursts of 10,000 cancellations at once.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use concur_sync::{Context, Mutex};

use super::burst;
use super::rng::Rng;

/// Faults injected so far, by kind, and what went wrong with any of them.
#[derive(Default)]
pub struct FaultStats {
    /// `PANIC` requests whose connection the server dropped, as it must.
    pub panics: AtomicU64,
    /// Of those, the ones sent to the thread listener (the group's).
    pub thread_panics: AtomicU64,
    /// Connections closed halfway through a request, or before the reply.
    pub disconnects: AtomicU64,
    /// `@0` requests answered with `ERR context deadline exceeded`.
    pub expired: AtomicU64,
    /// Bursts of cancellations, every waiter accounted for.
    pub bursts: AtomicU64,
    /// The slowest burst, from the cancel to the last waiter's return.
    pub burst_max_micros: AtomicU64,
    /// Faults the system did not survive as it should.
    pub failures: Mutex<Vec<String>>,
}

/// Injects one fault every ~`every` until `stop` ends, a burst every
/// `burst_every` faults.
pub fn run(
    addrs: [SocketAddr; 2],
    stop: &Context,
    stats: &FaultStats,
    every: Duration,
    burst_every: u64,
) {
    let mut rng = Rng::new(0xFA17);
    let mut n = 0u64;
    loop {
        // Sleeping on a context: the wait ends early when the run stops.
        let _ = stop.with_timeout(every).wait();
        if stop.is_done() {
            return;
        }
        n += 1;
        let addr = addrs[(n % 2) as usize];
        let result = if n % burst_every == 5 {
            burst::cancel_10k().map(|took| {
                stats
                    .burst_max_micros
                    .fetch_max(took.as_micros() as u64, Relaxed);
                &stats.bursts
            })
        } else {
            match rng.below(3) {
                0 => panicking_handler(addr).map(|()| {
                    if addr == addrs[0] {
                        stats.thread_panics.fetch_add(1, Relaxed);
                    }
                    &stats.panics
                }),
                1 => leave_mid_request(addr, &mut rng).map(|()| &stats.disconnects),
                _ => past_deadline(addr, &mut rng).map(|()| &stats.expired),
            }
        };
        match result {
            Ok(counter) => drop(counter.fetch_add(1, Relaxed)),
            Err(e) => stats.failures.lock().push(e),
        }
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// `PANIC`: the handler panics; the server must drop that connection (end
/// of file, no reply) and keep serving the others.
fn panicking_handler(addr: SocketAddr) -> Result<(), String> {
    let mut stream = connect(addr)?;
    stream.write_all(b"PANIC\n").map_err(|e| e.to_string())?;
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => Ok(()),
        Ok(_) => Err(format!(
            "PANIC on {addr} answered {:?}",
            String::from_utf8_lossy(&rest)
        )),
        // A reset instead of an orderly close is as good.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(format!("PANIC on {addr}: {e}")),
    }
}

/// Half a request then close, or a whole slow one and close before its
/// reply: the server must neither run the half nor fail on the write.
fn leave_mid_request(addr: SocketAddr, rng: &mut Rng) -> Result<(), String> {
    let mut stream = connect(addr)?;
    let request: &[u8] = match rng.below(2) {
        0 => b"SET half-a-request",
        _ => b"HOLD 5\n",
    };
    stream.write_all(request).map_err(|e| e.to_string())?;
    drop(stream);
    Ok(())
}

/// `@0 GET`: a deadline already past is refused before any work.
fn past_deadline(addr: SocketAddr, rng: &mut Rng) -> Result<(), String> {
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let key = rng.below(super::load::KEYS);
    writer
        .write_all(format!("@0 GET k{key}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(|e| e.to_string())?;
    match reply.as_str() {
        "ERR context deadline exceeded\n" => Ok(()),
        other => Err(format!("@0 GET on {addr} answered {other:?}")),
    }
}
