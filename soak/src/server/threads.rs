//! Connections served by threads: an accept loop that hands each
//! connection to a bounded `Group`, and the handler that runs there.

use std::io::{self, BufRead, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use concur_sync::Group;

use super::service::{Connection, Service};
use super::{is_disconnect, MAX_LINE, TOO_LONG};

/// Accepts until the root context ends. `go` blocks while the group is
/// full (back-pressure on the listener), and once the root has ended a
/// connection still queued never starts: the group counts it as cancelled
/// and dropping it closes the socket.
pub(super) fn accept_loop(svc: Arc<Service>, listener: TcpListener, group: Arc<Group>) {
    // `accept` sees no context: on shutdown a connection to ourselves
    // wakes it, and the loop sees the root has ended.
    let _wake = listener.local_addr().ok().map(|addr| {
        svc.root.on_cancel(move || {
            let _ = TcpStream::connect(addr);
        })
    });
    for stream in listener.incoming() {
        if svc.root.is_done() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors, say: back off without spinning, and
                // still end at once on shutdown.
                tracing::warn!(error = %e, "accept failed");
                let _ = svc.root.with_timeout(Duration::from_millis(10)).wait();
                continue;
            }
        };
        let id = svc
            .counters
            .accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        // The group enters this span in the task: every line the handler
        // logs names its connection.
        let span = tracing::info_span!("conn", id, %peer);
        let _entered = span.enter();
        let svc = svc.clone();
        group.go(move || serve(&svc, stream).map_err(Into::into));
    }
}

/// Serves one connection until the client leaves or the root ends: the
/// read half is shut, so an idle read sees end of file, and a busy
/// connection closes after its reply. If the handler
/// outlives the hard stop by the grace period, both halves are shut, so
/// even a write to a client that stopped reading fails.
fn serve(svc: &Service, stream: TcpStream) -> io::Result<()> {
    let _open = Connection::open(svc);
    let socket = stream.try_clone()?;
    let _watch = svc.watch_socket(move |how| {
        let _ = socket.shutdown(how);
    });
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    match serve_lines(svc, &mut reader, &mut writer) {
        Err(e) if is_disconnect(&e) => {
            tracing::info!(error = %e, "client left");
            Ok(())
        }
        other => other,
    }
}

fn serve_lines(svc: &Service, reader: &mut impl BufRead, writer: &mut TcpStream) -> io::Result<()> {
    loop {
        let mut line = svc.lines.get();
        let n = (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            tracing::info!("connection closed");
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            // A partial line is never run: a client that left mid-request
            // did not ask for half of it.
            if n == MAX_LINE {
                writer.write_all(TOO_LONG)?;
            }
            tracing::info!(bytes = n, "unfinished request line");
            return Ok(());
        }
        let mut reply = svc.replies.get();
        svc.handle(&line, &mut reply);
        writer.write_all(reply.as_bytes())?;
        if svc.root.is_done() {
            // Shutdown began: this connection's request in flight is done.
            tracing::info!("closing after the request in flight at shutdown");
            return Ok(());
        }
    }
}
