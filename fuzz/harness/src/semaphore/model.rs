//! The reference model of the semaphore's queue, its side list of
//! requests above the capacity, and its books.

use std::collections::VecDeque;

use concur_core::{AcquireError, TryAcquireError};

/// How a modelled wait ended (what its owner will read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Granted,
    Closed,
    Interrupted,
}

#[derive(Debug)]
pub(super) struct ModelWaiter {
    pub(super) requested: u64,
    need: u64,
    pub(super) interrupted: bool,
    /// `None` while queued.
    pub(super) outcome: Option<Outcome>,
    /// Whether a wake reached its node word since it queued.
    pub(super) woken: bool,
    /// The step has been completed (polled to the end or dropped).
    pub(super) over: bool,
}

/// Waiter ids are given in arrival order, so they double as the tickets
/// that order both lists.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) available: u64,
    pub(super) capacity: u64,
    pub(super) closed: bool,
    pub(super) pending: u64,
    /// Permits held by the harness (acquired and not released or retired).
    pub(super) held: u64,
    /// The FIFO queue of requests that fit the capacity.
    pub(super) queue: VecDeque<usize>,
    /// Requests above the capacity, in arrival order; they hold nothing.
    pub(super) oversized: Vec<usize>,
    pub(super) waiters: Vec<ModelWaiter>,
}

impl Model {
    fn granted(&self, id: usize) -> u64 {
        let w = &self.waiters[id];
        w.requested - w.need
    }

    fn finish(&mut self, id: usize, outcome: Outcome) {
        self.queue.retain(|&q| q != id);
        self.oversized.retain(|&q| q != id);
        self.waiters[id].outcome = Some(outcome);
    }

    /// Links `id` into the queue at its arrival place; returns the head it
    /// displaced, if it went in front of one.
    fn link(&mut self, id: usize) -> Option<usize> {
        let at = self
            .queue
            .iter()
            .position(|&q| q > id)
            .unwrap_or(self.queue.len());
        self.queue.insert(at, id);
        (at == 0).then(|| self.queue.get(1).copied()).flatten()
    }

    /// Moves every oversized request that fits the capacity into the queue;
    /// returns the permits to grant: what was available (if any moved) and
    /// the partial grant of a displaced head.
    fn promote(&mut self) -> u64 {
        let mut permits = 0;
        let mut promoted = false;
        for id in self.oversized.clone() {
            if self.waiters[id].requested > self.capacity {
                continue;
            }
            if self.waiters[id].interrupted {
                self.finish(id, Outcome::Interrupted);
                continue;
            }
            self.oversized.retain(|&q| q != id);
            promoted = true;
            if let Some(old) = self.link(id) {
                let granted = self.granted(old);
                self.waiters[old].need = self.waiters[old].requested;
                self.pending -= granted;
                permits += granted;
            }
        }
        if promoted {
            permits += std::mem::take(&mut self.available);
        }
        permits
    }

    pub(super) fn add_permits(&mut self, n: u64) {
        self.capacity += n;
        let permits = if self.oversized.is_empty() {
            0
        } else {
            self.promote()
        };
        self.grant(n + permits);
    }

    /// The semaphore's grant routine: head first, interrupted heads removed,
    /// a head that needs nothing completed even with no permits left.
    pub(super) fn grant(&mut self, mut permits: u64) {
        while let Some(&head) = self.queue.front() {
            if self.waiters[head].interrupted {
                let granted = self.granted(head);
                permits += granted;
                self.pending -= granted;
                self.finish(head, Outcome::Interrupted);
                continue;
            }
            let w = &mut self.waiters[head];
            let take = permits.min(w.need);
            w.need -= take;
            permits -= take;
            self.pending += take;
            if w.need > 0 {
                break;
            }
            self.pending -= w.requested;
            self.finish(head, Outcome::Granted);
        }
        self.available += permits;
    }

    pub(super) fn try_acquire(&self, n: u64) -> Result<(), TryAcquireError> {
        // Zero permits too wait their turn behind a queue.
        let free = self.queue.is_empty() && self.available >= n;
        if !self.closed && free {
            Ok(())
        } else if self.closed {
            Err(TryAcquireError::Closed)
        } else if n > self.capacity {
            Err(TryAcquireError::TooLarge {
                requested: n,
                capacity: self.capacity,
            })
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Starts an acquire with fresh node `id`: `Some(result)` if it ends at
    /// once, `None` if it queues.
    pub(super) fn start(&mut self, id: usize, n: u64) -> Option<Result<(), AcquireError>> {
        assert_eq!(id, self.waiters.len());
        self.waiters.push(ModelWaiter {
            requested: n,
            need: n,
            interrupted: false,
            outcome: None,
            woken: false,
            over: true,
        });
        if self.try_acquire(n).is_ok() {
            self.available -= n;
            self.held += n;
            return Some(Ok(()));
        }
        if self.closed {
            return Some(Err(AcquireError::Closed));
        }
        self.waiters[id].over = false;
        if n > self.capacity {
            self.oversized.push(id);
            return None;
        }
        let taken = if self.queue.is_empty() {
            self.available
        } else {
            0
        };
        self.available -= taken;
        self.pending += taken;
        self.waiters[id].need = n - taken;
        self.queue.push_back(id);
        None
    }

    /// Whether waiter `id`'s owner would stop sleeping.
    pub(super) fn ready(&self, id: usize) -> bool {
        let w = &self.waiters[id];
        w.outcome.is_some() || w.interrupted
    }

    /// Completes waiter `id` (which is ready), as its owner does.
    pub(super) fn complete(&mut self, id: usize) -> Result<(), AcquireError> {
        self.waiters[id].over = true;
        let result = match self.waiters[id].outcome {
            None => {
                let granted = self.granted(id);
                self.queue.retain(|&q| q != id);
                self.oversized.retain(|&q| q != id);
                self.pending -= granted;
                self.grant(granted);
                Err(AcquireError::Interrupted)
            }
            Some(Outcome::Granted) if self.waiters[id].interrupted => {
                self.grant(self.waiters[id].requested);
                Err(AcquireError::Interrupted)
            }
            Some(Outcome::Granted) => Ok(()),
            Some(Outcome::Closed) => Err(AcquireError::Closed),
            Some(Outcome::Interrupted) => Err(AcquireError::Interrupted),
        };
        if result.is_ok() {
            self.held += self.waiters[id].requested;
        }
        result
    }

    /// Queued requests that no longer fit step aside, handing on their
    /// partial grants.
    pub(super) fn retire(&mut self, n: u64) {
        self.held -= n;
        self.capacity -= n;
        let mut permits = 0;
        for id in self.queue.clone() {
            if self.waiters[id].requested > self.capacity {
                let granted = self.granted(id);
                permits += granted;
                self.pending -= granted;
                self.waiters[id].need = self.waiters[id].requested;
                self.queue.retain(|&q| q != id);
                let at = self.oversized.iter().position(|&q| q > id);
                self.oversized
                    .insert(at.unwrap_or(self.oversized.len()), id);
            }
        }
        self.grant(permits);
    }

    pub(super) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut permits = 0;
        for id in std::mem::take(&mut self.queue) {
            permits += self.granted(id);
            self.waiters[id].outcome = Some(Outcome::Closed);
        }
        for id in std::mem::take(&mut self.oversized) {
            self.waiters[id].outcome = Some(Outcome::Closed);
        }
        self.pending = 0;
        self.available += permits;
    }
}
