//! `chat`: a chat day. N clients in rooms of S (client i is in room `c<i / S>`), each
//! sending one message every period (open loop, the clients' send times spread evenly
//! over the period) as `42["chat",{"room":"c<k>","text":"<id>:<send ns>:<padding>"}]`; the
//! server broadcasts it to the room, sender included. Measures the latency of every
//! delivery and of every message until the last member of its room has it, the rate
//! sustained, and the server's RSS.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{open_many_with, other_frame, Tally, Target, Ws};
use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

#[derive(Debug)]
pub struct Params {
    pub clients: usize,
    pub room_size: usize,
    pub period: Duration,
    pub duration: Duration,
    pub warmup: Duration,
    /// Characters of padding in the text.
    pub size: usize,
    /// Send `emit` requests (`{"to":[room],"event":"chat","args":[msg]}`, ferrosocket's
    /// test-server) instead of `chat` events.
    pub via_emit: bool,
    pub concurrency: usize,
}

#[derive(Debug)]
struct Shared {
    epoch: Instant,
    record_from_ns: u64,
    record_until_ns: u64,
    /// Connected members per room.
    members: Vec<u32>,
    /// Message id -> (members still to receive it, send time ns); measured messages only.
    pending: Mutex<HashMap<u64, (u32, u64)>>,
    each: Mutex<Histogram<u64>>,
    last: Mutex<Histogram<u64>>,
    sent: AtomicU64,
    sent_measured: AtomicU64,
    expected_measured: AtomicU64,
    delivered: AtomicU64,
    delivered_measured: AtomicU64,
    late_ticks: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU64,
    pings: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn measured(&self, t: u64) -> bool {
        t >= self.record_from_ns && t < self.record_until_ns
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `(id, send ns)` from a `42["chat",{..."text":"<id>:<ns>:..."}]` frame (any JSON
/// spacing, keys in any order).
pub fn parse_chat(frame: &str) -> Option<(u64, u64)> {
    if !frame.starts_with("42[\"chat\"") {
        return None;
    }
    let at = frame.find("\"text\"")? + "\"text\"".len();
    let rest = frame[at..]
        .trim_start_matches([':', ' '])
        .strip_prefix('"')?;
    let (id, rest) = rest.split_once(':')?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some((id.parse().ok()?, rest[..end].parse().ok()?))
}

#[allow(clippy::too_many_arguments)]
async fn client(
    mut ws: Ws,
    index: usize,
    room: usize,
    first: tokio::time::Instant,
    period: Duration,
    end: tokio::time::Instant,
    via_emit: bool,
    padding: Arc<String>,
    mut stop: watch::Receiver<bool>,
    s: Arc<Shared>,
) {
    let mut tick = tokio::time::interval_at(first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq: u64 = 0;
    let mut sending = true;
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                return;
            }
            at = tick.tick(), if sending => {
                if at >= end {
                    sending = false;
                    continue;
                }
                if at.elapsed() > Duration::from_millis(10) {
                    s.late_ticks.fetch_add(1, Ordering::Relaxed);
                }
                let id = ((index as u64) << 32) | seq;
                seq += 1;
                let t = s.now_ns();
                let msg = format!("{{\"room\":\"c{room}\",\"text\":\"{id}:{t}:{padding}\"}}");
                let frame = if via_emit {
                    format!("42[\"emit\",{{\"to\":[\"c{room}\"],\"event\":\"chat\",\"args\":[{msg}]}}]")
                } else {
                    format!("42[\"chat\",{msg}]")
                };
                if s.measured(t) {
                    let members = s.members.get(room).copied().unwrap_or(0);
                    lock(&s.pending).insert(id, (members, t));
                    s.sent_measured.fetch_add(1, Ordering::Relaxed);
                    s.expected_measured.fetch_add(u64::from(members), Ordering::Relaxed);
                }
                if ws.send(Message::text(frame)).await.is_err() {
                    s.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                s.sent.fetch_add(1, Ordering::Relaxed);
            }
            m = ws.next() => {
                let taken = if let Some(Ok(Message::Text(t))) = &m {
                    let t = t.as_str();
                    if let Some((id, sent)) = parse_chat(t) {
                        let now = s.now_ns();
                        s.delivered.fetch_add(1, Ordering::Relaxed);
                        if s.measured(sent) {
                            s.delivered_measured.fetch_add(1, Ordering::Relaxed);
                            let lat = now.saturating_sub(sent).max(1);
                            let _ = lock(&s.each).record(lat);
                            let done = {
                                let mut p = lock(&s.pending);
                                match p.get_mut(&id) {
                                    Some(e) if e.0 <= 1 => {
                                        p.remove(&id);
                                        true
                                    }
                                    Some(e) => {
                                        e.0 -= 1;
                                        false
                                    }
                                    None => false,
                                }
                            };
                            if done {
                                let _ = lock(&s.last).record(lat);
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

pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    p: Params,
) -> Result<Outcome, String> {
    let room_size = p.room_size.max(1);
    let rooms = p.clients.div_ceil(room_size);
    let opened = open_many_with(
        &target,
        p.clients,
        p.concurrency,
        |i| Some(format!("c{}", i / room_size)),
        0,
    )
    .await;
    let connected = opened.conns.len();
    if connected == 0 {
        return Err(format!(
            "no client connected: {}",
            opened.failures.to_json()
        ));
    }
    let mut members = vec![0u32; rooms];
    for (i, _) in &opened.conns {
        members[i / room_size] += 1;
    }
    eprintln!(
        "chat: {connected}/{} clients in {rooms} rooms of {room_size} (connected in {:.2}s); one message per {:.2}s each, {:.1}s warm-up + {:.1}s measured",
        p.clients,
        opened.took.as_secs_f64(),
        p.period.as_secs_f64(),
        p.warmup.as_secs_f64(),
        p.duration.as_secs_f64()
    );
    let epoch = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let from = start.into_std() + p.warmup;
    let until = from + p.duration;
    let end = start + p.warmup + p.duration;
    let s = Arc::new(Shared {
        epoch,
        record_from_ns: from.duration_since(epoch).as_nanos() as u64,
        record_until_ns: until.duration_since(epoch).as_nanos() as u64,
        members,
        pending: Mutex::new(HashMap::new()),
        each: Mutex::new(new_hist()),
        last: Mutex::new(new_hist()),
        sent: AtomicU64::new(0),
        sent_measured: AtomicU64::new(0),
        expected_measured: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        delivered_measured: AtomicU64::new(0),
        late_ticks: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        pings: AtomicU64::new(0),
    });
    let padding = Arc::new("x".repeat(p.size));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let n = p.clients.max(1) as f64;
    for (i, ws) in opened.conns {
        let first = start + p.period.mul_f64(i as f64 / n);
        tasks.spawn(client(
            ws,
            i,
            i / room_size,
            first,
            p.period,
            end,
            p.via_emit,
            Arc::clone(&padding),
            stop_rx.clone(),
            Arc::clone(&s),
        ));
    }
    // Server RSS, sampled until the end of the drain.
    let rss_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let pid = server.pid;
        let peak = Arc::clone(&rss_peak);
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                if let Some(st) = (pid != 0)
                    .then(|| ProcStats::read(&format!("/proc/{pid}")))
                    .flatten()
                {
                    peak.fetch_max(st.rss_bytes, Ordering::Relaxed);
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    };
    let base = server.stats().unwrap_or_default();
    tokio::time::sleep_until(start + p.warmup).await;
    let srv0 = server.stats().unwrap_or_default();
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    let d0 = s.delivered.load(Ordering::Relaxed);
    let sent0 = s.sent.load(Ordering::Relaxed);
    tokio::time::sleep_until(end).await;
    let srv1 = server.stats().unwrap_or_default();
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();
    let d1 = s.delivered.load(Ordering::Relaxed);
    let sent1 = s.sent.load(Ordering::Relaxed);
    // Let what is on its way arrive (5 s at most).
    let drain_start = Instant::now();
    let complete = tokio::time::timeout(Duration::from_secs(5), async {
        while !lock(&s.pending).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    let drain_secs = drain_start.elapsed().as_secs_f64();
    let alive = server.alive();
    let after = server.stats().unwrap_or_default();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    let _ = sampler.await;

    let secs = p.duration.as_secs_f64();
    let incomplete = lock(&s.pending).len();
    let each = lock(&s.each).clone();
    let last = lock(&s.last).clone();
    let sent_rate = (sent1 - sent0) as f64 / secs;
    let delivery_rate = (d1 - d0) as f64 / secs;
    let asked = connected as f64 / p.period.as_secs_f64();
    let cpu = CpuSplit::between(
        [srv0.cpu_secs, srv1.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let (server_cpu, loadgen_cpu, other_cpu) = (cpu.server, cpu.loadgen, cpu.other);
    let lost = s.lost.load(Ordering::Relaxed);
    let errors = s.errors.load(Ordering::Relaxed);
    let expected = s.expected_measured.load(Ordering::Relaxed);
    let delivered_m = s.delivered_measured.load(Ordering::Relaxed);
    let peak = rss_peak.load(Ordering::Relaxed).max(after.rss_bytes);
    let late = s.late_ticks.load(Ordering::Relaxed);
    let us = |ns: u64| ns as f64 / 1000.0;
    // Sustained: the messages went out on schedule, the deliveries kept pace with them
    // during the window (no backlog building up), and every one reached its room.
    let expected_rate = expected as f64 / secs;
    let sustained = complete && sent_rate >= 0.95 * asked && delivery_rate >= 0.95 * expected_rate;

    let mut summary = format!(
        "chat: {connected} clients, rooms of {room_size}, {asked:.0} msgs/s asked: {sent_rate:.0} sent/s, {delivery_rate:.0} deliveries/s over {secs:.1}s (late sends {late})\n"
    );
    summary += &format!(
        "  send -> last member of the room: {}\n  send -> each delivery: {}\n",
        hist_line(&last),
        hist_line(&each)
    );
    summary += &format!(
        "  measured messages {} ({} incomplete after a {drain_secs:.2}s drain), deliveries {delivered_m}/{expected}; sustained {sustained}\n",
        s.sent_measured.load(Ordering::Relaxed),
        incomplete
    );
    summary += &format!(
        "  server RSS {:.1} MiB before, peak {:.1} MiB; server CPU {server_cpu:.2}s ({:.0}%), loadgen CPU {loadgen_cpu:.2}s ({:.0}%), other CPU {other_cpu:.2}s\n",
        mib(base.rss_bytes),
        mib(peak),
        100.0 * server_cpu / secs,
        100.0 * loadgen_cpu / secs
    );
    summary += &format!("  lost {lost}, errors {errors}, server alive {alive}");
    let mut json = json!({
        "scenario": "chat",
        "clients": p.clients,
        "connected": connected,
        "connect_failures": opened.failures.to_json(),
        "connect_secs": opened.took.as_secs_f64(),
        "room_size": room_size,
        "rooms": rooms,
        "period_secs": p.period.as_secs_f64(),
        "via_emit": p.via_emit,
        "duration_secs": secs,
        "warmup_secs": p.warmup.as_secs_f64(),
        "messages_per_sec_asked": asked,
        "messages_per_sec": sent_rate,
        "deliveries_per_sec": delivery_rate,
        "late_sends": late,
        "sent_measured": s.sent_measured.load(Ordering::Relaxed),
        "expected_deliveries": expected,
        "delivered": delivered_m,
        "incomplete_messages": incomplete,
        "all_delivered": incomplete == 0,
        "sustained": sustained,
        "drain_secs": drain_secs,
        "latency_last": hist_json(&last),
        "latency_each": hist_json(&each),
        "latency_p50_us": us(last.value_at_quantile(0.5)),
        "latency_p99_us": us(last.value_at_quantile(0.99)),
        "server_rss_base": base.rss_bytes,
        "server_rss_peak": peak,
        "server_rss": after.rss_bytes,
        "receivers_lost": lost,
        "errors": errors,
        "pings_answered": s.pings.load(Ordering::Relaxed),
        "server_alive": alive,
    });
    cpu.add_to(&mut json, secs);
    Ok(Outcome {
        summary,
        json,
        ok: alive && lost == 0 && errors == 0 && connected == p.clients,
    })
}
