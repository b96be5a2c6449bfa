//! `storm`: a connect storm. N clients, C handshakes in flight at once, each the full
//! Socket.IO handshake (TCP, WebSocket upgrade, Engine.IO open, namespace CONNECT and its
//! acknowledgement). Reports connections/s, failures and handshake latency; then closes
//! every client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::conn::{Failures, Target, Ws};
use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    clients: usize,
    concurrency: usize,
) -> Result<Outcome, String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = server.stats().unwrap_or_default();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let failures = Arc::new(Failures::default());
    let srv0 = server.stats().unwrap_or_default();
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    let start = Instant::now();
    let mut handles = Vec::with_capacity(clients);
    for i in 0..clients {
        let target = Arc::clone(&target);
        let permits = Arc::clone(&permits);
        let failures = Arc::clone(&failures);
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.ok()?;
            let t0 = Instant::now();
            match target.connect(i).await {
                Ok(ws) => Some((ws, t0.elapsed(), Instant::now())),
                Err(e) => {
                    failures.add(e);
                    None
                }
            }
        }));
    }
    let mut conns: Vec<Ws> = Vec::with_capacity(clients);
    let mut hist = new_hist();
    let mut last_done = start;
    for handle in handles {
        if let Ok(Some((ws, took, done))) = handle.await {
            let _ = hist.record((took.as_nanos() as u64).max(1));
            last_done = last_done.max(done);
            conns.push(ws);
        }
    }
    let secs = last_done.duration_since(start).as_secs_f64().max(1e-9);
    let srv1 = server.stats().unwrap_or_default();
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();
    let connected = conns.len();
    let failed = failures.total();
    let rate = connected as f64 / secs;
    let cpu = CpuSplit::between(
        [srv0.cpu_secs, srv1.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let (server_cpu, loadgen_cpu, other_cpu, softirq, steal) =
        (cpu.server, cpu.loadgen, cpu.other, cpu.softirq, cpu.steal);
    let alive_connected = server.alive();

    // Close every client (close frames, concurrently), bounded in time.
    let close_start = Instant::now();
    let mut closing = tokio::task::JoinSet::new();
    for mut ws in conns {
        closing.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while closing.join_next().await.is_some() {}
    })
    .await;
    closing.abort_all();
    let close_secs = close_start.elapsed().as_secs_f64();
    let alive = alive_connected && server.alive();

    let us = |ns: u64| ns as f64 / 1000.0;
    let mut summary = format!(
        "storm: {connected}/{clients} connected ({failed} failed), {concurrency} connectors, in {secs:.2}s = {rate:.0} connections/s\n"
    );
    summary += &format!("  handshake latency: {}\n", hist_line(&hist));
    summary += &format!(
        "  server CPU {server_cpu:.2}s ({:.0}% of one core), loadgen CPU {loadgen_cpu:.2}s, other CPU {other_cpu:.2}s (softirq {softirq:.2}s, steal {steal:.2}s); server RSS {:.1} MiB -> {:.1} MiB\n",
        100.0 * server_cpu / secs,
        mib(base.rss_bytes),
        mib(srv1.rss_bytes)
    );
    summary += &format!("  closing took {close_secs:.2}s, server alive {alive}");
    let mut json = json!({
        "scenario": "storm",
        "clients": clients,
        "concurrency": concurrency,
        "connected": connected,
        "connect_failures": failures.to_json(),
        "failures": failed,
        "secs": secs,
        "connections_per_sec": rate,
        "handshake": hist_json(&hist),
        "handshake_p50_us": us(hist.value_at_quantile(0.5)),
        "handshake_p99_us": us(hist.value_at_quantile(0.99)),
        "server_rss_base": base.rss_bytes,
        "server_rss": srv1.rss_bytes,
        "close_secs": close_secs,
        "server_alive": alive,
    });
    cpu.add_to(&mut json, secs);
    Ok(Outcome {
        summary,
        json,
        ok: failed == 0 && alive && connected == clients,
    })
}
