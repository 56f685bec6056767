//! The key-value server end to end over loopback: both listeners on one
//! store, deadlines, the write bound, panicking handlers, bad input, and
//! graceful shutdown with and without a hard stop. Waits for a reply are
//! bounded by socket timeouts and waits for a state by 30 s, both only
//! reached on a real hang; a server that never stopped would hang its
//! test's join.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use concur_soak::server::{Config, Server, ShutdownReport};

fn config() -> Config {
    Config {
        addr: ([127, 0, 0, 1], 0).into(),
        async_addr: ([127, 0, 0, 1], 0).into(),
        threads: 4,
        queue: 4,
        ..Config::default()
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// The next reply line without its end; "" at end of file.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }

    /// Asks for STATS until `field=value` shows (the server got there);
    /// 30 s without it is a hang.
    fn await_stat(&mut self, field: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.ask("STATS").split(' ').any(|kv| kv == field) {
                return;
            }
            thread::yield_now();
        }
        panic!("STATS never showed {field}");
    }
}

/// Starts a server; returns its addresses and the thread that waits for it.
fn start(config: Config) -> (SocketAddr, SocketAddr, thread::JoinHandle<ShutdownReport>) {
    let server = Server::start(config).unwrap();
    let addrs = (server.addr(), server.async_addr());
    (addrs.0, addrs.1, thread::spawn(move || server.wait()))
}

#[test]
fn both_listeners_share_one_store() {
    let (addr, async_addr, server) = start(config());
    let (mut threads, mut tasks) = (Client::connect(addr), Client::connect(async_addr));
    assert_eq!(threads.ask("SET greeting hello world"), "OK");
    assert_eq!(tasks.ask("GET greeting"), "VALUE hello world");
    assert_eq!(tasks.ask("SET greeting hi"), "OK");
    assert_eq!(threads.ask("get greeting"), "VALUE hi");
    assert_eq!(threads.ask("DEL greeting"), "OK");
    assert_eq!(tasks.ask("GET greeting"), "NOT_FOUND");
    assert_eq!(tasks.ask("DEL greeting"), "NOT_FOUND");
    assert_eq!(threads.ask("SHUTDOWN"), "OK shutting down");
    let report = server.join().unwrap();
    assert!(!report.hard_stopped);
    assert_eq!((report.requests, report.accepted, report.panics), (8, 2, 0));
    assert!(report.task_permits_back);
}

#[test]
fn past_deadlines_are_refused_and_waits_end_at_the_deadline() {
    let (addr, async_addr, server) = start(config());
    for (i, addr) in [addr, async_addr].into_iter().enumerate() {
        let mut c = Client::connect(addr);
        assert_eq!(c.ask("@0 GET a"), "ERR context deadline exceeded");
        assert_eq!(c.ask("@0 SET a b"), "ERR context deadline exceeded");
        assert_eq!(c.ask("@20 HOLD 60000"), "ERR context deadline exceeded");
        assert_eq!(c.ask("HOLD 1"), "OK");
        let expired = format!("expired={}", 3 * (i + 1));
        assert!(c.ask("STATS").split(' ').any(|kv| kv == expired));
    }
    Client::connect(addr).ask("SHUTDOWN");
    server.join().unwrap();
}

#[test]
fn writes_wait_for_a_permit_within_their_deadline() {
    let (addr, async_addr, server) = start(Config {
        write_permits: 1,
        request_timeout: Duration::from_secs(30),
        ..config()
    });
    let mut holder = Client::connect(async_addr);
    holder.send("HOLD 60000");
    let mut other = Client::connect(addr);
    other.await_stat("write_permits=0/1");
    assert_eq!(other.ask("@30 SET k v"), "ERR context deadline exceeded");
    assert_eq!(other.ask("GET k"), "NOT_FOUND", "reads need no permit");
    other.await_stat("write_waiters=0");
    // Shutdown lets the hold run on; the drain deadline then cancels it.
    other.send("SHUTDOWN");
    assert_eq!(holder.reply(), "ERR context cancelled");
    let report = server.join().unwrap();
    assert!(report.hard_stopped && !report.killed);
    assert_eq!(report.cancelled_requests, 1);
    // The hold, and perhaps the SHUTDOWN request itself.
    assert!(report.in_flight >= 1);
}

