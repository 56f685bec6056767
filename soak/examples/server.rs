//! A key-value service over TCP on loopback, built with concur: see
//! `soak/src/server/` for the service itself.
//!
//! ```text
//! cargo run --release --example server [-- --faults]
//! ```
//!
//! Ctrl-C (or a `SHUTDOWN` request) begins a graceful shutdown; a second
//! Ctrl-C exits at once.

use std::io::IsTerminal as _;
use std::thread;

use concur_soak::server::{Config, Server};
use futures_lite::StreamExt;

fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let config = Config {
        faults: std::env::args().any(|a| a == "--faults"),
        ..Config::default()
    };
    let server = Server::start(config)?;
    println!(
        "concur key-value server: threads on {}, tasks on {}\n\
         talk to it with   nc {} {}\n\
         requests: GET k | SET k v | DEL k | HOLD ms | STATS | SHUTDOWN, \
         optionally prefixed with @<ms> (a deadline)\n\
         Ctrl-C or SHUTDOWN stops it gracefully",
        server.addr(),
        server.async_addr(),
        server.addr().ip(),
        server.addr().port(),
    );
    let service = server.service().clone();
    // Signals reach a dedicated thread through async-signal's pipe: the
    // handler only writes a byte, and this thread cancels the root context
    // (which locks and may allocate, so never inside a handler).
    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Int, async_signal::Signal::Term])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut first = true;
            while let Some(Ok(signal)) = futures_lite::future::block_on(signals.next()) {
                if !first {
                    eprintln!("second {signal:?}: exiting now");
                    std::process::exit(130);
                }
                first = false;
                tracing::info!(?signal, "signal: shutting down (again to exit at once)");
                service.shutdown();
            }
        })?;
    let report = server.wait();
    println!("{report}");
    Ok(())
}
