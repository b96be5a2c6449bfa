//! The dispatch pool: a fixed set of OS threads that run blocking callbacks.
//!
//! Every job belongs to a *lane* (one per client). A lane's jobs run one at a time, in
//! submission order; different lanes run in parallel, up to the number of threads. A lane
//! that is busy is never scheduled twice, so a callback that blocks holds one thread and
//! delays only its own client.
//!
//! Workers run jobs inside a *scope* supplied by the binding: the identity for C, and
//! "hold the GIL" for Python, so a worker takes the interpreter once for every job that is
//! ready, not once per job, and lets go as soon as nothing is ready.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::sid::Sid;

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Wraps a worker's run of ready jobs: must call `run` exactly once.
pub type Scope = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// Wraps a worker thread's whole life: must call `run` exactly once, on that thread.
pub type ThreadScope = Arc<dyn Fn(&mut (dyn FnMut() + Send)) + Send + Sync>;

/// Why a job was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The lane already holds the maximum number of waiting jobs.
    #[error("the client's callback queue is full")]
    LaneFull,
    /// The pool is stopping.
    #[error("the dispatch pool is stopped")]
    Stopped,
}

#[derive(Default)]
struct State {
    /// Waiting jobs per lane. A lane is removed when it has no jobs and is not running.
    lanes: HashMap<Sid, VecDeque<Job>>,
    /// Lanes with jobs that no worker runs yet, oldest first (fairness across clients).
    ready: VecDeque<Sid>,
    /// Lanes a worker is running now: not put in `ready` again until it finishes.
    running: std::collections::HashSet<Sid>,
    stopping: bool,
    /// Workers awake and looking for a lane (not parked, not running jobs).
    searching: usize,
    /// Workers woken by a notification that have not looked at `ready` yet.
    waking: usize,
    /// Workers parked on the condition variable.
    parked: usize,
}

impl State {
    /// Wakes one parked worker unless one is already awake to look at `ready`: one
    /// searcher is enough, and waking more only makes them contend (for this lock, and
    /// for the GIL in Python) over the same few lanes.
    fn wake_one(&mut self, work: &Condvar) {
        if self.searching == 0 && self.waking == 0 && self.parked > self.waking {
            self.waking += 1;
            work.notify_one();
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a lane becomes ready or the pool stops.
    work: Condvar,
    max_per_lane: usize,
    /// Jobs a worker takes from one lane before giving other lanes a turn.
    batch: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A searching worker takes the next ready lane's jobs (up to `batch`), marking the
    /// lane running, and stops searching (whether it found one or not). Before it runs
    /// jobs, which may block, it hands the search over to a parked worker if lanes are
    /// still waiting.
    fn take(&self, state: &mut State) -> Option<(Sid, Vec<Job>)> {
        state.searching = state.searching.saturating_sub(1);
        let lane = state.ready.pop_front()?;
        let jobs = state.lanes.get_mut(&lane)?;
        let take = jobs.len().min(self.batch);
        let batch: Vec<Job> = jobs.drain(..take).collect();
        state.running.insert(lane);
        if !state.ready.is_empty() {
            state.wake_one(&self.work);
        }
        Some((lane, batch))
    }

    /// The worker is done with `lane` and searches again.
    fn finish(&self, state: &mut State, lane: Sid) {
        state.running.remove(&lane);
        state.searching += 1;
        match state.lanes.get(&lane) {
            Some(jobs) if !jobs.is_empty() => state.ready.push_back(lane),
            _ => {
                state.lanes.remove(&lane);
            }
        }
    }
}

/// A pool of OS threads running blocking callbacks, ordered per lane. Dropping it stops
/// it (see [`DispatchPool::stop`]).
pub struct DispatchPool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for DispatchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchPool")
            .field(
                "threads",
                &self.threads.lock().map(|t| t.len()).unwrap_or(0),
            )
            .finish()
    }
}

impl DispatchPool {
    /// Starts `threads` workers (at least one). Each lane holds at most `max_per_lane`
    /// waiting jobs; `scope` wraps every run of ready jobs.
    pub fn new(threads: usize, max_per_lane: usize, scope: Scope) -> std::io::Result<Self> {
        Self::with_thread_scope(threads, max_per_lane, scope, None)
    }

    /// Like [`new`](Self::new), and `thread_scope` wraps each worker's whole life (it
    /// must call `run` exactly once): set-up a binding wants once per thread instead of
    /// once per run of jobs (Python registers the thread with the interpreter there).
    pub fn with_thread_scope(
        threads: usize,
        max_per_lane: usize,
        scope: Scope,
        thread_scope: Option<ThreadScope>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            max_per_lane: max_per_lane.max(1),
            batch: 64,
        });
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let for_worker = Arc::clone(&shared);
            let scope = Arc::clone(&scope);
            let thread_scope = thread_scope.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ferrosocket-dispatch-{index}"))
                .spawn(move || match thread_scope {
                    Some(thread_scope) => thread_scope(&mut || worker(&for_worker, &scope)),
                    None => worker(&for_worker, &scope),
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    let pool = Self {
                        shared,
                        threads: Mutex::new(handles),
                    };
                    pool.stop();
                    return Err(error);
                }
            }
        }
        Ok(Self {
            shared,
            threads: Mutex::new(handles),
        })
    }

    /// Queues `job` on `lane`. Never blocks.
    pub fn submit(&self, lane: Sid, job: Job) -> Result<(), SubmitError> {
        let mut state = self.shared.lock();
        if state.stopping {
            return Err(SubmitError::Stopped);
        }
        let jobs = state.lanes.entry(lane).or_default();
        if jobs.len() >= self.shared.max_per_lane {
            return Err(SubmitError::LaneFull);
        }
        jobs.push_back(job);
        let first = jobs.len() == 1;
        if first && !state.running.contains(&lane) {
            state.ready.push_back(lane);
            state.wake_one(&self.shared.work);
        }
        Ok(())
    }

    /// Stops accepting jobs, lets the workers finish every job already queued, and joins
    /// them. Idempotent. Must not be called from a worker thread (it would wait on itself);
    /// from there it only stops accepting jobs.
    pub fn stop(&self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_all();
        let current = std::thread::current().id();
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            if handle.thread().id() == current {
                continue;
            }
            let _ = handle.join();
        }
    }
}