#[test]
fn shutdown_drains_requests_in_flight_and_closes_idle_connections() {
    let (addr, async_addr, server) = start(Config {
        drain: Duration::from_secs(30),
        ..config()
    });
    let mut busy = [Client::connect(addr), Client::connect(async_addr)];
    let mut idle = [Client::connect(addr), Client::connect(async_addr)];
    for c in &mut busy {
        // The GET waits behind the HOLD, unread, when shutdown begins.
        c.send("HOLD 200\nGET a");
    }
    let mut control = Client::connect(addr);
    control.await_stat("in_flight=3");
    assert_eq!(control.ask("SHUTDOWN"), "OK shutting down");
    for c in &mut busy {
        assert_eq!(c.reply(), "OK", "an in-flight request finishes");
        assert_eq!(
            c.reply(),
            "",
            "then the connection closes, the GET unanswered"
        );
    }
    for c in &mut idle {
        assert_eq!(c.reply(), "", "an idle connection is closed");
    }
    let report = server.join().unwrap();
    assert!(!report.hard_stopped);
    assert_eq!(report.cancelled_requests, 0);
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}

#[test]
fn a_panicking_handler_loses_its_connection_only() {
    let (addr, async_addr, server) = start(Config {
        faults: true,
        ..config()
    });
    let mut survivor = Client::connect(addr);
    assert_eq!(survivor.ask("SET k v"), "OK");
    for addr in [addr, async_addr] {
        let mut c = Client::connect(addr);
        c.send("PANIC");
        let mut rest = Vec::new();
        let _ = c.reader.read_to_end(&mut rest);
        assert!(rest.is_empty(), "no reply from a panicked handler");
    }
    assert_eq!(survivor.ask("GET k"), "VALUE v");
    survivor.send("SHUTDOWN");
    let report = server.join().unwrap();
    assert_eq!(report.panics, 2);
    assert_eq!(
        report.failed_handlers, 1,
        "the group's handler; the task's is counted in panics"
    );
    assert!(report.first_errors[0].contains("PANIC command (fault injection)"));
}

#[test]
fn panic_is_refused_without_faults_and_bad_lines_say_why() {
    let (addr, async_addr, server) = start(config());
    for addr in [addr, async_addr] {
        let mut c = Client::connect(addr);
        assert_eq!(c.ask("PANIC"), "ERR faults are off (start with --faults)");
        assert_eq!(c.ask("FLY away"), "ERR unknown command \"FLY\"");
        assert_eq!(c.ask("SET lonely"), "ERR usage: SET <key> <value>");
        assert_eq!(c.ask(""), "ERR empty request");
        c.writer.write_all(b"GET \xff\n").unwrap();
        assert_eq!(c.reply(), "ERR request is not UTF-8");
        // Half a request, then the client leaves: it is never run.
        let mut half = Client::connect(addr);
        half.writer.write_all(b"SET half 1").unwrap();
        drop(half);
        // A line past the limit is refused and the connection closed.
        let mut long = Client::connect(addr);
        long.send(&"x".repeat(5000));
        assert_eq!(long.reply(), "ERR request line too long");
        assert_eq!(long.reply(), "");
        c.await_stat("connections=1");
        assert_eq!(c.ask("GET half"), "NOT_FOUND");
    }
    Client::connect(addr).ask("SHUTDOWN");
    server.join().unwrap();
}

#[test]
fn a_handler_stuck_writing_to_a_client_that_stopped_reading_is_shut_down() {
    let (addr, _, server) = start(Config {
        drain: Duration::from_millis(100),
        ..config()
    });
    let mut control = Client::connect(addr);
    assert_eq!(control.ask(&format!("SET big {}", "x".repeat(4000))), "OK");
    // A client that sends requests one at a time and never reads a reply:
    // the server's writes fill the socket buffers (16 MB here) and then
    // block. One request at a time, so at most one is left unread when the
    // read half is shut: shutting it over a large unread backlog lets the
    // blocked write go on, and data arriving after it resets the
    // connection (both on Linux), ending the write another way.
    let mut stuck = TcpStream::connect(addr).unwrap();
    // Each STATS counts itself: a jump of more means the GET was served.
    let served = |c: &mut Client| -> u64 {
        let stats = c.ask("STATS");
        let field = stats.split(' ').find_map(|kv| kv.strip_prefix("requests="));
        field.unwrap().parse().unwrap()
    };
    let mut last = served(&mut control);
    'pumping: loop {
        stuck.write_all(b"GET big\n").unwrap();
        let sent = Instant::now();
        // 200 ms without the GET served means its reply's write blocked.
        while sent.elapsed() < Duration::from_millis(200) {
            let now = served(&mut control);
            let got_it = now > last + 1;
            last = now;
            if got_it {
                continue 'pumping;
            }
        }
        break;
    }
    control.send("SHUTDOWN");
    let report = server.join().unwrap();
    assert!(report.hard_stopped, "the stuck handler outlived the drain");
    assert!(report.killed, "and the grace: its socket was shut");
    assert_eq!(report.cancelled_requests, 0, "it was writing, not waiting");
    drop(stuck);
}
