//! `idle`: what an idle, connected Socket.IO client costs the server in memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{open_many, Target, Ws, PONG};
use crate::server::{mib, ProcStats, ServerProc};
use crate::Outcome;

#[derive(Debug, Default)]
struct Counters {
    pings: AtomicU64,
    other_frames: AtomicU64,
    server_closed: AtomicU64,
    errors: AtomicU64,
}

async fn idle_loop(mut ws: Ws, mut stop: watch::Receiver<bool>, c: Arc<Counters>) {
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                return;
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    c.pings.fetch_add(1, Ordering::Relaxed);
                    if ws.send(Message::Text(PONG)).await.is_err() {
                        c.errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                Some(Ok(Message::Text(t))) if t.starts_with('1') || t.starts_with("41") => {
                    c.server_closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Ok(Message::Close(_))) | None => {
                    c.server_closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Err(_)) => {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Ok(_)) => {
                    c.other_frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn stats(server: &ServerProc) -> ProcStats {
    server.stats().unwrap_or_default()
}

/// Polls RSS until two successive reads 500 ms apart differ by < 0.5 %, at most `max`.
async fn settle(server: &ServerProc, max: Duration) -> ProcStats {
    let deadline = Instant::now() + max;
    let mut last = stats(server);
    let mut calm = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stats(server);
        let delta = now.rss_bytes.abs_diff(last.rss_bytes) as f64;
        if delta <= last.rss_bytes as f64 * 0.005 {
            calm += 1;
            if calm >= 2 {
                return now;
            }
        } else {
            calm = 0;
        }
        last = now;
    }
    last
}

/// Closes every client (close frame), waiting at most 30 s.
async fn close_all(stop_tx: &watch::Sender<bool>, tasks: &mut tokio::task::JoinSet<()>) {
    let _ = stop_tx.send(true);
    let close_deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(close_deadline);
    loop {
        tokio::select! {
            joined = tasks.join_next() => if joined.is_none() { break },
            _ = &mut close_deadline => { tasks.abort_all(); break; }
        }
    }
}

/// One extra connect-all / close-all cycle: (RSS connected, RSS closed, connected).
async fn cycle(
    server: &ServerProc,
    target: &Arc<Target>,
    clients: usize,
    concurrency: usize,
) -> (u64, u64, usize) {
    let opened = open_many(target, clients, concurrency, None, 0).await;
    let connected = opened.conns.len();
    let (stop_tx, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut tasks = tokio::task::JoinSet::new();
    for ws in opened.conns {
        tasks.spawn(idle_loop(ws, stop_rx.clone(), Arc::clone(&counters)));
    }
    let loaded = settle(server, Duration::from_secs(10)).await;
    close_all(&stop_tx, &mut tasks).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let closed = settle(server, Duration::from_secs(10)).await;
    (loaded.rss_bytes, closed.rss_bytes, connected)
}

pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    clients: usize,
    hold: Duration,
    cycles: usize,
    sample_every: Option<Duration>,
    concurrency: usize,
) -> Result<Outcome, String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = stats(server);
    let self_base = ProcStats::current().unwrap_or_default();

    let opened = open_many(&target, clients, concurrency, None, 0).await;
    let connected = opened.conns.len();
    let connect_rate = opened.rate();
    let connect_secs = opened.took.as_secs_f64();
    let failures = opened.failures.total();
    let (stop_tx, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut tasks = tokio::task::JoinSet::new();
    for ws in opened.conns {
        tasks.spawn(idle_loop(ws, stop_rx.clone(), Arc::clone(&counters)));
    }
    if connected == 0 {
        return Err(format!(
            "no connection succeeded: {}",
            opened.failures.to_json()
        ));
    }

    let loaded = settle(server, Duration::from_secs(15)).await;
    let self_loaded = ProcStats::current().unwrap_or_default();
    eprintln!(
        "idle: {connected} connected in {connect_secs:.2}s, server RSS {:.1} MiB -> {:.1} MiB; holding {}s",
        mib(base.rss_bytes),
        mib(loaded.rss_bytes),
        hold.as_secs()
    );
    // Hold, watching that the server lives and the clients stay connected.
    // With --sample-every, RSS is also recorded during the hold (flatness over time).
    let hold_start = Instant::now();
    let hold_end = hold_start + hold;
    let mut alive = true;
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut next_sample = sample_every.map(|_| hold_start);
    while Instant::now() < hold_end {
        if let (Some(at), Some(every)) = (next_sample, sample_every) {
            if Instant::now() >= at {
                let s = stats(server);
                samples.push((hold_start.elapsed().as_secs_f64(), s.rss_bytes));
                next_sample = Some(at + every.max(Duration::from_millis(100)));
            }
        }
        let mut nap = hold_end
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        if let Some(at) = next_sample {
            nap = nap.min(at.saturating_duration_since(Instant::now()));
        }
        tokio::time::sleep(nap.max(Duration::from_millis(1))).await;
        if !server.alive() {
            alive = false;
            break;
        }
    }
    let held = stats(server);
    if sample_every.is_some() {
        samples.push((hold_start.elapsed().as_secs_f64(), held.rss_bytes));
    }
    let lost_during_hold =
        counters.server_closed.load(Ordering::Relaxed) + counters.errors.load(Ordering::Relaxed);

    // Disconnect everyone and see how much memory comes back.
    let close_start = Instant::now();
    close_all(&stop_tx, &mut tasks).await;
    let close_secs = close_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let closed = settle(server, Duration::from_secs(10)).await;
    // More cycles show whether what was not returned grows (a leak) or is reused.
    let mut rss_connected_by_cycle = vec![loaded.rss_bytes];
    let mut rss_closed_by_cycle = vec![closed.rss_bytes];
    for _ in 1..cycles {
        let (c, z, _) = cycle(server, &target, clients, concurrency).await;
        rss_connected_by_cycle.push(c);
        rss_closed_by_cycle.push(z);
    }

    let n = connected.max(1) as f64;
    let per_conn = (loaded.rss_bytes as f64 - base.rss_bytes as f64) / n;
    let per_conn_held = (held.rss_bytes as f64 - base.rss_bytes as f64) / n;
    let per_conn_anon = (loaded.rss_anon_bytes as f64 - base.rss_anon_bytes as f64) / n;
    let client_per_conn = (self_loaded.rss_bytes as f64 - self_base.rss_bytes as f64) / n;
    let pings = counters.pings.load(Ordering::Relaxed);

    let mut summary = String::new();
    summary += &format!("idle: {connected}/{clients} connected ({failures} failed) in {connect_secs:.2}s = {connect_rate:.0} conn/s\n");
    summary += &format!(
        "  server RSS: base {:.1} MiB, connected {:.1} MiB, after {}s hold {:.1} MiB, after all closed {:.1} MiB\n",
        mib(base.rss_bytes),
        mib(loaded.rss_bytes),
        hold.as_secs(),
        mib(held.rss_bytes),
        mib(closed.rss_bytes)
    );
    summary += &format!(
        "  per idle connection: {per_conn:.0} B ({:.2} KiB) after connect, {per_conn_held:.0} B after hold; anon {per_conn_anon:.0} B\n",
        per_conn / 1024.0
    );
    summary += &format!(
        "  server threads {}, server CPU {:.2}s total; pings answered {pings}, lost connections {lost_during_hold}, server alive {alive}\n",
        held.threads, held.cpu_secs
    );
    summary += &format!(
        "  closing {connected} clients took {close_secs:.2}s; RSS not returned after close: {:.1} MiB\n",
        mib(closed.rss_bytes.saturating_sub(base.rss_bytes))
    );
    if cycles > 1 {
        let show = |v: &[u64]| {
            v.iter()
                .map(|b| format!("{:.1}", mib(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        summary += &format!(
            "  {cycles} connect/close cycles, RSS MiB connected: [{}], closed: [{}]\n",
            show(&rss_connected_by_cycle),
            show(&rss_closed_by_cycle)
        );
    }
    if let (Some(min), Some(max)) = (
        samples.iter().map(|s| s.1).min(),
        samples.iter().map(|s| s.1).max(),
    ) {
        summary += &format!(
            "  RSS during the hold ({} samples): min {:.1} MiB, max {:.1} MiB, first {:.1} MiB, last {:.1} MiB\n",
            samples.len(),
            mib(min),
            mib(max),
            mib(samples.first().map_or(0, |s| s.1)),
            mib(samples.last().map_or(0, |s| s.1)),
        );
    }
    summary += &format!("  loadgen RSS per connection: {client_per_conn:.0} B");
    let json = json!({
        "scenario": "idle",
        "clients": clients,
        "connected": connected,
        "connect_failures": opened.failures.to_json(),
        "connect_secs": connect_secs,
        "connect_rate": connect_rate,
        "hold_secs": hold.as_secs_f64(),
        "server_rss_base": base.rss_bytes,
        "server_rss_connected": loaded.rss_bytes,
        "server_rss_after_hold": held.rss_bytes,
        "server_rss_after_close": closed.rss_bytes,
        "server_rss_anon_base": base.rss_anon_bytes,
        "server_rss_anon_connected": loaded.rss_anon_bytes,
        "rss_growth_total": loaded.rss_bytes as i64 - base.rss_bytes as i64,
        "rss_per_conn": per_conn,
        "rss_per_conn_after_hold": per_conn_held,
        "rss_anon_per_conn": per_conn_anon,
        "rss_not_returned_after_close": closed.rss_bytes as i64 - base.rss_bytes as i64,
        "server_threads": held.threads,
        "server_cpu_secs": held.cpu_secs,
        "pings_answered": pings,
        "lost_connections": lost_during_hold,
        "other_frames_received": counters.other_frames.load(Ordering::Relaxed),
        "server_alive": alive,
        "close_secs": close_secs,
        "cycles": cycles,
        "rss_connected_by_cycle": rss_connected_by_cycle,
        "rss_closed_by_cycle": rss_closed_by_cycle,
        "loadgen_rss_per_conn": client_per_conn,
        "rss_samples": samples.iter().map(|(t, r)| json!([t, r])).collect::<Vec<_>>(),
    });
    Ok(Outcome {
        summary,
        json,
        ok: alive && lost_during_hold == 0 && failures == 0,
    })
}
