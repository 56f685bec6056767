//! The process-wide lock-order graph: an edge A → B says some thread (or
//! task) acquired B while it held A. An edge that closes a cycle is a
//! potential deadlock, reported once per cycle, before it happens.
//!
//! Only new edges reach this module (each thread remembers the pairs it
//! has put in, see `held`), and only a search from the new edge runs: the
//! graph's lock is off the common path. A lock that is dropped leaves the
//! graph with its edges and reported cycles, so the graph holds live
//! locks only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::panic::Location;
use std::sync::{Arc, Mutex as StdMutex};

use super::stack::HeldLock;
use super::state::LockState;
use super::watch;

/// How an edge came about: held `from` at `held`, took `to` at `taken`.
#[derive(Clone)]
struct Edge {
    from: Lock,
    to: Lock,
    held: &'static Location<'static>,
    taken: &'static Location<'static>,
    thread: Arc<str>,
}

/// A lock as events name it: its kind and its id (`mutex#7`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Lock {
    kind: &'static str,
    id: u64,
}

impl std::fmt::Display for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.kind, self.id)
    }
}

#[derive(Default)]
struct Graph {
    /// Edges by their source lock.
    out: HashMap<u64, Vec<Edge>>,
    /// Sources of the edges into a lock (to remove them with it).
    into: HashMap<u64, HashSet<u64>>,
    /// Cycles reported, each as its sorted edge pairs.
    reported: HashSet<Vec<(u64, u64)>>,
}

static GRAPH: StdMutex<Option<Graph>> = StdMutex::new(None);

/// What `record` did, for the thread's stack and seen-set.
pub(super) struct Outcome {
    /// Pairs now in the graph.
    pub(super) recorded: Vec<(u64, u64)>,
    /// Holds of the stack that had ended.
    pub(super) stale: Vec<HeldLock>,
    /// Cycles closed for the first time.
    pub(super) inversions: Vec<Inversion>,
}

/// Puts the edges from `new` to `state` (taken at `site`) into the graph,
/// after checking that those holds still stand.
pub(super) fn record(
    new: &[HeldLock],
    state: &LockState,
    site: &'static Location<'static>,
) -> Outcome {
    let mut outcome = Outcome {
        recorded: Vec::new(),
        stale: Vec::new(),
        inversions: Vec::new(),
    };
    // The states looked up are let go only after the graph's lock: the last
    // reference to a lock's state removes it from the graph.
    let mut states = Vec::new();
    let mut live = Vec::new();
    for h in new {
        match watch::lookup(h.id) {
            Some(s) if s.holds(h.mode, h.token) => {
                live.push(Edge {
                    from: Lock {
                        kind: s.kind,
                        id: h.id,
                    },
                    to: Lock {
                        kind: state.kind,
                        id: state.id,
                    },
                    held: h.site,
                    taken: site,
                    thread: thread_name(),
                });
                states.push(s);
            }
            other => {
                outcome.stale.push(*h);
                states.extend(other);
            }
        }
    }
    let mut guard = watch::lock(&GRAPH);
    let graph = guard.get_or_insert_with(Graph::default);
    for edge in live {
        let (from, to) = (edge.from.id, edge.to.id);
        outcome.recorded.push((from, to));
        let out = graph.out.entry(from).or_default();
        if out.iter().any(|e| e.to.id == to) {
            continue;
        }
        out.push(edge.clone());
        graph.into.entry(to).or_default().insert(from);
        if let Some(path) = graph.path(to, from) {
            let mut cycle = vec![edge];
            cycle.extend(path);
            let mut key: Vec<_> = cycle.iter().map(|e| (e.from.id, e.to.id)).collect();
            key.sort_unstable();
            if graph.reported.insert(key) {
                outcome.inversions.push(Inversion { cycle });
            }
        }
    }
    drop(guard);
    drop(states);
    outcome
}

impl Graph {
    /// The edges of a shortest path from `start` to `goal`, if any.
    fn path(&self, start: u64, goal: u64) -> Option<Vec<Edge>> {
        let mut came_by: HashMap<u64, &Edge> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            if at == goal {
                let mut path = Vec::new();
                let mut node = goal;
                while node != start {
                    let edge = came_by[&node];
                    path.push(edge.clone());
                    node = edge.from.id;
                }
                path.reverse();
                return Some(path);
            }
            for edge in self.out.get(&at).into_iter().flatten() {
                let to = edge.to.id;
                if to != start && !came_by.contains_key(&to) {
                    came_by.insert(to, edge);
                    queue.push_back(to);
                }
            }
        }
        None
    }
}

/// Removes a dropped lock from the graph.
pub(super) fn forget(id: u64) {
    let mut graph = watch::lock(&GRAPH);
    let Some(graph) = graph.as_mut() else {
        return;
    };
    for edge in graph.out.remove(&id).into_iter().flatten() {
        if let Some(sources) = graph.into.get_mut(&edge.to.id) {
            sources.remove(&id);
            if sources.is_empty() {
                graph.into.remove(&edge.to.id);
            }
        }
    }
    for source in graph.into.remove(&id).into_iter().flatten() {
        if let Some(out) = graph.out.get_mut(&source) {
            out.retain(|e| e.to.id != id);
            if out.is_empty() {
                graph.out.remove(&source);
            }
        }
    }
    graph
        .reported
        .retain(|cycle| !cycle.iter().any(|&(a, b)| a == id || b == id));
}

/// The size of the lock-order graph: see [`graph_size`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GraphSize {
    /// Live locks with at least one edge.
    pub locks: usize,
    /// Edges (distinct ordered pairs of live locks).
    pub edges: usize,
}

/// How big the process-wide lock-order graph is now. Locks leave it when
/// they are dropped, so in a long run it stays as big as the set of live
/// locks that are ever held together.
pub fn graph_size() -> GraphSize {
    let graph = watch::lock(&GRAPH);
    let Some(graph) = graph.as_ref() else {
        return GraphSize { locks: 0, edges: 0 };
    };
    let mut locks: HashSet<u64> = graph.out.keys().copied().collect();
    locks.extend(graph.into.keys().copied());
    GraphSize {
        locks: locks.len(),
        edges: graph.out.values().map(Vec::len).sum(),
    }
}

fn thread_name() -> Arc<str> {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => name.into(),
        None => format!("{:?}", thread.id()).into(),
    }
}

/// A cycle closed by a new edge, the new edge first.
pub(super) struct Inversion {
    cycle: Vec<Edge>,
}

impl Inversion {
    pub(super) fn emit(&self) {
        let mut cycle = String::new();
        let mut edges = String::new();
        for (i, e) in self.cycle.iter().enumerate() {
            let _ = write!(cycle, "{} -> ", e.from);
            if i > 0 {
                edges.push_str("; ");
            }
            let _ = write!(
                edges,
                "{} held from {}:{} then {} taken at {}:{} on thread {}",
                e.from,
                e.held.file(),
                e.held.line(),
                e.to,
                e.taken.file(),
                e.taken.line(),
                e.thread
            );
        }
        let _ = write!(cycle, "{}", self.cycle[0].from);
        tracing::warn!(
            cycle = %cycle,
            locks = self.cycle.len(),
            edges = %edges,
            "potential deadlock: lock order inversion"
        );
    }
}
