//! `fanout`: room broadcast throughput and publish-to-last-member latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{open_many, other_frame, payload_string, Tally, Target, Template, Ws, PONG};
use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

#[derive(Debug)]
struct Shared {
    m_count: AtomicU64,
    m_target: u64,
    m_last: Mutex<Option<Instant>>,
    m_done: Notify,
    l_count: AtomicU64,
    l_target: u64,
    l_first: Mutex<Option<Instant>>,
    l_last: Mutex<Option<Instant>>,
    l_done: Notify,
    pings: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU64,
    /// Emits sent by all publishers in the throughput phase.
    sent: AtomicU64,
    /// Signalled each time another `members` deliveries have arrived.
    progress: Notify,
}

fn set(slot: &Mutex<Option<Instant>>, t: Instant) {
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
}

fn get(slot: &Mutex<Option<Instant>>) -> Option<Instant> {
    *slot.lock().unwrap_or_else(|p| p.into_inner())
}

async fn receiver(mut ws: Ws, mut stop: watch::Receiver<bool>, s: Arc<Shared>) {
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
                        let c = s.m_count.fetch_add(1, Ordering::Relaxed) + 1;
                        if c % s.l_target.max(1) == 0 {
                            s.progress.notify_waiters();
                        }
                        if c == s.m_target {
                            set(&s.m_last, Instant::now());
                            s.m_done.notify_one();
                        }
                        true
                    } else if t.starts_with("42[\"l\"") {
                        let now = Instant::now();
                        let c = s.l_count.fetch_add(1, Ordering::AcqRel) + 1;
                        if c == 1 {
                            set(&s.l_first, now);
                        }
                        if c == s.l_target {
                            set(&s.l_last, now);
                            s.l_done.notify_one();
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

#[derive(Debug, Default)]
struct PubReport {
    acked: u64,
    error: Option<String>,
    done_at: Option<Instant>,
}

/// Sends `count` emits with at most `window` unacknowledged, starting at `start`. With
/// `max_lag` > 0, no emit is sent while the receivers as a whole are more than `max_lag`
/// messages behind everything published (deliveries / members), so a burst cannot
/// outrun the members by more than that.
#[allow(clippy::too_many_arguments)]
async fn publisher(
    mut ws: Ws,
    template: Arc<Template>,
    count: u64,
    window: u64,
    max_lag: u64,
    s: Arc<Shared>,
    start: tokio::time::Instant,
    deadline: tokio::time::Instant,
) -> (Ws, PubReport) {
    tokio::time::sleep_until(start).await;
    let mut report = PubReport::default();
    let (mut sent, mut inflight) = (0u64, 0u64);
    let lagging = |s: &Shared| {
        max_lag > 0
            && s.sent.load(Ordering::Relaxed)
                >= s.m_count.load(Ordering::Relaxed) / s.l_target.max(1) + max_lag
    };
    loop {
        let progress = s.progress.notified();
        tokio::pin!(progress);
        progress.as_mut().enable();
        let mut fed = false;
        let mut held_back = false;
        while inflight < window && sent < count {
            if lagging(&s) {
                held_back = true;
                break;
            }
            if let Err(e) = ws.feed(template.with_id(sent)).await {
                report.error = Some(format!("send: {e}"));
                return (ws, report);
            }
            s.sent.fetch_add(1, Ordering::Relaxed);
            sent += 1;
            inflight += 1;
            fed = true;
        }
        if fed {
            if let Err(e) = ws.flush().await {
                report.error = Some(format!("flush: {e}"));
                return (ws, report);
            }
        }
        if report.acked == count {
            report.done_at = Some(Instant::now());
            return (ws, report);
        }
        let next = tokio::select! {
            _ = &mut progress, if held_back => continue,
            next = tokio::time::timeout_at(deadline, ws.next()) => next,
        };
        match next {
            Err(_) => {
                report.error = Some(format!(
                    "timeout with {inflight} acks outstanding, {sent}/{count} sent"
                ));
                return (ws, report);
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.starts_with("43") {
                    report.acked += 1;
                    inflight = inflight.saturating_sub(1);
                } else if t.as_str() == "2" {
                    if let Err(e) = ws.send(Message::Text(PONG)).await {
                        report.error = Some(format!("pong: {e}"));
                        return (ws, report);
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => {
                report.error = Some(format!("publisher connection lost: {other:?}"));
                return (ws, report);
            }
        }
    }
}

#[derive(Debug)]
pub struct Params {
    pub clients: usize,
    pub messages: u64,
    pub publishers: usize,
    pub size: usize,
    pub window: u64,
    pub max_lag: u64,
    pub latency_messages: u64,
    pub timeout: Duration,
    pub concurrency: usize,
}

pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    p: Params,
) -> Result<Outcome, String> {
    let publishers = p.publishers.max(1);
    let opened = open_many(&target, p.clients, p.concurrency, Some("r"), 0).await;
    let receivers = opened.conns.len();
    let connect_failures = opened.failures.to_json();
    if receivers == 0 {
        return Err(format!("no receiver connected: {connect_failures}"));
    }
    let pubs = open_many(&target, publishers, p.concurrency, None, p.clients).await;
    if pubs.conns.len() != publishers {
        return Err(format!(
            "publishers failed to connect: {}",
            pubs.failures.to_json()
        ));
    }
    eprintln!(
        "fanout: {receivers} receivers joined room r in {:.2}s, {publishers} publishers",
        opened.took.as_secs_f64()
    );
    let payload = payload_string(p.size);
    let per_pub: Vec<u64> = (0..publishers as u64)
        .map(|i| p.messages / publishers as u64 + u64::from(i < p.messages % publishers as u64))
        .collect();
    let shared = Arc::new(Shared {
        m_count: AtomicU64::new(0),
        m_target: receivers as u64 * p.messages,
        m_last: Mutex::new(None),
        m_done: Notify::new(),
        l_count: AtomicU64::new(0),
        l_target: receivers as u64,
        l_first: Mutex::new(None),
        l_last: Mutex::new(None),
        l_done: Notify::new(),
        pings: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        progress: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receiver_tasks = tokio::task::JoinSet::new();
    for ws in opened.conns {
        receiver_tasks.spawn(receiver(ws, stop_rx.clone(), Arc::clone(&shared)));
    }
    // Let the welcome events and join acks drain.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Throughput phase: all publishers at once, pipelined.
    let template = Arc::new(Template::new(
        "42",
        format!("[\"emit\",{{\"to\":[\"r\"],\"event\":\"m\",\"args\":[{payload}]}}]"),
    ));
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let deadline = start + p.timeout;
    let mut pub_tasks = Vec::new();
    for (ws, count) in pubs.conns.into_iter().zip(per_pub.iter().copied()) {
        pub_tasks.push(tokio::spawn(publisher(
            ws,
            Arc::clone(&template),
            count,
            p.window,
            p.max_lag,
            Arc::clone(&shared),
            start,
            deadline,
        )));
    }
    tokio::time::sleep_until(start).await;
    let t0 = Instant::now();
    let srv0 = server.stats().unwrap_or_default();
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    let mut pub_conns = Vec::new();
    let mut pub_errors = Vec::new();
    let mut acked = 0;
    let mut publish_done = t0;
    for task in pub_tasks {
        match task.await {
            Ok((ws, report)) => {
                acked += report.acked;
                if let Some(e) = report.error {
                    pub_errors.push(e);
                }
                if let Some(at) = report.done_at {
                    publish_done = publish_done.max(at);
                }
                pub_conns.push(ws);
            }
            Err(e) => pub_errors.push(format!("publisher task: {e}")),
        }
    }
    // Wait for every delivery; once a receiver is lost the target cannot be reached, so
    // stop as soon as nothing has arrived for 2 s instead of waiting for the deadline.
    let all_delivered = tokio::time::timeout_at(deadline, async {
        let mut last = (shared.m_count.load(Ordering::Relaxed), Instant::now());
        loop {
            let now = shared.m_count.load(Ordering::Relaxed);
            if now >= shared.m_target {
                return true;
            }
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(2)
                && shared.lost.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed) > 0
            {
                return false;
            }
            tokio::select! {
                _ = shared.m_done.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    })
    .await
    .unwrap_or(false);
    let t_end = get(&shared.m_last)
        .filter(|_| all_delivered)
        .unwrap_or_else(Instant::now);
    let srv1 = server.stats().unwrap_or_default();
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();
    let delivered = shared.m_count.load(Ordering::Relaxed);
    let secs = t_end.duration_since(t0).as_secs_f64().max(1e-9);
    let rate = delivered as f64 / secs;
    let publish_secs = publish_done.duration_since(t0).as_secs_f64();
    let cpu = CpuSplit::between(
        [srv0.cpu_secs, srv1.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let (server_cpu, loadgen_cpu, other_cpu, softirq, steal) =
        (cpu.server, cpu.loadgen, cpu.other, cpu.softirq, cpu.steal);

    // Latency phase (single publisher): one message at a time, time until the last
    // member has it.
    let mut last_hist = new_hist();
    let mut first_hist = new_hist();
    let mut latency_error = None;
    let do_latency =
        publishers == 1 && p.latency_messages > 0 && all_delivered && pub_errors.is_empty();
    if do_latency {
        if let Some(ws) = pub_conns.first_mut() {
            let l_template = Template::new(
                "42",
                format!("[\"emit\",{{\"to\":[\"r\"],\"event\":\"l\",\"args\":[{payload}]}}]"),
            );
            for i in 0..p.latency_messages {
                match latency_round(ws, &l_template, 1_000_000 + i, &shared, p.timeout).await {
                    Ok((first, last)) => {
                        let _ = first_hist.record(first.as_nanos() as u64);
                        let _ = last_hist.record(last.as_nanos() as u64);
                    }
                    Err(e) => {
                        latency_error = Some(e);
                        break;
                    }
                }
            }
        }
    }
    let srv2 = server.stats().unwrap_or_default();

    let lost = shared.lost.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let alive = server.alive();
    let _ = stop_tx.send(true);
    for mut ws in pub_conns {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while receiver_tasks.join_next().await.is_some() {}
    })
    .await;
    receiver_tasks.abort_all();

    let mut summary = format!(
        "fanout: {receivers} receivers, {publishers} publisher(s), {} messages of {} B, window {}, max lag {}\n",
        p.messages, p.size, p.window, p.max_lag
    );
    summary += &format!(
        "  delivered {delivered}/{} frames in {secs:.3}s = {rate:.0} deliveries/s ({:.0} msgs/s published, publish phase {publish_secs:.3}s)\n",
        shared.m_target,
        p.messages as f64 / secs,
    );
    summary += &format!(
        "  server CPU {server_cpu:.2}s ({:.0}% of one core), loadgen CPU {loadgen_cpu:.2}s ({:.0}%), other CPU {other_cpu:.2}s (other processes + kernel, of which softirq {softirq:.2}s; steal {steal:.2}s), server RSS {:.1} MiB\n",
        100.0 * server_cpu / secs,
        100.0 * loadgen_cpu / secs,
        mib(srv2.rss_bytes)
    );
    if do_latency {
        summary += &format!(
            "  publish -> last member ({} msgs, one at a time): {}\n",
            last_hist.len(),
            hist_line(&last_hist)
        );
        summary += &format!("  publish -> first member: {}\n", hist_line(&first_hist));
    }
    summary += &format!(
        "  acks {acked}/{}, receivers lost {lost}, receiver errors {errors}, publisher errors {:?}, server alive {alive}",
        p.messages, pub_errors
    );
    if let Some(e) = &latency_error {
        summary += &format!("\n  latency phase error: {e}");
    }
    let ok = all_delivered
        && lost == 0
        && errors == 0
        && pub_errors.is_empty()
        && alive
        && latency_error.is_none();
    let mut json = json!({
        "scenario": "fanout",
        "clients": p.clients,
        "receivers": receivers,
        "connect_failures": connect_failures,
        "publishers": publishers,
        "messages": p.messages,
        "size": p.size,
        "window": p.window,
        "max_lag": p.max_lag,
        "expected_deliveries": shared.m_target,
        "delivered": delivered,
        "all_delivered": all_delivered,
        "secs": secs,
        "deliveries_per_sec": rate,
        "messages_per_sec": p.messages as f64 / secs,
        "publish_secs": publish_secs,
        "acks": acked,
        "server_cpu_secs_total": srv2.cpu_secs,
        "server_rss": srv2.rss_bytes,
        "latency_last": if do_latency { hist_json(&last_hist) } else { serde_json::Value::Null },
        "latency_first": if do_latency { hist_json(&first_hist) } else { serde_json::Value::Null },
        "latency_error": latency_error,
        "receivers_lost": lost,
        "receiver_errors": errors,
        "publisher_errors": pub_errors,
        "pings_answered": shared.pings.load(Ordering::Relaxed),
        "server_alive": alive,
    });
    cpu.add_to(&mut json, secs);
    Ok(Outcome { summary, json, ok })
}

/// One latency sample: send, then wait for every receiver (and the ack).
async fn latency_round(
    ws: &mut Ws,
    template: &Template,
    id: u64,
    s: &Shared,
    timeout: Duration,
) -> Result<(Duration, Duration), String> {
    s.l_count.store(0, Ordering::Release);
    *s.l_first.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let t0 = Instant::now();
    ws.send(template.with_id(id))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut acked = false;
    let mut delivered = false;
    while !(acked && delivered) {
        tokio::select! {
            _ = s.l_done.notified(), if !delivered => {
                delivered = s.l_count.load(Ordering::Acquire) >= s.l_target;
            }
            m = ws.next(), if !acked => match m {
                Some(Ok(Message::Text(t))) if t.starts_with("43") => acked = true,
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    ws.send(Message::Text(PONG)).await.map_err(|e| format!("pong: {e}"))?;
                }
                Some(Ok(_)) => {}
                other => return Err(format!("publisher connection lost: {other:?}")),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!(
                    "timeout: {}/{} receivers got message {id}",
                    s.l_count.load(Ordering::Relaxed), s.l_target
                ));
            }
        }
    }
    let first = get(&s.l_first).map_or(Duration::ZERO, |t| t.duration_since(t0));
    let last = get(&s.l_last).map_or(Duration::ZERO, |t| t.duration_since(t0));
    Ok((first, last))
}
