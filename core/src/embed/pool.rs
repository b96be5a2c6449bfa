//! The dispatch pool: OS threads that run blocking callbacks, as many as the callbacks
//! need, between a minimum and a maximum.
//!
//! Every job belongs to a *lane* (one per client). A lane's jobs run one at a time, in
//! submission order; different lanes run in parallel, up to the number of threads. A lane
//! that is busy is never scheduled twice, so a callback that blocks holds one thread and
//! delays only its own client.
//!
//! The pool grows when a lane is ready and every thread is running jobs: a callback that
//! blocks (a `time.sleep`, a slow database) must not make every other client wait for a
//! thread. It grows one thread at a time, only while no worker is free, up to the maximum;
//! there, lanes wait in order and the pool logs one warning per episode. A thread above
//! the minimum that found nothing to do for the idle timeout exits, so a burst does not
//! keep its threads for ever.
//!
//! Workers run jobs inside a *scope* supplied by the binding: the identity for C, and
//! "hold the GIL" for Python, so a worker takes the interpreter once for every job that is
//! ready, not once per job, and lets go as soon as nothing is ready. Every worker, the
//! first ones and the ones started later, lives inside the binding's *thread scope*.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// How many threads a [`DispatchPool`] runs and how much each lane may queue. The
/// defaults, and what each bound protects against, are on
/// [`EmbedOptions`](super::EmbedOptions).
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Threads started with the pool and kept when idle; raised to 1, capped at
    /// `max_threads`. At least one, so queued jobs always drain even when the system
    /// refuses to start more threads.
    pub min_threads: usize,
    /// Most threads alive at once (at least 1): how many lanes run at the same time.
    pub max_threads: usize,
    /// How long a thread above the minimum waits for work before it exits.
    /// `Duration::MAX` keeps every thread once started.
    pub idle_timeout: Duration,
    /// Most waiting jobs per lane (at least 1).
    pub max_per_lane: usize,
    /// The setting that raises `max_threads`, as the saturation warning names it (each
    /// binding spells it its own way).
    pub cap_option: &'static str,
}

/// A snapshot of a pool's threads and queues ([`DispatchPool::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Threads alive now, between the minimum and the maximum.
    pub threads: usize,
    /// Threads running a lane's jobs now.
    pub busy: usize,
    /// Lanes with jobs that wait for a thread.
    pub waiting: usize,
    /// Whether every thread is busy at the maximum with lanes waiting (a saturation
    /// episode that has not ended yet: no thread has since found nothing to do).
    pub saturated: bool,
    /// Saturation episodes since the pool started.
    pub saturations: u64,
    /// Time the threads spent running callbacks, summed over threads, since the pool
    /// started.
    pub busy_time: Duration,
    /// Time the threads spent entering the scope that wraps each run of callbacks (for
    /// Python: waiting for the GIL), summed over threads, since the pool started.
    pub scope_wait: Duration,
}

/// One parked worker's wake-up call. Each worker has its own condition variable so that
/// the pool chooses which worker wakes (the one parked last), which one shared
/// condition variable cannot do.
#[derive(Default)]
struct Sleeper {
    wake: Condvar,
    /// Set by the waker, which has already taken this worker off `parked` and counted it
    /// as searching: tells a real wake-up from a spurious one or a timeout. Read and
    /// written only under the state lock (atomic only so `Sleeper` can be shared).
    woken: AtomicBool,
}

