//! Captures the `tracing` events of a debug-mode test binary with their
//! fields, for tests that assert what a report says.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Condvar, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

/// One captured event: its level, message and other fields (as text).
#[derive(Clone, Debug)]
pub struct Event {
    pub level: tracing::Level,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl Event {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("no field {name} in {self:?}"))
    }
}

#[derive(Default)]
struct Events {
    list: StdMutex<Vec<Event>>,
    grew: Condvar,
}

struct Capture;

struct Fields<'a>(&'a mut Event);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.0.message = text;
        } else {
            self.0.fields.insert(field.name().to_string(), text);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .fields
            .insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let mut captured = Event {
            level: *event.metadata().level(),
            message: String::new(),
            fields: BTreeMap::new(),
        };
        event.record(&mut Fields(&mut captured));
        let events = events();
        events.list.lock().unwrap().push(captured);
        events.grew.notify_all();
    }
}

fn events() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber).unwrap();
        Events::default()
    })
}

/// Starts capturing (idempotent); call at the top of every test.
pub fn capture() {
    events();
}

/// The events captured so far that satisfy `pred`.
pub fn matching(pred: impl Fn(&Event) -> bool) -> Vec<Event> {
    events()
        .list
        .lock()
        .unwrap()
        .iter()
        .filter(|e| pred(e))
        .cloned()
        .collect()
}

/// Blocks until an event satisfies `pred`; fails the test after 30 s (only
/// a real hang gets there).
pub fn wait_for(pred: impl Fn(&Event) -> bool) -> Event {
    let events = events();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut list = events.list.lock().unwrap();
    loop {
        if let Some(e) = list.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            panic!("hang: no such event; captured: {:#?}", *list);
        };
        list = events.grew.wait_timeout(list, left).unwrap().0;
    }
}

/// `file:line` of a line of the calling test file.
pub fn site(file: &str, line: u32) -> String {
    format!("{file}:{line}")
}

/// Inversion events whose edges name every one of `lines` of `file`.
pub fn inversions_naming(file: &str, lines: &[u32]) -> Vec<Event> {
    matching(|e| {
        e.message == INVERSION
            && lines
                .iter()
                .all(|&l| e.field("edges").contains(&site(file, l)))
    })
}

pub const INVERSION: &str = "potential deadlock: lock order inversion";
pub const RECURSIVE_READ: &str = "recursive read can deadlock behind a waiting writer";
