//! `fleet`: one room spread over several servers that share a message bus (Redis).
//!
//! The clients are split evenly over the servers given with `--connect` (the first is
//! server A), all join room `r`; the publishers are connected to A and send `emit`
//! requests to the room, so A's members are served locally and every other server's
//! members through the bus. Every message carries its phase and its send time
//! (`args: [phase, send ns, payload]`), so each delivery gives a latency sample, counted
//! per server: the latency the bus adds is B's figure minus A's.
//!
//! Phase 0, saturation: `--messages M` emits, pipelined with at most `--window`
//! unacknowledged per publisher and held back while the members are more than
//! `--max-lag` messages behind (as `fanout`); deliveries/s over all servers and per
//! server (no latency: it is queueing by construction there). Phases 1.., fixed rates: for each `--rate R` (messages/s in all) and each
//! `--rate-fraction F` (F × this run's saturation messages/s), the publishers send on a
//! fixed schedule without asking for acks for `--warmup` + `--duration` seconds (a tick
//! is skipped, and counted, while the members are more than `--max-lag` behind), lowest
//! rate first;
//! latency p50/p99 per server over the messages sent after the warm-up.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{open_many, other_frame, payload_string, Tally, Target, Ws, PONG};
use crate::server::{CpuSplit, MachineCpu, ProcStats};
use crate::{hist_json, hist_line, new_hist, Outcome};

/// Phases at most (saturation + fixed rates).
const MAX_PHASES: usize = 8;

#[derive(Debug)]
pub struct Params {
    /// The servers; the publishers connect to the first.
    pub addrs: Vec<SocketAddr>,
    /// Their pids (same order), for CPU figures; 0 or missing: not measured.
    pub pids: Vec<u32>,
    /// Other processes of the fleet whose CPU is counted with it (e.g. redis-server).
    pub also_pids: Vec<u32>,
    pub clients: usize,
    pub publishers: usize,
    pub messages: u64,
    pub size: usize,
    pub window: u64,
    pub max_lag: u64,
    pub rates: Vec<f64>,
    pub rate_fractions: Vec<f64>,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
}