impl Drop for DispatchPool {
    fn drop(&mut self) {
        self.stop();
    }
}

thread_local! {
    /// Set on dispatch threads, so blocking calls that would wait on the pool itself
    /// (stopping the server from a callback) can refuse instead of deadlocking.
    static ON_DISPATCH_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a dispatch thread of some pool.
pub fn on_dispatch_thread() -> bool {
    ON_DISPATCH_THREAD.with(std::cell::Cell::get)
}

fn worker(shared: &Shared, scope: &Scope) {
    ON_DISPATCH_THREAD.with(|flag| flag.set(true));
    loop {
        {
            let mut state = shared.lock();
            while state.ready.is_empty() {
                if state.stopping {
                    return;
                }
                state.parked += 1;
                state = shared.work.wait(state).unwrap_or_else(|p| p.into_inner());
                state.parked -= 1;
                state.waking = state.waking.saturating_sub(1);
            }
            state.searching += 1;
        }
        // Run every lane that is ready inside one scope (one GIL acquisition for Python).
        scope(&mut || loop {
            let next = shared.take(&mut shared.lock());
            let Some((lane, jobs)) = next else {
                break;
            };
            for job in jobs {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a dispatched callback panicked; the pool goes on");
                }
            }
            shared.finish(&mut shared.lock(), lane);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn identity() -> Scope {
        Arc::new(|run: &mut dyn FnMut()| run())
    }

    #[test]
    fn one_lane_runs_in_order_and_lanes_run_in_parallel() {
        let pool = DispatchPool::new(4, 10_000, identity()).expect("pool");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let slow = Sid::new();
        let fast = Sid::new();
        pool.submit(
            slow,
            Box::new(|| std::thread::sleep(Duration::from_millis(500))),
        )
        .expect("submit");
        for i in 0..1000 {
            let seen = Arc::clone(&seen);
            pool.submit(fast, Box::new(move || seen.lock().expect("lock").push(i)))
                .expect("submit");
        }
        let started = Instant::now();
        while seen.lock().expect("lock").len() < 1000 {
            assert!(
                started.elapsed() < Duration::from_millis(400),
                "the slow lane blocked others"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*seen.lock().expect("lock"), (0..1000).collect::<Vec<_>>());
        pool.stop();
    }

    #[test]
    fn bounded_lanes_panics_and_stop() {
        let pool = DispatchPool::new(1, 2, identity()).expect("pool");
        let lane = Sid::new();
        let (hold, release) = std::sync::mpsc::channel::<()>();
        pool.submit(
            lane,
            Box::new(move || {
                let _ = release.recv();
            }),
        )
        .expect("first");
        // The first job may already be running; fill the lane until it refuses.
        let mut accepted = 0;
        while pool.submit(lane, Box::new(|| panic!("boom"))).is_ok() {
            accepted += 1;
            assert!(accepted <= 3, "lane bound not enforced");
        }
        assert_eq!(
            pool.submit(lane, Box::new(|| {})),
            Err(SubmitError::LaneFull)
        );
        hold.send(()).expect("release");
        let done = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&done);
        let other = Sid::new();
        pool.submit(other, Box::new(move || *flag.lock().expect("lock") = true))
            .expect("after panics the pool still runs jobs");
        pool.stop();
        assert!(*done.lock().expect("lock"), "stop drains queued jobs");
        assert_eq!(
            pool.submit(other, Box::new(|| {})),
            Err(SubmitError::Stopped)
        );
    }

    #[test]
    fn scope_wraps_runs_of_ready_jobs() {
        let scopes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&scopes);
        let scope: Scope = Arc::new(move |run: &mut dyn FnMut()| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            run();
        });
        let pool = DispatchPool::new(1, 10_000, scope).expect("pool");
        let lane = Sid::new();
        let (gate, wait) = std::sync::mpsc::channel::<()>();
        pool.submit(
            lane,
            Box::new(move || {
                let _ = wait.recv();
            }),
        )
        .expect("submit");
        for _ in 0..100 {
            pool.submit(Sid::new(), Box::new(|| {})).expect("submit");
        }
        gate.send(()).expect("open");
        pool.stop();
        let entered = scopes.load(std::sync::atomic::Ordering::SeqCst);
        assert!(entered <= 3, "101 jobs took {entered} scopes");
    }
}
