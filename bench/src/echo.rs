//! `echo`: closed-loop request/ack round trips.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{ack_id, open_many, payload_string, Target, Template, Ws, PONG};
use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

#[derive(Debug, Default)]
struct ClientReport {
    samples: Vec<u64>,
    count: u64,
    error: Option<String>,
}

/// With `interval`, the client sends on a fixed schedule (one event every `interval`,
/// starting at `start`; a late event is sent at once) instead of right after each ack.
async fn client(
    mut ws: Ws,
    template: Arc<Template>,
    start: tokio::time::Instant,
    measure_from: tokio::time::Instant,
    end: tokio::time::Instant,
    interval: Option<Duration>,
) -> ClientReport {
    let mut report = ClientReport::default();
    tokio::time::sleep_until(start).await;
    let mut id = 0u64;
    'outer: while tokio::time::Instant::now() < end {
        if let Some(every) = interval {
            let at = start + every.mul_f64(id as f64);
            if at >= end {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        let t0 = Instant::now();
        if let Err(e) = ws.send(template.with_id(id)).await {
            report.error = Some(format!("send: {e}"));
            break;
        }
        loop {
            // Give an answer in flight at `end` a few seconds to arrive.
            let wait = tokio::time::timeout_at(end + Duration::from_secs(5), ws.next()).await;
            match wait {
                Err(_) => {
                    report.error = Some(format!("no ack for id {id}"));
                    break 'outer;
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    if let Some(got) = ack_id(t.as_str()) {
                        if got != id {
                            report.error = Some(format!("ack id {got}, expected {id}"));
                            break 'outer;
                        }
                        break;
                    } else if t.as_str() == "2" {
                        if let Err(e) = ws.send(Message::Text(PONG)).await {
                            report.error = Some(format!("pong: {e}"));
                            break 'outer;
                        }
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(other) => {
                    report.error = Some(format!("connection lost: {other:?}"));
                    break 'outer;
                }
            }
        }
        let now = tokio::time::Instant::now();
        if now >= measure_from && now <= end {
            report.samples.push(t0.elapsed().as_nanos() as u64);
            report.count += 1;
        }
        id += 1;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    report
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    server: &mut ServerProc,
    target: Arc<Target>,
    clients: usize,
    duration: Duration,
    warmup: Duration,
    size: usize,
    event: &str,
    rate: Option<f64>,
    concurrency: usize,
) -> Result<Outcome, String> {
    let opened = open_many(&target, clients, concurrency, None, 0).await;
    let connected = opened.conns.len();
    if connected == 0 {
        return Err(format!(
            "no connection succeeded: {}",
            opened.failures.to_json()
        ));
    }
    eprintln!(
        "echo: {connected} clients connected in {:.2}s; warm-up {:.1}s, measuring {:.1}s",
        opened.took.as_secs_f64(),
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );
    let template = Arc::new(Template::new(
        "42",
        format!(
            "[{},{}]",
            serde_json::Value::from(event),
            payload_string(size)
        ),
    ));
    let start = tokio::time::Instant::now() + Duration::from_millis(300);
    let measure_from = start + warmup;
    let end = measure_from + duration;
    // --rate R: every client sends R / N events per second, the clients' schedules
    // spread evenly over one interval.
    let rate_asked = rate;
    let interval = rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(connected as f64 / r));
    let mut tasks = Vec::with_capacity(connected);
    for (i, ws) in opened.conns.into_iter().enumerate() {
        let offset = interval.map_or(Duration::ZERO, |every| {
            every.mul_f64(i as f64 / connected as f64)
        });
        tasks.push(tokio::spawn(client(
            ws,
            Arc::clone(&template),
            start + offset,
            measure_from,
            end,
            interval,
        )));
    }
    tokio::time::sleep_until(measure_from).await;
    let srv0 = server.stats().unwrap_or_default();
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    tokio::time::sleep_until(end).await;
    let srv1 = server.stats().unwrap_or_default();
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();

    let mut hist = new_hist();
    let mut count = 0u64;
    let mut errors: Vec<String> = Vec::new();
    let mut failed_clients = 0;
    let mut per_client: Vec<u64> = Vec::with_capacity(connected);
    for task in tasks {
        match task.await {
            Ok(r) => {
                count += r.count;
                per_client.push(r.count);
                for ns in r.samples {
                    let _ = hist.record(ns.max(1));
                }
                if let Some(e) = r.error {
                    failed_clients += 1;
                    if errors.len() < 5 {
                        errors.push(e);
                    }
                }
            }
            Err(e) => {
                failed_clients += 1;
                errors.push(format!("task: {e}"));
            }
        }
    }
    let alive = server.alive();
    per_client.sort_unstable();
    let pick = |q: f64| -> u64 {
        per_client
            .get(((per_client.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    let fairness = json!({"min": pick(0.0), "p1": pick(0.01), "p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)});
    let secs = duration.as_secs_f64();
    let rate = count as f64 / secs;
    let cpu = CpuSplit::between(
        [srv0.cpu_secs, srv1.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let (server_cpu, loadgen_cpu, other_cpu, softirq, steal) =
        (cpu.server, cpu.loadgen, cpu.other, cpu.softirq, cpu.steal);
    let us = |ns: u64| ns as f64 / 1000.0;
    let mut summary = format!(
        "echo: {connected}/{clients} clients, event {event:?}, {secs:.1}s: {count} round trips = {rate:.0} events/s\n"
    );
    summary += &format!("  latency: {}\n", hist_line(&hist));
    if connected > 1 {
        summary += &format!(
            "  round trips per client: min {}, p1 {}, median {}, p99 {}, max {}\n",
            pick(0.0),
            pick(0.01),
            pick(0.5),
            pick(0.99),
            pick(1.0)
        );
    }
    summary += &format!(
        "  server CPU {server_cpu:.2}s ({:.0}% of one core), loadgen CPU {loadgen_cpu:.2}s ({:.0}%), other CPU {other_cpu:.2}s (other processes + kernel, of which softirq {softirq:.2}s; steal {steal:.2}s), server RSS {:.1} MiB\n",
        100.0 * server_cpu / secs,
        100.0 * loadgen_cpu / secs,
        mib(srv1.rss_bytes)
    );
    if count == 0 {
        errors.push("no round trip completed in the measured window".to_owned());
    }
    summary += &format!("  failed clients {failed_clients} {errors:?}, server alive {alive}");
    let mut json = json!({
        "scenario": "echo",
        "event": event,
        "rate_asked": rate_asked,
        "clients": clients,
        "connected": connected,
        "connect_failures": opened.failures.to_json(),
        "payload_size": size,
        "duration_secs": secs,
        "warmup_secs": warmup.as_secs_f64(),
        "round_trips": count,
        "round_trips_per_client": fairness,
        "events_per_sec": rate,
        "latency": hist_json(&hist),
        "latency_p50_us": us(hist.value_at_quantile(0.5)),
        "latency_p99_us": us(hist.value_at_quantile(0.99)),
        "latency_p999_us": us(hist.value_at_quantile(0.999)),
        "server_rss": srv1.rss_bytes,
        "failed_clients": failed_clients,
        "errors": errors,
        "server_alive": alive,
    });
    cpu.add_to(&mut json, secs);
    Ok(Outcome {
        summary,
        json,
        ok: failed_clients == 0 && alive && connected == clients && count > 0,
    })
}
