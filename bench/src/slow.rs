//! `slow`: slow consumers. N members of room "r", P publishers emitting to it at a fixed
//! rate (open loop), and K of the members stop reading their socket altogether (their
//! WebSocket is not polled, so the kernel buffers fill and the server has to queue or
//! drop). Measures the healthy members' delivery latency (every message carries its send
//! time), deliveries/s, the server's RSS peak, and whether and when the server closed the
//! slow members' connections: the server-side socket of each slow member is watched in
//! /proc/net/tcp (it leaves ESTABLISHED when the server closes it, even though the client
//! reads nothing), and afterwards each slow member reads what is left to see how its
//! stream ended.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{open_many, other_frame, payload_string, Tally, Target, Ws, PONG};
use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

#[derive(Debug)]
pub struct Params {
    pub clients: usize,
    pub publishers: usize,
    pub slow: usize,
    /// Messages per second, all publishers together.
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub size: usize,
    /// Publishers skip a tick while the healthy members are this many messages behind
    /// on average (0: never skip).
    pub max_lag: u64,
    /// Ask the server for `disconnect_log` at the end (ferrosocket's test-server).
    pub disconnect_log: bool,
    pub concurrency: usize,
}

#[derive(Debug)]
struct Shared {
    epoch: Instant,
    /// Send times before this (ns since epoch) are warm-up, not recorded.
    record_from_ns: u64,
    delivered: AtomicU64,
    sent: AtomicU64,
    skipped: AtomicU64,
    healthy: u64,
    lost: AtomicU64,
    errors: AtomicU64,
    pings: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// The number after `42["<event>",` (spaces allowed), i.e. the first argument.
pub fn first_number_arg(text: &str, prefix: &str) -> Option<u64> {
    let rest = text.strip_prefix(prefix)?;
    // Servers that pass several arguments as one array (socketioxide) send `[t, ...]`.
    let rest = rest.trim_start_matches([',', ' ', '[']);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

async fn healthy(mut ws: Ws, mut stop: watch::Receiver<bool>, s: Arc<Shared>) -> Vec<u32> {
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                return samples;
            }
            m = ws.next() => {
                let taken = if let Some(Ok(Message::Text(t))) = &m {
                    let t = t.as_str();
                    if let Some(sent) = first_number_arg(t, "42[\"m\"") {
                        let now = s.now_ns();
                        s.delivered.fetch_add(1, Ordering::Relaxed);
                        if sent >= s.record_from_ns {
                            samples.push((now.saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32);
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
                    return samples;
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct SlowReport {
    /// Messages read once reading resumed.
    received: u64,
    /// How the stream ended once reading resumed (None: still open at the end).
    ended: Option<String>,
    /// Send time (ns since the epoch) of the newest message it got: the server stopped
    /// queueing for it shortly after.
    last_sent_ns: Option<u64>,
}

/// Holds the connection without reading it until `resume`, then reads what is left for
/// at most `drain`.
async fn slow_member(mut ws: Ws, mut resume: watch::Receiver<bool>, drain: Duration) -> SlowReport {
    let _ = resume.changed().await;
    let mut report = SlowReport::default();
    // Read until the stream ends, `drain` passes, or nothing came for a second (the
    // server neither sends nor closes: the connection is still open).
    let deadline = tokio::time::Instant::now() + drain;
    loop {
        let quiet = (tokio::time::Instant::now() + Duration::from_secs(1)).min(deadline);
        match tokio::time::timeout_at(quiet, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(t)))) => {
                let t = t.as_str();
                if let Some(sent) = first_number_arg(t, "42[\"m\"") {
                    report.received += 1;
                    report.last_sent_ns = report.last_sent_ns.max(Some(sent));
                } else if t == "2" {
                    let _ = ws.send(Message::Text(PONG)).await;
                } else if t.starts_with("41") {
                    report.ended = Some("socket.io DISCONNECT packet".into());
                    break;
                } else if t.starts_with('1') {
                    report.ended = Some("engine.io CLOSE packet".into());
                    break;
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                report.ended = Some(match frame {
                    Some(f) if !f.reason.is_empty() => {
                        format!("close frame {} {:?}", u16::from(f.code), f.reason.as_str())
                    }
                    Some(f) => format!("close frame {}", u16::from(f.code)),
                    None => "close frame".into(),
                });
                break;
            }
            Ok(None) => {
                report.ended = Some("TCP end of stream".into());
                break;
            }
            Ok(Some(Err(e))) => {
                report.ended = Some(format!("error: {e}"));
                break;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    report
}

/// Sends `42["emit",{"to":["r"],"event":"m","args":[<send time ns>,<payload>]}]` every
/// `interval` (open loop: late ticks are caught up), no acknowledgement asked.
#[allow(clippy::too_many_arguments)]
async fn publisher(
    mut ws: Ws,
    payload: Arc<String>,
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
                let sent = s.sent.load(Ordering::Relaxed);
                if max_lag > 0
                    && sent >= s.delivered.load(Ordering::Relaxed) / s.healthy.max(1) + max_lag
                {
                    s.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let frame = format!(
                    "42[\"emit\",{{\"to\":[\"r\"],\"event\":\"m\",\"args\":[{},{payload}]}}]",
                    s.now_ns()
                );
                if let Err(e) = ws.send(Message::text(frame)).await {
                    return (ws, Some(format!("send: {e}")));
                }
                s.sent.fetch_add(1, Ordering::Relaxed);
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

/// `/proc/net/tcp` notation of an IPv4 socket address (the kernel prints the address as
/// a native-endian integer and the port in host order).
fn proc_key(addr: SocketAddr) -> Option<String> {
    match addr {
        SocketAddr::V4(a) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(a.ip().octets()),
            a.port()
        )),
        SocketAddr::V6(_) => None,
    }
}

/// Server-side TCP states of the given peers: remote key -> state (hex, "01" established).
fn server_side_states(server_key: &str, wanted: &HashMap<String, usize>) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return out;
    };
    for line in table.lines().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(_), Some(local), Some(remote), Some(state)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if local != server_key {
            continue;
        }
        if let Some(&i) = wanted.get(remote) {
            out.insert(i, state.to_owned());
        }
    }
    out
}

#[derive(Debug, Default)]
struct Watch {
    rss_peak: u64,
    /// Per slow member: seconds after the start of publishing at which the server-side
    /// socket left ESTABLISHED (or disappeared), and the state it was seen in.
    closed_at: Vec<Option<(f64, String)>>,
    samples: u64,
}

#[allow(clippy::too_many_arguments)]
async fn watcher(
    pid_stats: impl Fn() -> Option<ProcStats>,
    server_key: Option<String>,
    slow_keys: HashMap<String, usize>,
    slow: usize,
    t0: Instant,
    mut stop: watch::Receiver<bool>,
    resumed: watch::Receiver<bool>,
    out: Arc<Mutex<Watch>>,
) {
    let mut seen = vec![false; slow];
    loop {
        // Once the slow members read again they close their connections themselves:
        // from then on only RSS is watched.
        let watching_sockets = !*resumed.borrow();
        if let Some(st) = pid_stats() {
            let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
            w.rss_peak = w.rss_peak.max(st.rss_bytes);
            w.samples += 1;
        }
        if let (Some(key), true) = (&server_key, watching_sockets) {
            if !slow_keys.is_empty() {
                let states = server_side_states(key, &slow_keys);
                let now = t0.elapsed().as_secs_f64();
                let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
                w.closed_at.resize(slow, None);
                for (i, seen_i) in seen.iter_mut().enumerate() {
                    let state = states.get(&i);
                    if state.is_some_and(|s| s == "01") {
                        *seen_i = true;
                    } else if w.closed_at[i].is_none() {
                        match state {
                            Some(s) => w.closed_at[i] = Some((now, tcp_state_name(s).to_owned())),
                            None if *seen_i => w.closed_at[i] = Some((now, "gone".to_owned())),
                            None => {}
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

fn tcp_state_name(hex: &str) -> &'static str {
    match hex {
        "01" => "ESTABLISHED",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0B" => "CLOSING",
        _ => "other",
    }
}

/// Asks ferrosocket's test-server for `disconnect_log`: reason -> count.
async fn disconnect_reasons(
    target: &Target,
    index: usize,
) -> Result<BTreeMap<String, u64>, String> {
    let mut ws = target.connect(index).await?;
    ws.send(Message::text("4299[\"disconnect_log\"]"))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let answer = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with("4399") => return Ok(t),
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    let _ = ws.send(Message::Text(PONG)).await;
                }
                Some(Ok(_)) => {}
                other => return Err(format!("no answer: {other:?}")),
            }
        }
    })
    .await
    .map_err(|_| "disconnect_log: no answer within 3 s".to_owned())??;
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    let v: Value = serde_json::from_str(&answer.as_str()[4..]).map_err(|e| format!("json: {e}"))?;
    let mut out = BTreeMap::new();
    if let Some(list) = v.get(0).and_then(Value::as_array) {
        for d in list {
            if let Some(r) = d.get("reason").and_then(Value::as_str) {
                *out.entry(r.to_owned()).or_default() += 1;
            }
        }
    }
    Ok(out)
}

pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    p: Params,
) -> Result<Outcome, String> {
    let publishers = p.publishers.max(1);
    let opened = open_many(&target, p.clients, p.concurrency, Some("r"), 0).await;
    let members = opened.conns.len();
    if members == 0 {
        return Err(format!(
            "no member connected: {}",
            opened.failures.to_json()
        ));
    }
    let pubs = open_many(&target, publishers, p.concurrency, None, p.clients).await;
    if pubs.conns.len() != publishers {
        return Err(format!(
            "publishers failed to connect: {}",
            pubs.failures.to_json()
        ));
    }
    let slow = p.slow.min(members);
    // Slow members spread evenly over the room.
    let slow_idx: Vec<usize> = (0..slow).map(|i| i * members / slow.max(1)).collect();
    let healthy_n = members - slow;
    eprintln!(
        "slow: {members} members in room r ({slow} will not read), {publishers} publishers, {:.0} msgs/s for {:.1}s (+{:.1}s warm-up)",
        p.rate,
        p.duration.as_secs_f64(),
        p.warmup.as_secs_f64()
    );
    let epoch = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let record_from_ns = (start.into_std() + p.warmup)
        .duration_since(epoch)
        .as_nanos() as u64;
    let shared = Arc::new(Shared {
        epoch,
        record_from_ns,
        delivered: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        healthy: healthy_n as u64,
        lost: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        pings: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (resume_tx, resume_rx) = watch::channel(false);
    let mut healthy_tasks = Vec::with_capacity(healthy_n);
    let mut slow_tasks = Vec::with_capacity(slow);
    let mut slow_keys = HashMap::new();
    for (i, ws) in opened.conns.into_iter().enumerate() {
        if let Ok(pos) = slow_idx.binary_search(&i) {
            if let Some(key) = ws.get_ref().local_addr().ok().and_then(proc_key) {
                slow_keys.insert(key, pos);
            }
            slow_tasks.push(tokio::spawn(slow_member(
                ws,
                resume_rx.clone(),
                Duration::from_secs(5),
            )));
        } else {
            healthy_tasks.push(tokio::spawn(healthy(
                ws,
                stop_rx.clone(),
                Arc::clone(&shared),
            )));
        }
    }
    let watch_out = Arc::new(Mutex::new(Watch::default()));
    let pid = server.pid;
    let watcher_task = tokio::spawn(watcher(
        move || {
            (pid != 0)
                .then(|| ProcStats::read(&format!("/proc/{pid}")))
                .flatten()
        },
        proc_key(target.addr),
        slow_keys,
        slow,
        start.into_std(),
        stop_rx.clone(),
        resume_rx.clone(),
        Arc::clone(&watch_out),
    ));

    tokio::time::sleep_until(start).await;
    let base = server.stats().unwrap_or_default();
    let end = start + p.warmup + p.duration;
    let per_pub_rate = (p.rate / publishers as f64).max(0.001);
    let interval = Duration::from_secs_f64(1.0 / per_pub_rate);
    let payload = Arc::new(payload_string(p.size));
    let mut pub_tasks = Vec::with_capacity(publishers);
    for (i, ws) in pubs.conns.into_iter().enumerate() {
        let first = start + interval.mul_f64(i as f64 / publishers as f64);
        pub_tasks.push(tokio::spawn(publisher(
            ws,
            Arc::clone(&payload),
            first,
            interval,
            end,
            p.max_lag,
            Arc::clone(&shared),
        )));
    }
    tokio::time::sleep_until(start + p.warmup).await;
    let srv0 = server.stats().unwrap_or_default();
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    let d0 = shared.delivered.load(Ordering::Relaxed);
    let sent0 = shared.sent.load(Ordering::Relaxed);
    tokio::time::sleep_until(end).await;
    let d1 = shared.delivered.load(Ordering::Relaxed);
    let sent1 = shared.sent.load(Ordering::Relaxed);
    let srv1 = server.stats().unwrap_or_default();
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();
    let mut pub_conns = Vec::new();
    let mut pub_errors = Vec::new();
    for t in pub_tasks {
        match t.await {
            Ok((ws, err)) => {
                pub_conns.push(ws);
                if let Some(e) = err {
                    pub_errors.push(e);
                }
            }
            Err(e) => pub_errors.push(format!("publisher task: {e}")),
        }
    }
    // Let the healthy members receive what is still on its way (10 s at most).
    let sent = shared.sent.load(Ordering::Relaxed);
    let drain_start = Instant::now();
    let all_delivered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let alive_healthy = (healthy_n as u64).saturating_sub(
                shared.lost.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed),
            );
            if shared.delivered.load(Ordering::Relaxed) >= sent * alive_healthy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    let drain_secs = drain_start.elapsed().as_secs_f64();
    let alive = server.alive();
    let after = server.stats().unwrap_or_default();

    // The slow members read again: how did their streams end?
    let _ = resume_tx.send(true);
    let mut slow_reports = Vec::with_capacity(slow);
    for t in slow_tasks {
        if let Ok(r) = t.await {
            slow_reports.push(r);
        }
    }
    let reasons = if p.disconnect_log {
        Some(disconnect_reasons(&target, p.clients + publishers).await)
    } else {
        None
    };
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), watcher_task).await;
    let mut samples: Vec<u32> = Vec::new();
    for t in healthy_tasks {
        if let Ok(v) = t.await {
            samples.extend(v);
        }
    }
    for mut ws in pub_conns {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }

    let mut hist = new_hist();
    for us in &samples {
        let _ = hist.record((u64::from(*us) * 1000).max(1));
    }
    let w = std::mem::take(&mut *watch_out.lock().unwrap_or_else(|p| p.into_inner()));
    let mut closed: Vec<(f64, String)> = w.closed_at.iter().flatten().cloned().collect();
    closed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ended: BTreeMap<String, u64> = BTreeMap::new();
    for r in &slow_reports {
        *ended
            .entry(r.ended.clone().unwrap_or_else(|| "still open".into()))
            .or_default() += 1;
    }
    let slow_dropped = slow_reports
        .iter()
        .filter(|r| r.ended.is_some())
        .count()
        .max(closed.len());
    let slow_received: Vec<u64> = slow_reports.iter().map(|r| r.received).collect();
    // For the slow members whose stream the server ended: when the newest message they
    // got was sent, in seconds after the start of publishing.
    let start_ns = start.into_std().duration_since(epoch).as_nanos() as u64;
    let mut last_secs: Vec<f64> = slow_reports
        .iter()
        .filter(|r| r.ended.is_some())
        .map(|r| {
            r.last_sent_ns
                .map_or(0.0, |t| t.saturating_sub(start_ns) as f64 / 1e9)
        })
        .collect();
    last_secs.sort_by(f64::total_cmp);
    let secs = p.duration.as_secs_f64();
    let measured_deliveries = d1 - d0;
    let rate = measured_deliveries as f64 / secs;
    let msgs_rate = (sent1 - sent0) as f64 / secs;
    let cpu = CpuSplit::between(
        [srv0.cpu_secs, srv1.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let (server_cpu, loadgen_cpu, other_cpu) = (cpu.server, cpu.loadgen, cpu.other);
    let lost = shared.lost.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let rss_peak = w.rss_peak.max(after.rss_bytes);
    let us = |ns: u64| ns as f64 / 1000.0;

    let mut summary = format!(
        "slow: {members} members ({slow} not reading), {publishers} publishers, {:.0} msgs/s asked, {msgs_rate:.0} sent/s, {} skipped (lag > {})\n",
        p.rate,
        shared.skipped.load(Ordering::Relaxed),
        p.max_lag
    );
    summary += &format!(
        "  healthy members: {rate:.0} deliveries/s over {secs:.1}s; delivered {delivered}/{} (all: {all_delivered}, drain {drain_secs:.2}s); latency {}\n",
        sent * healthy_n as u64,
        hist_line(&hist)
    );
    summary += &format!(
        "  server RSS base {:.1} MiB, peak {:.1} MiB, after {:.1} MiB; server CPU {server_cpu:.2}s ({:.0}%), loadgen CPU {loadgen_cpu:.2}s, other CPU {other_cpu:.2}s\n",
        mib(base.rss_bytes),
        mib(rss_peak),
        mib(after.rss_bytes),
        100.0 * server_cpu / secs
    );
    summary += &format!(
        "  slow members: server-side socket closed for {} (seen in /proc/net/tcp at {:?} s); streams ended: {ended:?}; messages read afterwards {slow_received:?}; newest message of an ended stream sent at {:?} s\n",
        closed.len(),
        closed.iter().map(|c| (c.0 * 100.0).round() / 100.0).collect::<Vec<_>>(),
        last_secs.iter().map(|c| (c * 100.0).round() / 100.0).collect::<Vec<_>>()
    );
    if let Some(r) = &reasons {
        summary += &format!("  server disconnect_log: {r:?}\n");
    }
    summary += &format!(
        "  healthy lost {lost}, errors {errors}, publisher errors {pub_errors:?}, server alive {alive}"
    );
    let ok = alive && lost == 0 && errors == 0 && pub_errors.is_empty() && all_delivered;
    let mut json = json!({
        "scenario": "slow",
        "clients": p.clients,
        "members": members,
        "connect_failures": opened.failures.to_json(),
        "slow": slow,
        "healthy": healthy_n,
        "publishers": publishers,
        "rate_asked": p.rate,
        "messages_per_sec": msgs_rate,
        "skipped_ticks": shared.skipped.load(Ordering::Relaxed),
        "max_lag": p.max_lag,
        "size": p.size,
        "duration_secs": secs,
        "warmup_secs": p.warmup.as_secs_f64(),
        "sent": sent,
        "expected_deliveries": sent * healthy_n as u64,
        "delivered": delivered,
        "all_delivered": all_delivered,
        "drain_secs": drain_secs,
        "deliveries_per_sec": rate,
        "latency": hist_json(&hist),
        "latency_p50_us": us(hist.value_at_quantile(0.5)),
        "latency_p99_us": us(hist.value_at_quantile(0.99)),
    });
    let mut more = json!({
        "server_rss_base": base.rss_bytes,
        "server_rss_peak": rss_peak,
        "server_rss_after": after.rss_bytes,
        "rss_samples": w.samples,
        "slow_closed_by_server": closed.len(),
        "slow_dropped": slow_dropped,
        "slow_closed_at_secs": closed.iter().map(|c| c.0).collect::<Vec<_>>(),
        "slow_closed_state": closed.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        "slow_stream_end": ended,
        "slow_received_after": slow_received,
        "slow_last_message_secs": last_secs,
        "slow_dropped_by_secs": last_secs.last().copied(),
        "server_disconnect_reasons": match &reasons {
            Some(Ok(r)) => json!(r),
            Some(Err(e)) => json!({"error": e}),
            None => Value::Null,
        },
        "receivers_lost": lost,
        "receiver_errors": errors,
        "publisher_errors": pub_errors,
        "pings_answered": shared.pings.load(Ordering::Relaxed),
        "server_alive": alive,
    });
    cpu.add_to(&mut more, secs);
    if let (Value::Object(a), Value::Object(b)) = (&mut json, more) {
        a.extend(b);
    }
    Ok(Outcome { summary, json, ok })
}