/// Everything workers and submitters coordinate on, under one lock. Every live worker is
/// in exactly one of three places, `searching`, `running` or `parked`, so
/// `threads == searching + running.len() + parked.len()` whenever the lock is free.
#[derive(Default)]
struct State {
    /// Waiting jobs per lane. A lane is removed when it has no jobs and is not running.
    lanes: HashMap<Sid, VecDeque<Job>>,
    /// Lanes with jobs that no worker runs yet, oldest first (fairness across clients).
    ready: VecDeque<Sid>,
    /// Lanes a worker is running now: not put in `ready` again until it finishes. One
    /// worker per lane, so its size is the number of busy workers.
    running: HashSet<Sid>,
    /// Set once by `stop`: no job is accepted and no thread started after it.
    stopping: bool,
    /// Workers awake and not running a lane: looking at `ready`, about to, or on their
    /// way to park. Whoever wakes or starts a worker counts it here before it runs, so a
    /// second submit in the meantime sees a searcher and wakes or starts no one else.
    searching: usize,
    /// Parked workers, the one parked last at the end. Waking takes from the end, so the
    /// same few workers keep busy and the others really stay idle until they time out;
    /// waking the longest parked first would rotate through all of them and, under a
    /// steady trickle of jobs, none would ever reach its idle timeout.
    parked: Vec<Arc<Sleeper>>,
    /// Workers alive (started, not yet returned from `worker`): between the minimum and
    /// the maximum. Compared with both when starting a worker or letting one exit.
    threads: usize,
    /// The number in the next worker's name: never reused, so a thread name in a log or
    /// a debugger means one thread.
    next_index: usize,
    /// Join handles of live workers, by name number. A worker that exits idle moves its
    /// own to `retired`; `stop` joins them all, so no thread outlives the pool.
    live: HashMap<usize, JoinHandle<()>>,
    /// Handles of workers that exited idle and may still be leaving their thread scope.
    /// `stop` joins them; the finished ones are dropped (nothing of ours runs on them any
    /// more) at the next spawn or exit, so a pool that grows and shrinks all day keeps
    /// no dead threads around.
    retired: Vec<JoinHandle<()>>,
    /// When the current saturation episode began (every thread busy at the maximum and
    /// lanes waiting), `None` outside one: the warning is logged once per episode, not
    /// once per job.
    saturated_since: Option<Instant>,
    /// Saturation episodes so far, for [`PoolStats`].
    saturations: u64,
}

impl State {
    /// Drops the handles of retired workers that have finished: detaching a finished
    /// thread frees it without blocking, which joining under this lock must not risk.
    fn reap(&mut self) {
        self.retired.retain(|handle| !handle.is_finished());
    }

    /// Starts a saturation episode unless one is running; `true` if it started (then the
    /// caller logs it).
    fn saturate(&mut self) -> bool {
        if self.saturated_since.is_some() {
            return false;
        }
        self.saturated_since = Some(Instant::now());
        self.saturations += 1;
        true
    }
}

/// What to log once the state lock is released: a log sink runs user code (a C
/// callback) and must not run while every worker and submitter waits on this lock.
enum Notice {
    Saturated { busy: usize, waiting: usize },
    SpawnFailed { busy: usize, error: std::io::Error },
    Recovered { after: Duration },
}

