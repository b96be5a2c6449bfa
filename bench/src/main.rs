//! `loadgen`: starts the ferrosocket test-server, drives it with many Socket.IO clients
//! over WebSocket, and reports memory, CPU, throughput and latency.
//!
//! Every run prints a human summary on stderr/stdout and one `RESULT {json}` line.

mod chat;
mod conn;
mod echo;
mod fanout;
mod fleet;
mod http;
mod idle;
mod server;
mod slow;
mod storm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::conn::Target;
use crate::server::{ProcStats, ServerOptions, ServerProc};

/// Load generator for ferrosocket (Socket.IO v5 over WebSocket).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Args)]
struct Common {
    /// The server binary; started with `--host 127.0.0.1 --port 0`.
    #[arg(long, global = true, default_value = "target/release/test-server")]
    server: PathBuf,
    /// Extra argument for the server (repeat for several), e.g. --server-arg=--ping-interval --server-arg=5000.
    #[arg(long = "server-arg", global = true, allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Pin the server to CPU 0 and loadgen to CPU 1 (uses taskset for the server).
    #[arg(long, global = true)]
    pin: bool,
    /// Handshakes in flight at once while connecting.
    #[arg(long, global = true, default_value_t = 256)]
    concurrency: usize,
    /// Spread connections over 127.0.0.1..=127.0.0.K (default: one address per
    /// --per-source connections).
    #[arg(long, global = true)]
    source_addrs: Option<usize>,
    /// Connections per source address before another one is used.
    #[arg(long, global = true, default_value_t = 25_000)]
    per_source: usize,
    /// Seconds allowed for one connection (TCP + WebSocket + namespace).
    #[arg(long, global = true, default_value_t = 20.0)]
    connect_timeout: f64,
    /// Client WebSocket read buffer per connection, bytes.
    #[arg(long, global = true, default_value_t = 4096)]
    read_buffer: usize,
    /// loadgen worker threads (default: the CPUs it may run on).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Run loadgen on tokio's current-thread runtime instead of the multi-thread one.
    /// The default when it has one thread (as under --pin): a one-worker multi-thread
    /// runtime leaves some of ~1,000 busy connections waiting ~150 ms at a time (its
    /// local run queue holds 256 tasks), which would show up as the server's latency.
    #[arg(long, global = true)]
    current_thread: bool,
    /// Hard limit on the whole run, seconds; the run is abandoned after it.
    #[arg(long, global = true, default_value_t = 900.0)]
    max_time: f64,
    /// Drive a server that is already running at this address instead of starting one.
    #[arg(long, global = true)]
    external: Option<std::net::SocketAddr>,
    /// With --external: its pid, for RSS and CPU figures.
    #[arg(long, global = true)]
    external_pid: Option<u32>,
    /// Where the server's stderr goes (default: a file in the temp dir).
    #[arg(long, global = true)]
    server_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Memory per idle connection: connect N clients, hold, measure server RSS.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        /// Seconds to hold the connections (30 s covers one 25 s ping round).
        #[arg(long, default_value_t = 30.0)]
        hold: f64,
        /// Connect/close cycles; more than one shows whether memory not returned after
        /// a close is reused (flat) or leaked (growing).
        #[arg(long, default_value_t = 1)]
        cycles: usize,
        /// Also record server RSS every this many seconds during the hold (`rss_samples`).
        #[arg(long)]
        sample_every: Option<f64>,
    },
    /// Room broadcast: N members of room "r", P publishers emitting to it.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        #[arg(long, default_value_t = 1)]
        publishers: usize,
        /// Payload size (a JSON string, bytes on the wire with its quotes).
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Unacknowledged emits per publisher.
        #[arg(long, default_value_t = 64)]
        window: u64,
        /// Hold publishing while the members are this many messages behind on average
        /// (0: no limit, only the ack window paces the publishers).
        #[arg(long, default_value_t = 256)]
        max_lag: u64,
        /// Messages sent one at a time for the latency figures (single publisher only).
        #[arg(long, default_value_t = 200)]
        latency_messages: u64,
        /// Seconds allowed for each phase.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// Closed-loop acks: every client sends `ack` and waits for the answer.
    Echo {
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of traffic before measuring.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Payload size (a JSON string, bytes on the wire with its quotes).
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// The event sent (the server must ack it with its arguments), e.g. `sleep`.
        #[arg(long, default_value = "ack")]
        event: String,
        /// Events per second, all clients together, on a fixed schedule (each client
        /// still waits for its ack before its next event); default: closed loop.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Connect storm: N clients, --concurrency handshakes in flight, full handshake each.
    Storm {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
    },
    /// Slow consumers: N members of room "r", P publishers at a fixed rate, K members
    /// that never read their socket.
    Slow {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 16)]
        publishers: usize,
        /// Members that stop reading (K).
        #[arg(long, default_value_t = 10)]
        slow: usize,
        /// Messages per second, all publishers together (open loop).
        #[arg(long, default_value_t = 400.0)]
        rate: f64,
        /// Seconds measured (after the warm-up).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Payload size (a JSON string, bytes on the wire with its quotes).
        #[arg(long, default_value_t = 512)]
        size: usize,
        /// Skip a publishing tick while the healthy members are this many messages behind
        /// on average (0: never skip).
        #[arg(long, default_value_t = 2000)]
        max_lag: u64,
        /// Ask the server for `disconnect_log` at the end (ferrosocket's test-server).
        #[arg(long)]
        disconnect_log: bool,
    },
    /// Chat day: N clients in rooms of S, each sending one `chat` message per period
    /// (open loop); the server broadcasts each to its room.
    Chat {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        #[arg(long, default_value_t = 50)]
        room_size: usize,
        /// Seconds between two messages of one client.
        #[arg(long, default_value_t = 1.0)]
        period: f64,
        /// Seconds measured (after the warm-up).
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Characters of padding in each message's text.
        #[arg(long, default_value_t = 32)]
        size: usize,
        /// Send `emit` requests to the room instead of `chat` events (ferrosocket's
        /// test-server, which has no `chat` event).
        #[arg(long)]
        via_emit: bool,
    },
    /// A room spread over several servers sharing a bus (Redis): N members split evenly
    /// over the --connect servers, P publishers on the first; saturation, then fixed rates;
    /// deliveries/s and latency per server (bench/redis/).
    Fleet {
        /// A server of the fleet (repeat; the first is A, where the publishers are).
        #[arg(long = "connect", required = true)]
        connect: Vec<std::net::SocketAddr>,
        /// The pid of each --connect server, same order (repeat), for CPU figures.
        #[arg(long = "pid")]
        pid: Vec<u32>,
        /// Another process of the fleet counted in its CPU (repeat), e.g. redis-server.
        #[arg(long = "also-pid")]
        also_pid: Vec<u32>,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 1)]
        publishers: usize,
        /// Messages of the saturation phase (0: none).
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        /// Payload size (a JSON string, bytes on the wire with its quotes).
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Unacknowledged emits per publisher (saturation).
        #[arg(long, default_value_t = 64)]
        window: u64,
        /// Hold publishing (saturation) or skip a tick (fixed rate) while the members
        /// are this many messages behind on average (0: never).
        #[arg(long, default_value_t = 256)]
        max_lag: u64,
        /// A fixed-rate phase at this many messages/s in all (repeat).
        #[arg(long = "rate")]
        rate: Vec<f64>,
        /// A fixed-rate phase at this fraction of the saturation messages/s (repeat).
        #[arg(long = "rate-fraction")]
        rate_fraction: Vec<f64>,
        /// Seconds measured per fixed-rate phase (after the warm-up).
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Seconds allowed for each phase.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// HTTP/1.1 closed loop: N keep-alive connections, each sending GET PATH and waiting
    /// for the whole response before the next (hyper client; reconnects when the server
    /// answers `Connection: close`).
    Http {
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of traffic before measuring.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// The request target, e.g. `/` or `/json?x=1`.
        #[arg(long, default_value = "/")]
        path: String,
        /// The status every response must have (another one fails the run).
        #[arg(long, default_value_t = 200)]
        expect_status: u16,
        /// Requests per second, all connections together, on a fixed schedule (each
        /// connection still waits for its response before the next); default: closed loop.
        #[arg(long)]
        rate: Option<f64>,
    },
}