#[derive(Debug)]
struct Phase {
    /// Deliveries of this phase's messages, per server.
    delivered: Vec<AtomicU64>,
    /// Latency of the deliveries of messages sent at or after `record_from_ns`, per server.
    hists: Vec<Mutex<Histogram<u64>>>,
    /// The same for the first delivery of each message on each server (send -> the first
    /// member of that server has it): the hop between servers without the walk over the
    /// room's members.
    first_hists: Vec<Mutex<Histogram<u64>>>,
    /// Per server, the newest send time delivered there: a delivery with a newer one is
    /// that server's first of its message.
    first_seen: Vec<AtomicU64>,
    record_from_ns: AtomicU64,
    /// Messages sent in this phase, all publishers.
    sent: AtomicU64,
    skipped: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    epoch: Instant,
    phases: Vec<Phase>,
    /// Members, all servers.
    members: u64,
    /// Time (ns since epoch) of the latest delivery, any phase.
    last_ns: AtomicU64,
    /// Deliveries of every phase, all servers.
    total: AtomicU64,
    /// Signalled every `members` deliveries (one message's worth), for held-back
    /// publishers.
    progress: Notify,
    pings: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU64,
    /// Frames `42["m",...]` that did not parse.
    unparsed: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn delivered(&self, phase: usize) -> u64 {
        self.phases[phase]
            .delivered
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether the members are on average more than `max_lag` messages of `phase` behind.
    fn lagging(&self, phase: usize, max_lag: u64) -> bool {
        max_lag > 0
            && self.phases[phase].sent.load(Ordering::Relaxed)
                >= self.delivered(phase) / self.members.max(1) + max_lag
    }
}

/// The two numbers after `42["m",` (phase, send time). Servers that pass several
/// arguments as one array send `[phase, t, ...]`; spaces are allowed.
fn phase_and_time(text: &str) -> Option<(usize, u64)> {
    let rest = text.strip_prefix("42[\"m\"")?;
    let rest = rest.trim_start_matches([',', ' ', '[']);
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    let phase: usize = rest[..end].parse().ok()?;
    let rest = rest[end..].trim_start_matches([',', ' ']);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some((phase, rest[..end].parse().ok()?))
}

async fn receiver(mut ws: Ws, server: usize, mut stop: watch::Receiver<bool>, s: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                return;
            }
            m = ws.next() => {
                let taken = if let Some(Ok(Message::Text(t))) = &m {
                    let t = t.as_str();
                    if t.starts_with("42[\"m\"") {
                        match phase_and_time(t) {
                            Some((phase, sent)) if phase < s.phases.len() => {
                                let now = s.now_ns();
                                let ph = &s.phases[phase];
                                ph.delivered[server].fetch_add(1, Ordering::Relaxed);
                                s.last_ns.fetch_max(now, Ordering::Relaxed);
                                let c = s.total.fetch_add(1, Ordering::Relaxed) + 1;
                                if c % s.members.max(1) == 0 {
                                    s.progress.notify_waiters();
                                }
                                if sent >= ph.record_from_ns.load(Ordering::Relaxed) {
                                    let took = now.saturating_sub(sent).max(1);
                                    let mut h = ph.hists[server].lock().unwrap_or_else(|p| p.into_inner());
                                    let _ = h.record(took);
                                    drop(h);
                                    if ph.first_seen[server].fetch_max(sent, Ordering::Relaxed) < sent {
                                        let mut h = ph.first_hists[server].lock().unwrap_or_else(|p| p.into_inner());
                                        let _ = h.record(took);
                                    }
                                }
                            }
                            _ => {
                                s.unparsed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        true
                    } else {
                        false
                    }
                } else {
                    false
                };
                let tally = Tally { pings: &s.pings, lost: &s.lost, errors: &s.errors };
                if !taken && other_frame(&mut ws, m, &tally).await.is_break() {
                    return;
                }
            }
        }
    }
}

fn emit_frame(id: Option<u64>, phase: usize, t: u64, payload: &str) -> Message {
    let id = id.map(|i| i.to_string()).unwrap_or_default();
    Message::text(format!(
        "42{id}[\"emit\",{{\"to\":[\"r\"],\"event\":\"m\",\"args\":[{phase},{t},{payload}]}}]"
    ))
}