impl Notice {
    fn log(self, cap_option: &str) {
        match self {
            Notice::Saturated { busy, waiting } => tracing::warn!(
                busy,
                waiting,
                "all {busy} dispatch threads are busy (the maximum) and {waiting} clients' \
                 callbacks wait for one: callbacks that block hold their thread; raise \
                 {cap_option} to run more at once"
            ),
            Notice::SpawnFailed { busy, error } => tracing::warn!(
                busy,
                %error,
                "could not start another dispatch thread: all {busy} are busy and \
                 clients' callbacks wait for one"
            ),
            Notice::Recovered { after } => tracing::info!(
                "a dispatch thread is free again after {:.1} s with every one busy",
                after.as_secs_f64()
            ),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wraps every run of ready jobs.
    scope: Scope,
    /// Wraps each worker's whole life; kept so workers started later live in it too.
    thread_scope: Option<ThreadScope>,
    min_threads: usize,
    max_threads: usize,
    idle_timeout: Duration,
    max_per_lane: usize,
    /// Jobs a worker takes from one lane before giving other lanes a turn.
    batch: usize,
    cap_option: &'static str,
    /// Nanoseconds spent running callbacks and entering the scope ([`PoolStats`]):
    /// three clock reads per run of ready lanes, not per callback.
    busy_nanos: AtomicU64,
    scope_wait_nanos: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure a worker will look at `ready`, which just gained a lane. One searcher
    /// is enough: waking more only makes them contend (for this lock, and for the GIL in
    /// Python) over the same few lanes. Without one, it wakes the worker parked last;
    /// with none parked, every worker is running a lane, so it starts one more, below
    /// the maximum; at the maximum the lane waits its turn, and the episode is noted.
    fn need_searcher(self: &Arc<Self>, state: &mut State) -> Option<Notice> {
        if state.searching > 0 {
            return None;
        }
        if let Some(sleeper) = state.parked.pop() {
            sleeper.woken.store(true, Ordering::Relaxed);
            state.searching += 1;
            sleeper.wake.notify_one();
            return None;
        }
        if state.stopping {
            // No new threads while stopping; the busy workers drain the lanes.
            return None;
        }
        let busy = state.running.len();
        if state.threads < self.max_threads {
            return match self.spawn(state) {
                Ok(()) => None,
                // Jobs still run, on the workers there are: say so once per episode.
                Err(error) => state
                    .saturate()
                    .then_some(Notice::SpawnFailed { busy, error }),
            };
        }
        let waiting = state.ready.len();
        state
            .saturate()
            .then_some(Notice::Saturated { busy, waiting })
    }

    /// Starts a worker, counted as searching (it looks at `ready` first thing). Under the
    /// state lock, so `stop` either sees its handle or prevents it, and the new thread
    /// cannot look at the state before it is counted.
    fn spawn(self: &Arc<Self>, state: &mut State) -> std::io::Result<()> {
        let index = state.next_index;
        let shared = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name(format!("ferrosocket-dispatch-{index}"))
            .spawn(move || match &shared.thread_scope {
                Some(thread_scope) => thread_scope(&mut || worker(&shared, index)),
                None => worker(&shared, index),
            })?;
        state.next_index += 1;
        state.threads += 1;
        state.searching += 1;
        state.live.insert(index, handle);
        state.reap();
        Ok(())
    }

    /// A searching worker takes the next ready lane's jobs (up to `batch`), marking the
    /// lane running, and stops searching. Before it runs jobs, which may block, it hands
    /// the search over (waking or starting a worker) if lanes are still waiting. `None`
    /// when nothing is ready: the worker is still searching.
    fn take(self: &Arc<Self>) -> Option<(Sid, Vec<Job>)> {
        let mut state = self.lock();
        while let Some(lane) = state.ready.pop_front() {
            let Some(jobs) = state.lanes.get_mut(&lane) else {
                continue;
            };
            let take = jobs.len().min(self.batch);
            let batch: Vec<Job> = jobs.drain(..take).collect();
            state.running.insert(lane);
            state.searching = state.searching.saturating_sub(1);
            let notice = if state.ready.is_empty() {
                None
            } else {
                self.need_searcher(&mut state)
            };
            drop(state);
            if let Some(notice) = notice {
                notice.log(self.cap_option);
            }
            return Some((lane, batch));
        }
        None
    }

    /// The worker is done with `lane` and searches again.
    fn finish(&self, lane: Sid) {
        let mut state = self.lock();
        state.running.remove(&lane);
        state.searching += 1;
        match state.lanes.get(&lane) {
            Some(jobs) if !jobs.is_empty() => state.ready.push_back(lane),
            _ => {
                state.lanes.remove(&lane);
            }
        }
    }

    /// A searching worker waits, parked and outside the scope (no GIL held), until a
    /// lane is ready: `true`, still searching. `false` when it must end, already
    /// uncounted: the pool stops with nothing left to run, or it stayed idle for the
    /// idle timeout while the pool had more than the minimum.
    fn wait_for_work(&self, index: usize, sleeper: &Arc<Sleeper>) -> bool {
        let mut state = self.lock();
        loop {
            if !state.ready.is_empty() {
                return true;
            }
            // A worker with nothing to do ends a saturation episode.
            if let Some(since) = state.saturated_since.take() {
                drop(state);
                Notice::Recovered {
                    after: since.elapsed(),
                }
                .log(self.cap_option);
                state = self.lock();
                continue;
            }
            state.searching = state.searching.saturating_sub(1);
            if state.stopping {
                state.threads = state.threads.saturating_sub(1);
                return false;
            }
            sleeper.woken.store(false, Ordering::Relaxed);
            state.parked.push(Arc::clone(sleeper));
            // Each park restarts the idle clock: only a worker that got no work for the
            // whole timeout exits. `None` (a timeout too large for an Instant) never does.
            let deadline = Instant::now().checked_add(self.idle_timeout);
            loop {
                // The waker took this worker off `parked` and counted it as searching.
                if sleeper.woken.load(Ordering::Relaxed) {
                    break;
                }
                let now = Instant::now();
                state = match deadline {
                    Some(deadline) if now < deadline => {
                        sleeper
                            .wake
                            .wait_timeout(state, deadline - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    Some(_) if state.threads > self.min_threads => {
                        // Idle too long above the minimum: leave, still parked (not
                        // searching, not running), so only `parked` and the count change.
                        state.parked.retain(|other| !Arc::ptr_eq(other, sleeper));
                        state.threads -= 1;
                        if let Some(handle) = state.live.remove(&index) {
                            state.retired.push(handle);
                        }
                        state.reap();
                        return false;
                    }
                    // At the minimum: wait without a clock. Workers above the minimum
                    // have clocks of their own, so the pool still shrinks back to it.
                    _ => sleeper.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                };
            }
        }
    }
}

/// A pool of OS threads running blocking callbacks, ordered per lane, that grows while
/// every thread is busy and shrinks when idle. Dropping it stops it (see
/// [`DispatchPool::stop`]).
pub struct DispatchPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DispatchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchPool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl DispatchPool {
    /// Starts `options.min_threads` workers; more start on demand up to
    /// `options.max_threads`. `scope` wraps every run of ready jobs.
    pub fn new(options: PoolOptions, scope: Scope) -> std::io::Result<Self> {
        Self::with_thread_scope(options, scope, None)
    }

    /// Like [`new`](Self::new), and `thread_scope` wraps each worker's whole life (it
    /// must call `run` exactly once), for the first workers and for those started later:
    /// set-up a binding wants once per thread instead of once per run of jobs (Python
    /// registers the thread with the interpreter there).
    pub fn with_thread_scope(
        options: PoolOptions,
        scope: Scope,
        thread_scope: Option<ThreadScope>,
    ) -> std::io::Result<Self> {
        let max_threads = options.max_threads.max(1);
        let pool = Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                scope,
                thread_scope,
                min_threads: options.min_threads.clamp(1, max_threads),
                max_threads,
                idle_timeout: options.idle_timeout,
                max_per_lane: options.max_per_lane.max(1),
                batch: 64,
                cap_option: options.cap_option,
                busy_nanos: AtomicU64::new(0),
                scope_wait_nanos: AtomicU64::new(0),
            }),
        };
        let started = {
            let mut state = pool.shared.lock();
            (0..pool.shared.min_threads).try_for_each(|_| pool.shared.spawn(&mut state))
        };
        if let Err(error) = started {
            pool.stop();
            return Err(error);
        }
        Ok(pool)
    }

    /// Queues `job` on `lane`. Never blocks (it may start a thread).
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
        let mut notice = None;
        if first && !state.running.contains(&lane) {
            state.ready.push_back(lane);
            notice = self.shared.need_searcher(&mut state);
        }
        drop(state);
        if let Some(notice) = notice {
            notice.log(self.shared.cap_option);
        }
        Ok(())
    }