impl Cmd {
    fn connections(&self) -> usize {
        match self {
            Cmd::Idle { clients, .. }
            | Cmd::Echo { clients, .. }
            | Cmd::Storm { clients }
            | Cmd::Chat { clients, .. } => *clients,
            Cmd::Http { connections, .. } => *connections,
            Cmd::Fanout {
                clients,
                publishers,
                ..
            }
            | Cmd::Fleet {
                clients,
                publishers,
                ..
            } => clients + publishers,
            Cmd::Slow {
                clients,
                publishers,
                ..
            } => clients + publishers + 1,
        }
    }
}

/// What a scenario hands back.
#[derive(Debug)]
pub struct Outcome {
    pub summary: String,
    pub json: Value,
    /// No errors, disconnects or crashes seen.
    pub ok: bool,
}

/// A latency histogram in nanoseconds, 1 ns .. 1 h, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

pub fn hist_line(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    let us = |v: u64| v as f64 / 1000.0;
    format!(
        "p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us, mean {:.0} us ({} samples)",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
        h.mean() / 1000.0,
        h.len()
    )
}

/// Percentiles in microseconds.
pub fn hist_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let us = |v: u64| v as f64 / 1000.0;
    json!({
        "unit": "us",
        "samples": h.len(),
        "min": us(h.min()),
        "p50": us(h.value_at_quantile(0.5)),
        "p90": us(h.value_at_quantile(0.9)),
        "p99": us(h.value_at_quantile(0.99)),
        "p999": us(h.value_at_quantile(0.999)),
        "max": us(h.max()),
        "mean": h.mean() / 1000.0,
    })
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) now in force.
fn raise_nofile() -> (u64, u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                (hard, hard)
            } else {
                (soft, hard)
            }
        }
        Err(_) => (0, 0),
    }
}

