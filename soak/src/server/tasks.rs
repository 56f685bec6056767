//! Connections served by tasks on tokio: the same store, semaphore and pool
//! as the threads, through the awaiting twins of the same calls.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_net::{TcpListener, TcpStream};
use concur_sync::{Semaphore, WaitGroup};
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_lite::{future, AsyncBufRead};
use tracing::Instrument;

use super::service::{Connection, Service};
use super::{is_disconnect, MAX_LINE, TOO_LONG};

/// Marks a task finished in the wait group however it ends (a panic
/// included), so the drain can wait for every task.
struct Leave(Arc<WaitGroup>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// Accepts until the root context ends, one task per connection. A
/// connection first takes an owned permit from `limit`, which moves into
/// its task, so at most `limit`'s capacity are open at once.
pub(super) async fn accept_loop(
    svc: Arc<Service>,
    listener: TcpListener,
    limit: Arc<Semaphore>,
    tasks: Arc<WaitGroup>,
) {
    loop {
        let Ok(permit) = limit.clone().acquire_owned_async(&svc.root, 1).await else {
            break;
        };
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            svc.root.done().await;
            None
        })
        .await;
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                // As the thread loop: back off, but end at once on shutdown.
                tracing::warn!(error = %e, "accept failed");
                let _ = svc
                    .root
                    .with_timeout(Duration::from_millis(10))
                    .done()
                    .await;
                continue;
            }
        };
        let id = svc
            .counters
            .accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tasks.add(1);
        let leave = Leave(tasks.clone());
        let svc = svc.clone();
        let span = tracing::info_span!("conn", id, %peer, task = true);
        tokio::spawn(
            async move {
                let _leave = leave;
                let _permit = permit;
                serve(&svc, stream).await
            }
            .instrument(span),
        );
    }
}

/// The twin of the thread handler: the root ending shuts the read half, a
/// handler left after the hard stop's grace both halves.
async fn serve(svc: &Service, stream: TcpStream) {
    let _open = Connection::open(svc);
    let socket = stream.clone();
    let _watch = svc.watch_socket(move |how| {
        let _ = socket.shutdown(how);
    });
    let mut reader = BufReader::new(stream.clone());
    let mut writer = stream;
    match serve_lines(svc, &mut reader, &mut writer).await {
        Ok(()) => {}
        Err(e) if is_disconnect(&e) => tracing::info!(error = %e, "client left"),
        Err(e) => tracing::warn!(error = %e, "connection failed"),
    }
}

async fn serve_lines(
    svc: &Service,
    reader: &mut (impl AsyncBufRead + Unpin),
    writer: &mut TcpStream,
) -> io::Result<()> {
    loop {
        let mut line = svc.lines.get();
        let n = (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            tracing::info!("connection closed");
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            if n == MAX_LINE {
                writer.write_all(TOO_LONG).await?;
            }
            tracing::info!(bytes = n, "unfinished request line");
            return Ok(());
        }
        let mut reply = svc.replies.get();
        svc.handle_async(&line, &mut reply).await;
        writer.write_all(reply.as_bytes()).await?;
        if svc.root.is_done() {
            tracing::info!("closing after the request in flight at shutdown");
            return Ok(());
        }
    }
}