    /// The pool's threads and queues now.
    pub fn stats(&self) -> PoolStats {
        let state = self.shared.lock();
        debug_assert_eq!(
            state.threads,
            state.searching + state.running.len() + state.parked.len(),
            "every live worker is searching, running or parked"
        );
        PoolStats {
            threads: state.threads,
            busy: state.running.len(),
            waiting: state.ready.len(),
            saturated: state.saturated_since.is_some(),
            saturations: state.saturations,
            busy_time: Duration::from_nanos(self.shared.busy_nanos.load(Ordering::Relaxed)),
            scope_wait: Duration::from_nanos(self.shared.scope_wait_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Stops accepting jobs, lets the workers finish every job already queued, and joins
    /// every worker it ever started (the ones started on demand too). Idempotent. Must not
    /// be called from a worker thread (it would wait on itself); from there it stops
    /// accepting jobs and joins the other workers.
    pub fn stop(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut state = self.shared.lock();
            // From here on no thread starts (`need_searcher`), so the handles taken below
            // are all there will ever be.
            state.stopping = true;
            // Wake every parked worker: each runs what is still queued, then exits.
            let parked = std::mem::take(&mut state.parked);
            state.searching += parked.len();
            for sleeper in parked {
                sleeper.woken.store(true, Ordering::Relaxed);
                sleeper.wake.notify_one();
            }
            let mut handles: Vec<_> = state.live.drain().map(|(_, handle)| handle).collect();
            handles.append(&mut state.retired);
            handles
        };
        let current = std::thread::current().id();
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

/// A worker's life: counted as searching from the start (by whoever started it), it
/// alternates waiting for ready lanes (without the scope) and running them (inside).
fn worker(shared: &Arc<Shared>, index: usize) {
    ON_DISPATCH_THREAD.with(|flag| flag.set(true));
    let sleeper = Arc::new(Sleeper::default());
    while shared.wait_for_work(index, &sleeper) {
        // Run every lane that is ready inside one scope (one GIL acquisition for Python).
        let asked = Instant::now();
        (shared.scope)(&mut || {
            let entered = Instant::now();
            let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            shared
                .scope_wait_nanos
                .fetch_add(nanos(entered - asked), Ordering::Relaxed);
            while let Some((lane, jobs)) = shared.take() {
                for job in jobs {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a dispatched callback panicked; the pool goes on");
                    }
                }
                shared.finish(lane);
            }
            shared
                .busy_nanos
                .fetch_add(nanos(entered.elapsed()), Ordering::Relaxed);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;

    /// Generous: these waits end as soon as the pool does its job; only a broken pool
    /// (or a badly overloaded machine) waits this long.
    const WAIT: Duration = Duration::from_secs(5);

    fn identity() -> Scope {
        Arc::new(|run: &mut dyn FnMut()| run())
    }

    fn options(min_threads: usize, max_threads: usize) -> PoolOptions {
        PoolOptions {
            min_threads,
            max_threads,
            idle_timeout: Duration::from_secs(30),
            max_per_lane: 10_000,
            cap_option: "the test's max_threads",
        }
    }

    /// Waits until `done(stats)` holds, or fails with `what`.
    fn wait_until(pool: &DispatchPool, what: &str, done: impl Fn(PoolStats) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(pool.stats()) {
            assert!(Instant::now() < deadline, "{what}: {:?}", pool.stats());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Submits a job on a new lane that says it started, then blocks until its
    /// release is sent or dropped.
    fn blocker(pool: &DispatchPool, started: &mpsc::Sender<()>) -> mpsc::Sender<()> {
        let (release, hold) = mpsc::channel::<()>();
        let started = started.clone();
        pool.submit(
            Sid::new(),
            Box::new(move || {
                let _ = started.send(());
                let _ = hold.recv();
            }),
        )
        .expect("submit");
        release
    }

    #[test]
    fn busy_time_and_scope_wait_are_summed() {
        // A scope that takes 30 ms to enter, as a contended GIL would.
        let slow_scope: Scope = Arc::new(|run: &mut dyn FnMut()| {
            std::thread::sleep(Duration::from_millis(30));
            run()
        });
        let pool = DispatchPool::new(options(1, 1), slow_scope).expect("pool");
        let (done, finished) = mpsc::channel();
        pool.submit(
            Sid::new(),
            Box::new(move || {
                std::thread::sleep(Duration::from_millis(50));
                let _ = done.send(());
            }),
        )
        .expect("submit");
        finished.recv_timeout(WAIT).expect("the job ran");
        pool.stop();
        let stats = pool.stats();
        assert!(stats.busy_time >= Duration::from_millis(50), "{stats:?}");
        assert!(stats.scope_wait >= Duration::from_millis(30), "{stats:?}");
        assert!(stats.scope_wait < Duration::from_secs(5), "{stats:?}");
    }

    #[test]
    fn one_lane_runs_in_order_and_lanes_run_in_parallel() {
        let pool = DispatchPool::new(options(4, 4), identity()).expect("pool");
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
    fn blocked_threads_do_not_stall_other_lanes_and_idle_ones_exit() {
        let mut opts = options(2, 16);
        opts.idle_timeout = Duration::from_millis(200);
        let pool = DispatchPool::new(opts, identity()).expect("pool");
        assert_eq!(pool.stats().threads, 2, "starts the minimum");
        let (started, blocking) = mpsc::channel();
        let releases: Vec<_> = (0..8).map(|_| blocker(&pool, &started)).collect();
        for _ in 0..8 {
            blocking
                .recv_timeout(WAIT)
                .expect("each of 8 blocking lanes got a thread of its own");
        }
        let (ran, answer) = mpsc::channel();
        pool.submit(
            Sid::new(),
            Box::new(move || {
                let _ = ran.send(());
            }),
        )
        .expect("submit");
        answer
            .recv_timeout(WAIT)
            .expect("a ninth lane runs while eight block");
        // The ninth lane's thread finishes it just after the job answered.
        wait_until(&pool, "the ninth lane finishes", |s| s.busy == 8);
        let grown = pool.stats();
        assert!((9..=16).contains(&grown.threads), "grown: {grown:?}");
        assert!(!grown.saturated && grown.saturations == 0, "{grown:?}");
        drop(releases);
        // Each surplus thread exits once it has found nothing to do for 200 ms.
        wait_until(&pool, "shrinks back to the minimum", |s| s.threads == 2);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(pool.stats().threads, 2, "never below the minimum");
        // And it grows again after shrinking.
        let releases: Vec<_> = (0..4).map(|_| blocker(&pool, &started)).collect();
        for _ in 0..4 {
            blocking.recv_timeout(WAIT).expect("grows again");
        }
        drop(releases);
        pool.stop();
        assert_eq!(pool.stats().threads, 0, "stop ends every thread");
    }

    #[test]
    fn lanes_stay_ordered_and_exclusive_while_the_pool_grows() {
        const LANES: usize = 8;
        const JOBS: usize = 200;
        let pool = DispatchPool::new(options(1, LANES), identity()).expect("pool");
        let lanes: Vec<Sid> = (0..LANES).map(|_| Sid::new()).collect();
        let seen: Arc<Vec<Mutex<Vec<usize>>>> =
            Arc::new((0..LANES).map(|_| Mutex::new(Vec::new())).collect());
        let inside: Arc<Vec<AtomicBool>> =
            Arc::new((0..LANES).map(|_| AtomicBool::new(false)).collect());
        let overlaps = Arc::new(AtomicUsize::new(0));
        for job in 0..JOBS {
            for (i, lane) in lanes.iter().enumerate() {
                let (seen, inside, overlaps) = (
                    Arc::clone(&seen),
                    Arc::clone(&inside),
                    Arc::clone(&overlaps),
                );
                pool.submit(
                    *lane,
                    Box::new(move || {
                        if inside[i].swap(true, Ordering::SeqCst) {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        // Every lane's first jobs block a little: the pool has to grow.
                        if job < 3 {
                            std::thread::sleep(Duration::from_millis(30));
                        }
                        seen[i].lock().expect("lock").push(job);
                        inside[i].store(false, Ordering::SeqCst);
                    }),
                )
                .expect("submit");
            }
        }
        let mut most = 0;
        let deadline = Instant::now() + WAIT;
        while seen.iter().any(|s| s.lock().expect("lock").len() < JOBS) {
            most = most.max(pool.stats().threads);
            assert!(Instant::now() < deadline, "jobs did not finish");
            std::thread::sleep(Duration::from_millis(1));
        }
        pool.stop();
        assert!(most > 1, "the pool grew (most threads seen: {most})");
        assert_eq!(
            overlaps.load(Ordering::SeqCst),
            0,
            "a lane ran on two threads"
        );
        for lane in seen.iter() {
            assert_eq!(*lane.lock().expect("lock"), (0..JOBS).collect::<Vec<_>>());
        }
    }

    #[test]
    fn at_the_maximum_lanes_wait_and_each_episode_counts_once() {
        let pool = DispatchPool::new(options(1, 3), identity()).expect("pool");
        let (started, blocking) = mpsc::channel();
        let mut releases: Vec<_> = (0..3).map(|_| blocker(&pool, &started)).collect();
        for _ in 0..3 {
            blocking.recv_timeout(WAIT).expect("three lanes run");
        }
        let (ran, answers) = mpsc::channel();
        for _ in 0..5 {
            let ran = ran.clone();
            pool.submit(
                Sid::new(),
                Box::new(move || {
                    let _ = ran.send(());
                }),
            )
            .expect("submit");
        }
        // Nothing can run these while the three block: give a wrong pool time to try.
        std::thread::sleep(Duration::from_millis(300));
        assert!(answers.try_recv().is_err(), "ran beyond the maximum");
        let full = pool.stats();
        assert_eq!(
            (
                full.threads,
                full.busy,
                full.waiting,
                full.saturated,
                full.saturations
            ),
            (3, 3, 5, true, 1),
            "queued at the maximum, one episode for five waiting lanes"
        );
        drop(releases.pop());
        for _ in 0..5 {
            answers
                .recv_timeout(WAIT)
                .expect("a freed thread runs them");
        }
        wait_until(&pool, "the episode ends", |s| !s.saturated);
        // A second episode is counted (and logged) again.
        releases.push(blocker(&pool, &started));
        blocking
            .recv_timeout(WAIT)
            .expect("the third thread blocks again");
        pool.submit(Sid::new(), Box::new(|| {})).expect("submit");
        let again = pool.stats();
        assert_eq!((again.saturated, again.saturations), (true, 2), "{again:?}");
        drop(releases);
        pool.stop();
    }

    #[test]
    fn stop_joins_grown_threads_which_live_in_the_thread_scope() {
        let alive = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(Vec::new()));
        let (counter, record) = (Arc::clone(&alive), Arc::clone(&names));
        let thread_scope: ThreadScope = Arc::new(move |run: &mut (dyn FnMut() + Send)| {
            counter.fetch_add(1, Ordering::SeqCst);
            let name = std::thread::current().name().map(str::to_owned);
            record.lock().expect("lock").push(name);
            run();
            // Still inside the pool's thread: stop must wait for this too.
            std::thread::sleep(Duration::from_millis(50));
            counter.fetch_sub(1, Ordering::SeqCst);
        });
        let pool = DispatchPool::with_thread_scope(options(1, 8), identity(), Some(thread_scope))
            .expect("pool");
        let (started, blocking) = mpsc::channel();
        let on_pool = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let (started, on_pool) = (started.clone(), Arc::clone(&on_pool));
            pool.submit(
                Sid::new(),
                Box::new(move || {
                    if on_dispatch_thread() {
                        on_pool.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = started.send(());
                    std::thread::sleep(Duration::from_millis(200));
                }),
            )
            .expect("submit");
        }
        for _ in 0..5 {
            blocking.recv_timeout(WAIT).expect("five lanes run at once");
        }
        let grown = pool.stats().threads;
        assert!(grown >= 5, "grew to {grown}");
        pool.stop();
        assert_eq!(
            alive.load(Ordering::SeqCst),
            0,
            "stop returned before a thread ended"
        );
        assert_eq!(on_pool.load(Ordering::SeqCst), 5);
        let mut names = names.lock().expect("lock").clone();
        assert_eq!(
            names.len(),
            grown,
            "every thread ran inside the thread scope"
        );
        names.sort_by_key(|name| {
            name.as_deref()
                .and_then(|n| n.strip_prefix("ferrosocket-dispatch-"))
                .and_then(|n| n.parse::<usize>().ok())
        });
        let expected: Vec<_> = (0..grown)
            .map(|n| Some(format!("ferrosocket-dispatch-{n}")))
            .collect();
        assert_eq!(names, expected, "names count up");
    }

    #[test]
    fn bounded_lanes_panics_and_stop() {
        let mut opts = options(1, 1);
        opts.max_per_lane = 2;
        let pool = DispatchPool::new(opts, identity()).expect("pool");
        let lane = Sid::new();
        let (hold, release) = mpsc::channel::<()>();
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
        let scopes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&scopes);
        let scope: Scope = Arc::new(move |run: &mut dyn FnMut()| {
            counter.fetch_add(1, Ordering::SeqCst);
            run();
        });
        let pool = DispatchPool::new(options(1, 1), scope).expect("pool");
        let lane = Sid::new();
        let (gate, wait) = mpsc::channel::<()>();
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
        let entered = scopes.load(Ordering::SeqCst);
        assert!(entered <= 3, "101 jobs took {entered} scopes");
    }
}