/// Pins the calling thread (and so every thread it starts later) to `cpu`.
fn pin_self(cpu: usize) -> bool {
    use nix::sched::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    set.set(cpu).is_ok() && sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok()
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(run(cli));
}

fn run(cli: Cli) -> i32 {
    let common = &cli.common;
    let command_line: Vec<String> = std::env::args().collect();
    let load_at_start = server::loadavg();
    let (nofile, nofile_hard) = raise_nofile();
    let connections = cli.cmd.connections();
    if (nofile as usize) < connections + 64 {
        eprintln!(
            "loadgen: RLIMIT_NOFILE is {nofile} (hard {nofile_hard}), too low for {connections} connections"
        );
        return 2;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = common.pin && cpus >= 2;
    if common.pin && !pin {
        eprintln!("loadgen: --pin needs 2 CPUs, running unpinned");
    }
    let sources = common
        .source_addrs
        .unwrap_or_else(|| connections.div_ceil(common.per_source.max(1)))
        .max(1);

    let log_path = common.server_log.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("loadgen-server-{}.log", std::process::id()))
    });
    let options = ServerOptions {
        path: common.server.clone(),
        extra_args: common.server_args.clone(),
        pin_cpu: pin.then_some(0),
        log_path,
        start_timeout: Duration::from_secs(15),
        stop_timeout: Duration::from_secs(15),
    };
    let started = match (&cli.cmd, common.external) {
        // The fleet's servers are started by the caller (bench/redis/run.py).
        (Cmd::Fleet { connect, pid, .. }, _) => Ok(ServerProc::attach(
            connect
                .first()
                .copied()
                .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            pid.first().copied(),
        )),
        (_, Some(addr)) => Ok(ServerProc::attach(addr, common.external_pid)),
        (_, None) => ServerProc::start(&options),
    };
    let mut server = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return 2;
        }
    };
    if pin && !server.pinned && !server.attached() {
        eprintln!("loadgen: taskset not found, the server is not pinned");
    }
    let self_pinned = pin && pin_self(1);
    let threads = common
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    eprintln!(
        "loadgen: server pid {} at {} (pinned: {}), loadgen {} thread(s){} (pinned: {self_pinned}), {sources} source address(es), nofile {nofile}, server log {}",
        server.pid,
        server.addr,
        server.pinned,
        threads,
        if common.current_thread || threads <= 1 {
            ", current-thread runtime"
        } else {
            ""
        },
        server.log_path.display()
    );
    let mut builder = if common.current_thread || threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads.max(1));
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: runtime: {e}");
            return 2;
        }
    };
    let target = Arc::new(Target::new(
        server.addr,
        sources,
        Duration::from_secs_f64(common.connect_timeout),
        common.read_buffer,
    ));
    let concurrency = common.concurrency;
    let max_time = Duration::from_secs_f64(common.max_time);
    let result = runtime.block_on(async {
        let scenario = async {
            match &cli.cmd {
                Cmd::Idle {
                    clients,
                    hold,
                    cycles,
                    sample_every,
                } => {
                    idle::run(
                        &mut server,
                        Arc::clone(&target),
                        *clients,
                        Duration::from_secs_f64(*hold),
                        (*cycles).max(1),
                        sample_every.map(Duration::from_secs_f64),
                        concurrency,
                    )
                    .await
                }
                Cmd::Fanout {
                    clients,
                    messages,
                    publishers,
                    size,
                    window,
                    max_lag,
                    latency_messages,
                    timeout,
                } => {
                    fanout::run(
                        &mut server,
                        Arc::clone(&target),
                        fanout::Params {
                            clients: *clients,
                            messages: *messages,
                            publishers: *publishers,
                            size: *size,
                            window: (*window).max(1),
                            max_lag: *max_lag,
                            latency_messages: *latency_messages,
                            timeout: Duration::from_secs_f64(*timeout),
                            concurrency,
                        },
                    )
                    .await
                }
                Cmd::Echo {
                    clients,
                    duration,
                    warmup,
                    size,
                    event,
                    rate,
                } => {
                    echo::run(
                        &mut server,
                        Arc::clone(&target),
                        *clients,
                        Duration::from_secs_f64(*duration),
                        Duration::from_secs_f64(*warmup),
                        *size,
                        event,
                        *rate,
                        concurrency,
                    )
                    .await
                }
                Cmd::Storm { clients } => {
                    storm::run(&mut server, Arc::clone(&target), *clients, concurrency).await
                }
                Cmd::Slow {
                    clients,
                    publishers,
                    slow,
                    rate,
                    duration,
                    warmup,
                    size,
                    max_lag,
                    disconnect_log,
                } => {
                    slow::run(
                        &mut server,
                        Arc::clone(&target),
                        slow::Params {
                            clients: *clients,
                            publishers: *publishers,
                            slow: *slow,
                            rate: *rate,
                            duration: Duration::from_secs_f64(*duration),
                            warmup: Duration::from_secs_f64(*warmup),
                            size: *size,
                            max_lag: *max_lag,
                            disconnect_log: *disconnect_log,
                            concurrency,
                        },
                    )
                    .await
                }
                Cmd::Chat {
                    clients,
                    room_size,
                    period,
                    duration,
                    warmup,
                    size,
                    via_emit,
                } => {
                    chat::run(
                        &mut server,
                        Arc::clone(&target),
                        chat::Params {
                            clients: *clients,
                            room_size: *room_size,
                            period: Duration::from_secs_f64(period.max(0.001)),
                            duration: Duration::from_secs_f64(*duration),
                            warmup: Duration::from_secs_f64(*warmup),
                            size: *size,
                            via_emit: *via_emit,
                            concurrency,
                        },
                    )
                    .await
                }
                Cmd::Fleet {
                    connect,
                    pid,
                    also_pid,
                    clients,
                    publishers,
                    messages,
                    size,
                    window,
                    max_lag,
                    rate,
                    rate_fraction,
                    duration,
                    warmup,
                    timeout,
                } => {
                    fleet::run(
                        Arc::clone(&target),
                        fleet::Params {
                            addrs: connect.clone(),
                            pids: pid.clone(),
                            also_pids: also_pid.clone(),
                            clients: *clients,
                            publishers: *publishers,
                            messages: *messages,
                            size: *size,
                            window: (*window).max(1),
                            max_lag: *max_lag,
                            rates: rate.clone(),
                            rate_fractions: rate_fraction.clone(),
                            duration: Duration::from_secs_f64(*duration),
                            warmup: Duration::from_secs_f64(*warmup),
                            timeout: Duration::from_secs_f64(*timeout),
                            concurrency,
                        },
                    )
                    .await
                }
                Cmd::Http {
                    connections,
                    duration,
                    warmup,
                    path,
                    expect_status,
                    rate,
                } => {
                    http::run(
                        &mut server,
                        http::Params {
                            connections: (*connections).max(1),
                            duration: Duration::from_secs_f64(*duration),
                            warmup: Duration::from_secs_f64(*warmup),
                            path: path.clone(),
                            expect_status: *expect_status,
                            rate: *rate,
                        },
                    )
                    .await
                }
            }
        };
        tokio::select! {
            r = scenario => r,
            _ = tokio::time::sleep(max_time) => Err(format!("run exceeded --max-time {}s, abandoned", max_time.as_secs())),
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(3));
    let loadgen = ProcStats::current().unwrap_or_default();
    let stop = server.stop();
    let (problems, problem_lines) = server.log_problems(5);

    let date = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let meta = json!({
        "command": command_line.join(" "),
        "unix_time": date,
        "nproc": cpus,
        "loadavg_at_start": load_at_start,
        "server": common.server.display().to_string(),
        "server_args": common.server_args,
        "server_pinned": server.pinned,
        "loadgen_pinned": self_pinned,
        "loadgen_threads": threads,
        "source_addrs": sources,
        "server_stop": stop.describe(),
        "server_stop_clean": stop.clean(),
        "server_log": server.log_path.display().to_string(),
        "server_log_warnings": problems,
        "server_log_samples": problem_lines,
        "loadgen_cpu_secs_total": loadgen.cpu_secs,
        "loadgen_rss_peak": loadgen.rss_bytes,
    });
    let (mut json, code) = match result {
        Ok(outcome) => {
            println!("{}", outcome.summary);
            let ok = outcome.ok && (server.attached() || stop.clean());
            let mut j = outcome.json;
            j["ok"] = json!(ok);
            (j, if ok { 0 } else { 1 })
        }
        Err(e) => {
            println!("loadgen: FAILED: {e}");
            (json!({"ok": false, "error": e}), 1)
        }
    };
    println!("  {}", stop.describe());
    if problems > 0 {
        println!(
            "  server log: {problems} warning/error line(s) in {}, first: {:?}",
            server.log_path.display(),
            problem_lines
        );
    }
    if let (Value::Object(map), Value::Object(meta)) = (&mut json, meta) {
        map.extend(meta);
    }
    println!("RESULT {json}");
    code
}