/// Phase 0: `count` emits with at most `window` unacknowledged; returns the connection
/// and an error, if any.
async fn saturate(
    mut ws: Ws,
    payload: Arc<String>,
    count: u64,
    window: u64,
    max_lag: u64,
    s: Arc<Shared>,
    deadline: tokio::time::Instant,
) -> (Ws, u64, Option<String>) {
    let (mut sent, mut inflight, mut acked) = (0u64, 0u64, 0u64);
    loop {
        let progress = s.progress.notified();
        tokio::pin!(progress);
        progress.as_mut().enable();
        let mut fed = false;
        let mut held_back = false;
        while inflight < window && sent < count {
            if s.lagging(0, max_lag) {
                held_back = true;
                break;
            }
            if let Err(e) = ws
                .feed(emit_frame(Some(sent), 0, s.now_ns(), &payload))
                .await
            {
                return (ws, acked, Some(format!("send: {e}")));
            }
            s.phases[0].sent.fetch_add(1, Ordering::Relaxed);
            sent += 1;
            inflight += 1;
            fed = true;
        }
        if fed {
            if let Err(e) = ws.flush().await {
                return (ws, acked, Some(format!("flush: {e}")));
            }
        }
        if acked == count {
            return (ws, acked, None);
        }
        let next = tokio::select! {
            _ = &mut progress, if held_back => continue,
            next = tokio::time::timeout_at(deadline, ws.next()) => next,
        };
        match next {
            Err(_) => {
                let e = format!("timeout with {inflight} acks outstanding, {sent}/{count} sent");
                return (ws, acked, Some(e));
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.starts_with("43") {
                    acked += 1;
                    inflight = inflight.saturating_sub(1);
                } else if t.as_str() == "2" {
                    if let Err(e) = ws.send(Message::Text(PONG)).await {
                        return (ws, acked, Some(format!("pong: {e}")));
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => {
                return (
                    ws,
                    acked,
                    Some(format!("publisher connection lost: {other:?}")),
                );
            }
        }
    }
}

/// A fixed-rate phase: one emit every `interval` until `end` (late ticks are caught up),
/// no acknowledgement asked; a tick is skipped while the members lag.
#[allow(clippy::too_many_arguments)]
async fn at_rate(
    mut ws: Ws,
    payload: Arc<String>,
    phase: usize,
    first: tokio::time::Instant,
    interval: Duration,
    end: tokio::time::Instant,
    max_lag: u64,
    s: Arc<Shared>,
) -> (Ws, Option<String>) {
    let mut tick = tokio::time::interval_at(first, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            at = tick.tick() => {
                if at >= end {
                    return (ws, None);
                }
                if s.lagging(phase, max_lag) {
                    s.phases[phase].skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Err(e) = ws.send(emit_frame(None, phase, s.now_ns(), &payload)).await {
                    return (ws, Some(format!("send: {e}")));
                }
                s.phases[phase].sent.fetch_add(1, Ordering::Relaxed);
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    if let Err(e) = ws.send(Message::Text(PONG)).await {
                        return (ws, Some(format!("pong: {e}")));
                    }
                }
                Some(Ok(_)) => {}
                other => return (ws, Some(format!("publisher connection lost: {other:?}"))),
            }
        }
    }
}

/// Waits until `expected` deliveries of `phase` arrived, nothing arrived for `quiet`, or
/// `deadline`; returns whether all arrived.
async fn drain(
    s: &Shared,
    phase: usize,
    expected: u64,
    quiet: Duration,
    deadline: tokio::time::Instant,
) -> bool {
    let mut last = (s.delivered(phase), Instant::now());
    loop {
        let now = s.delivered(phase);
        if now >= expected {
            return true;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > quiet || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cpu_of(pids: &[u32]) -> Vec<f64> {
    pids.iter()
        .map(|&pid| {
            if pid == 0 {
                return 0.0;
            }
            ProcStats::read(&format!("/proc/{pid}")).map_or(0.0, |st| st.cpu_secs)
        })
        .collect()
}

/// CPU figures of one measured window.
struct Window {
    t0: Instant,
    fleet0: Vec<f64>,
    me0: f64,
    m0: MachineCpu,
}

impl Window {
    fn open(pids: &[u32]) -> Self {
        Self {
            t0: Instant::now(),
            fleet0: cpu_of(pids),
            me0: ProcStats::current().unwrap_or_default().cpu_secs,
            m0: MachineCpu::read(),
        }
    }

    /// Adds CPU figures over `secs` to `out`: per process of the fleet, the fleet, loadgen.
    fn close(&self, pids: &[u32], names: &[String], secs: f64, out: &mut Value) {
        let fleet1 = cpu_of(pids);
        let me1 = ProcStats::current().unwrap_or_default().cpu_secs;
        let m1 = MachineCpu::read();
        let per: Vec<f64> = fleet1
            .iter()
            .zip(&self.fleet0)
            .map(|(b, a)| b - a)
            .collect();
        let fleet: f64 = per.iter().sum();
        let split = CpuSplit::between([0.0, fleet], [self.me0, me1], [&self.m0, &m1]);
        split.add_to(out, secs);
        if let Value::Object(map) = out {
            map.insert(
                "process_cpu_util".into(),
                names
                    .iter()
                    .zip(&per)
                    .map(|(n, c)| (n.clone(), json!(c / secs)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            );
        }
    }
}

fn server_name(i: usize) -> String {
    if i < 26 {
        char::from(b'A' + i as u8).to_string()
    } else {
        format!("S{i}")
    }
}

/// Latency per server (every delivery, and each message's first delivery per server),
/// the difference of each other server from A, and summary lines.
fn latency_json(s: &Shared, phase: usize, names: &[String], summary: &mut String) -> Value {
    let every = latency_of(&s.phases[phase].hists, names, "every member", summary);
    let first = latency_of(&s.phases[phase].first_hists, names, "first member", summary);
    json!({
        "latency": every.0, "latency_all": every.1, "added_latency": every.2,
        "latency_first": first.0, "added_latency_first": first.2,
    })
}

fn latency_of(
    hists: &[Mutex<Histogram<u64>>],
    names: &[String],
    what: &str,
    summary: &mut String,
) -> (Value, Value, Value) {
    let hists: Vec<Histogram<u64>> = hists
        .iter()
        .map(|h| h.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .collect();
    let mut per = serde_json::Map::new();
    let mut all = new_hist();
    for (name, h) in names.iter().zip(&hists) {
        per.insert(name.clone(), hist_json(h));
        let _ = all.add(h);
        *summary += &format!("    {what}, server {name}: {}\n", hist_line(h));
    }
    let q = |h: &Histogram<u64>, x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    let mut added = serde_json::Map::new();
    if let Some(a) = hists.first().filter(|h| !h.is_empty()) {
        for (name, h) in names.iter().zip(&hists).skip(1) {
            if h.is_empty() {
                continue;
            }
            let (p50, p99) = (q(h, 0.5) - q(a, 0.5), q(h, 0.99) - q(a, 0.99));
            added.insert(name.clone(), json!({"unit": "us", "p50": p50, "p99": p99}));
            *summary += &format!(
                "    {what}, added by the bus ({name} - A): p50 {p50:.0} us, p99 {p99:.0} us\n"
            );
        }
    }
    (per.into(), hist_json(&all), added.into())
}

pub async fn run(template: Arc<Target>, p: Params) -> Result<Outcome, String> {
    let n_servers = p.addrs.len();
    if n_servers == 0 {
        return Err("no server: give --connect ADDR (at least once)".into());
    }
    let publishers = p.publishers.max(1);
    let names: Vec<String> = (0..n_servers).map(server_name).collect();
    let mut pids: Vec<u32> = (0..n_servers)
        .map(|i| p.pids.get(i).copied().unwrap_or(0))
        .collect();
    let mut proc_names = names.clone();
    for (k, &pid) in p.also_pids.iter().enumerate() {
        pids.push(pid);
        proc_names.push(if k == 0 {
            "bus".to_owned()
        } else {
            format!("bus{k}")
        });
    }
    let targets: Vec<Arc<Target>> = p
        .addrs
        .iter()
        .map(|&addr| {
            Arc::new(Target::new(
                addr,
                template.sources.len(),
                template.timeout,
                template.read_buffer,
            ))
        })
        .collect();

    // Members: evenly over the servers (the first ones get the remainder).
    let mut members: Vec<(usize, Ws)> = Vec::new();
    let mut failures = serde_json::Map::new();
    let mut index = 0;
    for (i, target) in targets.iter().enumerate() {
        let n = p.clients / n_servers + usize::from(i < p.clients % n_servers);
        let opened = open_many(target, n, p.concurrency, Some("r"), index).await;
        index += n;
        if opened.failures.total() > 0 {
            failures.insert(names[i].clone(), opened.failures.to_json());
        }
        eprintln!(
            "fleet: {} members on server {} ({}) in {:.2}s",
            opened.conns.len(),
            names[i],
            target.addr,
            opened.took.as_secs_f64()
        );
        members.extend(opened.conns.into_iter().map(|ws| (i, ws)));
    }
    let per_server: Vec<u64> = (0..n_servers)
        .map(|i| members.iter().filter(|(s, _)| *s == i).count() as u64)
        .collect();
    if per_server.contains(&0) {
        return Err(format!(
            "a server has no member: {per_server:?}, {failures:?}"
        ));
    }
    let pubs = open_many(&targets[0], publishers, p.concurrency, None, index).await;
    if pubs.conns.len() != publishers {
        return Err(format!(
            "publishers failed to connect: {}",
            pubs.failures.to_json()
        ));
    }
    let n_members = members.len() as u64;
    let phases_n = (1 + p.rates.len() + p.rate_fractions.len()).min(MAX_PHASES);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        phases: (0..phases_n)
            .map(|_| Phase {
                delivered: (0..n_servers).map(|_| AtomicU64::new(0)).collect(),
                hists: (0..n_servers).map(|_| Mutex::new(new_hist())).collect(),
                first_hists: (0..n_servers).map(|_| Mutex::new(new_hist())).collect(),
                first_seen: (0..n_servers).map(|_| AtomicU64::new(0)).collect(),
                record_from_ns: AtomicU64::new(u64::MAX),
                sent: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
            })
            .collect(),
        members: n_members,
        last_ns: AtomicU64::new(0),
        total: AtomicU64::new(0),
        progress: Notify::new(),
        pings: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        unparsed: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receiver_tasks = tokio::task::JoinSet::new();
    for (server, ws) in members {
        receiver_tasks.spawn(receiver(ws, server, stop_rx.clone(), Arc::clone(&shared)));
    }
    // Let the welcome events and join acks drain, and the servers' subscriptions settle.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let payload = Arc::new(payload_string(p.size));
    let mut summary = format!(
        "fleet: {n_members} members in room r over {n_servers} servers {per_server:?}, {publishers} publisher(s) on A, payload {} B\n",
        p.size
    );
    let mut problems: Vec<String> = Vec::new();
    let mut pub_conns = pubs.conns;

    // Phase 0: saturation.
    let mut saturation = Value::Null;
    let mut sat_msgs_per_sec = None;
    if p.messages > 0 {
        let per_pub: Vec<u64> = (0..publishers as u64)
            .map(|i| p.messages / publishers as u64 + u64::from(i < p.messages % publishers as u64))
            .collect();
        // No latency samples at saturation (queueing by construction, and the histogram
        // would cost loadgen CPU where it is needed most): only counts.
        let deadline = tokio::time::Instant::now() + p.timeout;
        let win = Window::open(&pids);
        let t0_ns = shared.now_ns();
        let tasks: Vec<_> = pub_conns
            .drain(..)
            .zip(per_pub.iter().copied())
            .map(|(ws, count)| {
                tokio::spawn(saturate(
                    ws,
                    Arc::clone(&payload),
                    count,
                    p.window,
                    p.max_lag,
                    Arc::clone(&shared),
                    deadline,
                ))
            })
            .collect();
        let mut acked = 0;
        for task in tasks {
            match task.await {
                Ok((ws, a, err)) => {
                    acked += a;
                    if let Some(e) = err {
                        problems.push(format!("saturation publisher: {e}"));
                    }
                    pub_conns.push(ws);
                }
                Err(e) => problems.push(format!("saturation publisher task: {e}")),
            }
        }
        let expected = n_members * p.messages;
        let all = drain(&shared, 0, expected, Duration::from_secs(3), deadline).await;
        let t_end_ns = shared.last_ns.load(Ordering::Relaxed).max(t0_ns + 1);
        let secs = (t_end_ns - t0_ns) as f64 / 1e9;
        let delivered = shared.delivered(0);
        let rate = delivered as f64 / secs;
        let msgs = p.messages as f64 / secs;
        sat_msgs_per_sec = Some(msgs);
        let per: serde_json::Map<String, Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let d = shared.phases[0].delivered[i].load(Ordering::Relaxed);
                (n.clone(), json!({"delivered": d, "expected": per_server[i] * p.messages, "deliveries_per_sec": d as f64 / secs}))
            })
            .collect();
        summary += &format!(
            "  saturation: {} messages, delivered {delivered}/{expected} in {secs:.3}s = {rate:.0} deliveries/s ({msgs:.0} msgs/s), acks {acked}\n",
            p.messages
        );
        let mut j = json!({
            "messages": p.messages,
            "expected_deliveries": expected,
            "delivered": delivered,
            "all_delivered": all,
            "secs": secs,
            "deliveries_per_sec": rate,
            "messages_per_sec": msgs,
            "acks": acked,
            "per_server": per,
        });
        win.close(&pids, &proc_names, secs, &mut j);
        summary += &format!(
            "    CPU: fleet {:.2} of a core ({}), loadgen {:.2}, other {:.2} s\n",
            j["server_cpu_util"].as_f64().unwrap_or(0.0),
            proc_util_line(&j),
            j["loadgen_cpu_util"].as_f64().unwrap_or(0.0),
            j["other_cpu_secs"].as_f64().unwrap_or(0.0),
        );
        if !all {
            problems.push(format!("saturation: {delivered}/{expected} delivered"));
        }
        saturation = j;
    }

    // Fixed-rate phases.
    let mut rates: Vec<(f64, Value)> = p.rates.iter().map(|&r| (r, json!({"rate": r}))).collect();
    for &f in &p.rate_fractions {
        match sat_msgs_per_sec {
            Some(sat) => rates.push((
                f * sat,
                json!({"rate": f * sat, "fraction_of_saturation": f}),
            )),
            None => {
                problems.push("--rate-fraction needs the saturation phase (--messages > 0)".into())
            }
        }
    }
    rates.truncate(phases_n - 1);
    // Lowest rate first: a rate a server cannot keep up with leaves it busy for a while
    // (its backlog), which must not land in a lighter phase's figures.
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rate_results = Vec::new();
    for (k, (rate, mut j)) in rates.into_iter().enumerate() {
        let phase = k + 1;
        if rate <= 0.0 || !rate.is_finite() {
            j["error"] = json!("rate must be > 0");
            rate_results.push(j);
            continue;
        }
        let per_pub = rate / publishers as f64;
        let interval = Duration::from_secs_f64(1.0 / per_pub);
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
        let record_from = start + p.warmup;
        let end = record_from + p.duration;
        shared.phases[phase].record_from_ns.store(
            record_from
                .into_std()
                .saturating_duration_since(shared.epoch)
                .as_nanos() as u64,
            Ordering::Relaxed,
        );
        let tasks: Vec<_> = pub_conns
            .drain(..)
            .enumerate()
            .map(|(i, ws)| {
                // Publishers' schedules spread evenly over one interval.
                let first = start + interval.mul_f64(i as f64 / publishers as f64);
                tokio::spawn(at_rate(
                    ws,
                    Arc::clone(&payload),
                    phase,
                    first,
                    interval,
                    end,
                    p.max_lag,
                    Arc::clone(&shared),
                ))
            })
            .collect();
        tokio::time::sleep_until(record_from).await;
        let win = Window::open(&pids);
        let d0 = shared.delivered(phase);
        let s0 = shared.phases[phase].sent.load(Ordering::Relaxed);
        let sk0 = shared.phases[phase].skipped.load(Ordering::Relaxed);
        tokio::time::sleep_until(end).await;
        let secs = win.t0.elapsed().as_secs_f64();
        let d1 = shared.delivered(phase);
        let s1 = shared.phases[phase].sent.load(Ordering::Relaxed);
        let sk1 = shared.phases[phase].skipped.load(Ordering::Relaxed);
        win.close(&pids, &proc_names, secs, &mut j);
        for task in tasks {
            match task.await {
                Ok((ws, err)) => {
                    if let Some(e) = err {
                        problems.push(format!("rate publisher: {e}"));
                    }
                    pub_conns.push(ws);
                }
                Err(e) => problems.push(format!("rate publisher task: {e}")),
            }
        }
        let sent = shared.phases[phase].sent.load(Ordering::Relaxed);
        let skipped = shared.phases[phase].skipped.load(Ordering::Relaxed);
        let expected = sent * n_members;
        let deadline = tokio::time::Instant::now() + p.timeout;
        let all = drain(&shared, phase, expected, Duration::from_secs(3), deadline).await;
        let delivered = shared.delivered(phase);
        // Sustained: every tick of the window sent and every message delivered.
        let sustained = all && skipped == 0;
        let window_rate = (d1 - d0) as f64 / secs;
        summary += &format!(
            "  at {rate:.1} msgs/s ({:.0} deliveries/s asked): sent {sent} ({} in the window, {} ticks skipped), delivered {delivered}/{expected}, {window_rate:.0} deliveries/s in the window, sustained {sustained}\n",
            rate * n_members as f64,
            s1 - s0,
            skipped,
        );
        summary += &format!(
            "    CPU: fleet {:.2} of a core ({}), loadgen {:.2}\n",
            j["server_cpu_util"].as_f64().unwrap_or(0.0),
            proc_util_line(&j),
            j["loadgen_cpu_util"].as_f64().unwrap_or(0.0),
        );
        if let Value::Object(m) = &mut j {
            m.extend([
                ("duration".to_owned(), json!(p.duration.as_secs_f64())),
                ("warmup".to_owned(), json!(p.warmup.as_secs_f64())),
                ("sent".to_owned(), json!(sent)),
                ("sent_in_window".to_owned(), json!(s1 - s0)),
                ("skipped_ticks".to_owned(), json!(skipped)),
                ("skipped_in_window".to_owned(), json!(sk1 - sk0)),
                ("expected_deliveries".to_owned(), json!(expected)),
                ("delivered".to_owned(), json!(delivered)),
                ("all_delivered".to_owned(), json!(all)),
                ("deliveries_per_sec".to_owned(), json!(window_rate)),
                (
                    "asked_deliveries_per_sec".to_owned(),
                    json!(rate * n_members as f64),
                ),
                ("sustained".to_owned(), json!(sustained)),
            ]);
            if let Value::Object(l) = latency_json(&shared, phase, &names, &mut summary) {
                m.extend(l);
            }
        }
        rate_results.push(j);
    }

    let lost = shared.lost.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let unparsed = shared.unparsed.load(Ordering::Relaxed);
    let alive: Vec<bool> = pids
        .iter()
        .map(|&pid| pid == 0 || std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    let _ = stop_tx.send(true);
    for mut ws in pub_conns {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while receiver_tasks.join_next().await.is_some() {}
    })
    .await;
    receiver_tasks.abort_all();
    summary += &format!(
        "  members lost {lost}, receiver errors {errors}, unparsed {unparsed}, processes alive {alive:?}, problems {problems:?}"
    );
    let ok = lost == 0
        && errors == 0
        && unparsed == 0
        && alive.iter().all(|a| *a)
        && problems.is_empty()
        && failures.is_empty();
    let json = json!({
        "scenario": "fleet",
        "servers": p.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "clients": p.clients,
        "members": n_members,
        "members_per_server": per_server,
        "connect_failures": failures,
        "publishers": publishers,
        "size": p.size,
        "window": p.window,
        "max_lag": p.max_lag,
        "saturation": saturation,
        "rates": rate_results,
        "receivers_lost": lost,
        "receiver_errors": errors,
        "unparsed": unparsed,
        "processes_alive": alive,
        "problems": problems,
    });
    Ok(Outcome { summary, json, ok })
}

fn proc_util_line(j: &Value) -> String {
    j["process_cpu_util"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {:.2}", v.as_f64().unwrap_or(0.0)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::phase_and_time;

    #[test]
    fn parses_phase_and_time() {
        assert_eq!(phase_and_time("42[\"m\",2,12345,\"xx\"]"), Some((2, 12345)));
        assert_eq!(phase_and_time("42[\"m\",[0,7,\"xx\"]]"), Some((0, 7)));
        assert_eq!(phase_and_time("42[\"m\", 1, 99]"), Some((1, 99)));
        assert_eq!(phase_and_time("42[\"m\",\"x\"]"), None);
        assert_eq!(phase_and_time("42[\"l\",1,2]"), None);
    }
}
