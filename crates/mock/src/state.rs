//! State shared by every connection of one mock: reply queue, recordings, counters, shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::MockOptions;
use crate::record::Recorded;
use crate::script::Reply;

pub(crate) struct State {
    pub opts: MockOptions,
    pub shutdown: CancellationToken,
    queue: Mutex<VecDeque<Reply>>,
    /// Mirrors `queue.len()` so the common unscripted request skips the lock.
    queued: AtomicUsize,
    recorded: Mutex<Vec<Recorded>>,
    received: AtomicUsize,
    open_streams: AtomicUsize,
    cancelled_streams: AtomicUsize,
    cancelled_requests: AtomicUsize,
}

/// A poisoned lock only means a test thread panicked mid-push; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(opts: MockOptions, shutdown: CancellationToken) -> Self {
        Self {
            opts,
            shutdown,
            queue: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::new()),
            received: AtomicUsize::new(0),
            open_streams: AtomicUsize::new(0),
            cancelled_streams: AtomicUsize::new(0),
            cancelled_requests: AtomicUsize::new(0),
        }
    }

    pub fn enqueue(&self, reply: Reply) {
        let mut q = lock(&self.queue);
        q.push_back(reply);
        self.queued.store(q.len(), Ordering::Release);
    }

    /// Removes and returns the first queued reply whose path filter matches.
    pub fn take_reply(&self, path: &str) -> Option<Reply> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = lock(&self.queue);
        let i = q.iter().position(|r| r.matches(path))?;
        let reply = q.remove(i);
        self.queued.store(q.len(), Ordering::Release);
        reply
    }

    pub fn queued_replies(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn clear_replies(&self) {
        let mut q = lock(&self.queue);
        q.clear();
        self.queued.store(0, Ordering::Release);
    }

    /// Counts every request; stores it only when recording is on (benchmarks turn it off).
    pub fn record(&self, parts: &http::request::Parts, body: &bytes::Bytes) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if self.opts.record {
            let rec = Recorded::from_parts(parts, body.clone());
            lock(&self.recorded).push(rec);
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.recorded).clone()
    }

    pub fn request_count(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }

    pub fn clear_requests(&self) {
        let mut r = lock(&self.recorded);
        r.clear();
        self.received.store(0, Ordering::Relaxed);
    }

    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::Acquire)
    }

    pub fn cancelled_streams(&self) -> usize {
        self.cancelled_streams.load(Ordering::Acquire)
    }

    pub fn cancelled_requests(&self) -> usize {
        self.cancelled_requests.load(Ordering::Acquire)
    }
}

/// Alive while a streaming body exists; if dropped before [`finish`](Self::finish) (client
/// went away, or shutdown), the stream counts as cancelled.
pub(crate) struct StreamGuard {
    state: Arc<State>,
    finished: bool,
}

impl StreamGuard {
    pub fn new(state: Arc<State>) -> Self {
        state.open_streams.fetch_add(1, Ordering::AcqRel);
        Self {
            state,
            finished: false,
        }
    }

    pub fn finish(&mut self) {
        self.finished = true;
    }

    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.state.cancelled_streams.fetch_add(1, Ordering::AcqRel);
        }
        self.state.open_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Alive while a request waits before its response headers (delay, latency, hang); hyper
/// drops the handler when the client disconnects, which counts the request as cancelled.
pub(crate) struct WaitGuard<'a> {
    state: &'a State,
    finished: bool,
}

impl<'a> WaitGuard<'a> {
    pub fn new(state: &'a State) -> Self {
        Self {
            state,
            finished: false,
        }
    }

    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.state.cancelled_requests.fetch_add(1, Ordering::AcqRel);
        }
    }
}
