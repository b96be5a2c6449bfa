//! `http`: closed-loop HTTP/1.1 GET requests over N keep-alive connections (hyper client).
//!
//! Owns: the HTTP connections, their request loop, reconnecting when a server closes a
//! connection (`Connection: close`, as gunicorn's sync worker does after every response),
//! the throughput and latency figures, and the CPU of the server's whole session (every
//! process in it: gunicorn's and granian's workers are children of the pid loadgen is given).
//! Never: speaks Socket.IO, or retries a failed request (a failure is counted and ends that
//! connection's loop).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use crate::server::{mib, CpuSplit, MachineCpu, ProcStats, ServerProc};
use crate::{hist_json, hist_line, new_hist, Outcome};

/// What the `http` subcommand was asked.
#[derive(Debug, Clone)]
pub struct Params {
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub path: String,
    /// Status every response must have.
    pub expect_status: u16,
    /// Requests per second, all connections together, on a fixed schedule (each
    /// connection still waits for its response before the next); None: closed loop.
    pub rate: Option<f64>,
}

#[derive(Debug, Default)]
struct ClientReport {
    samples: Vec<u64>,
    /// Requests answered inside the measured window.
    count: u64,
    /// Requests answered over the whole run (warm-up included).
    total: u64,
    body_bytes: u64,
    connects: u64,
    bad_status: u64,
    error: Option<String>,
}

type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect: timed out".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn client(
    addr: SocketAddr,
    host: String,
    p: Params,
    start: tokio::time::Instant,
    measure_from: tokio::time::Instant,
    end: tokio::time::Instant,
    interval: Option<Duration>,
) -> ClientReport {
    let mut report = ClientReport::default();
    tokio::time::sleep_until(start).await;
    let mut sender: Option<Sender> = None;
    let mut n = 0u64;
    while tokio::time::Instant::now() < end {
        if let Some(every) = interval {
            // On schedule; a late request goes at once (still after the previous answer).
            let at = start + every.mul_f64(n as f64);
            if at >= end {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        n += 1;
        // A request's time includes the reconnect it needed, if any.
        let t0 = Instant::now();
        let mut s = match sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => match connect(addr).await {
                Ok(s) => {
                    report.connects += 1;
                    s
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            },
        };
        if s.ready().await.is_err() {
            // Closed by the server between two requests: reconnect and send.
            match connect(addr).await {
                Ok(fresh) => {
                    report.connects += 1;
                    s = fresh;
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
        let req = match Request::get(p.path.as_str())
            .header(hyper::header::HOST, host.as_str())
            .body(Empty::<Bytes>::new())
        {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(format!("request: {e}"));
                break;
            }
        };
        let answer = tokio::time::timeout_at(end + Duration::from_secs(5), async {
            let resp = s
                .send_request(req)
                .await
                .map_err(|e| format!("send: {e}"))?;
            let status = resp.status().as_u16();
            let close = resp
                .headers()
                .get(hyper::header::CONNECTION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, close, body.len()))
        })
        .await;
        let (status, close, len) = match answer {
            Err(_) => {
                report.error = Some("no response within 5 s of the end".to_owned());
                break;
            }
            Ok(Err(e)) => {
                report.error = Some(e);
                break;
            }
            Ok(Ok(a)) => a,
        };
        report.total += 1;
        report.body_bytes += len as u64;
        if status != p.expect_status {
            report.bad_status += 1;
        }
        let now = tokio::time::Instant::now();
        if now >= measure_from && now <= end {
            report.samples.push(t0.elapsed().as_nanos() as u64);
            report.count += 1;
        }
        if !close {
            sender = Some(s);
        }
    }
    report
}

/// CPU seconds and RSS of every process in the session `sid` (the server started by the
/// suite is a session leader; its workers inherit the session).
fn session_stats(sid: u32) -> Option<(ProcStats, usize)> {
    if sid == 0 {
        return None;
    }
    let mut sum = ProcStats::default();
    let mut procs = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // After the command: state, ppid, pgrp, session, ...
        let session = stat[close + 1..]
            .split_whitespace()
            .nth(3)
            .and_then(|s| s.parse::<u32>().ok());
        if session != Some(sid) {
            continue;
        }
        if let Some(s) = ProcStats::read(&format!("/proc/{pid}")) {
            sum.cpu_secs += s.cpu_secs;
            sum.rss_bytes += s.rss_bytes;
            sum.rss_anon_bytes += s.rss_anon_bytes;
            sum.threads += s.threads;
            procs += 1;
        }
    }
    (procs > 0).then_some((sum, procs))
}

pub async fn run(server: &mut ServerProc, p: Params) -> Result<Outcome, String> {
    let addr = server.addr;
    let host = addr.to_string();
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let measure_from = start + p.warmup;
    let end = measure_from + p.duration;
    eprintln!(
        "http: {} connection(s) to http://{host}{}, warm-up {:.1}s, measuring {:.1}s",
        p.connections,
        p.path,
        p.warmup.as_secs_f64(),
        p.duration.as_secs_f64()
    );
    // --rate R: every connection sends R / N requests per second, the connections'
    // schedules spread evenly over one interval.
    let interval = p
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(p.connections as f64 / r));
    let mut tasks = Vec::with_capacity(p.connections);
    for i in 0..p.connections {
        let offset = interval.map_or(Duration::ZERO, |every| {
            every.mul_f64(i as f64 / p.connections as f64)
        });
        tasks.push(tokio::spawn(client(
            addr,
            host.clone(),
            p.clone(),
            start + offset,
            measure_from,
            end,
            interval,
        )));
    }
    tokio::time::sleep_until(measure_from).await;
    let srv0 = session_stats(server.pid).or_else(|| server.stats().map(|s| (s, 1)));
    let me0 = ProcStats::current().unwrap_or_default();
    let m0 = MachineCpu::read();
    tokio::time::sleep_until(end).await;
    let srv1 = session_stats(server.pid).or_else(|| server.stats().map(|s| (s, 1)));
    let me1 = ProcStats::current().unwrap_or_default();
    let m1 = MachineCpu::read();

    let mut hist = new_hist();
    let (mut count, mut total, mut bytes, mut connects, mut bad_status) = (0u64, 0, 0, 0, 0);
    let mut errors: Vec<String> = Vec::new();
    let mut failed = 0usize;
    for task in tasks {
        match task.await {
            Ok(r) => {
                count += r.count;
                total += r.total;
                bytes += r.body_bytes;
                connects += r.connects;
                bad_status += r.bad_status;
                for ns in r.samples {
                    let _ = hist.record(ns.max(1));
                }
                if let Some(e) = r.error {
                    failed += 1;
                    if errors.len() < 5 {
                        errors.push(e);
                    }
                }
            }
            Err(e) => {
                failed += 1;
                errors.push(format!("task: {e}"));
            }
        }
    }
    let alive = server.alive();
    let secs = p.duration.as_secs_f64();
    let rate = count as f64 / secs;
    let (s0, s1) = (srv0.unwrap_or_default(), srv1.unwrap_or_default());
    let cpu = CpuSplit::between(
        [s0.0.cpu_secs, s1.0.cpu_secs],
        [me0.cpu_secs, me1.cpu_secs],
        [&m0, &m1],
    );
    let us = |ns: u64| ns as f64 / 1000.0;
    let server_us_per_request = if count > 0 {
        cpu.server * 1e6 / count as f64
    } else {
        0.0
    };
    let mut summary = format!(
        "http: {} connection(s), GET {}, {secs:.1}s: {count} responses = {rate:.0} requests/s ({connects} connects, {bad_status} not {})\n",
        p.connections, p.path, p.expect_status
    );
    summary += &format!("  latency: {}\n", hist_line(&hist));
    summary += &format!(
        "  server CPU {:.2}s ({:.0}% of one core, {} process(es), {server_us_per_request:.1} us per request), loadgen CPU {:.2}s ({:.0}%), other CPU {:.2}s, server RSS {:.1} MiB\n",
        cpu.server,
        100.0 * cpu.server / secs,
        s1.1,
        cpu.loadgen,
        100.0 * cpu.loadgen / secs,
        cpu.other,
        mib(s1.0.rss_bytes)
    );
    if count == 0 {
        errors.push("no response in the measured window".to_owned());
    }
    summary += &format!("  failed connections {failed} {errors:?}, server alive {alive}");
    let mut json = json!({
        "scenario": "http",
        "path": p.path,
        "connections": p.connections,
        "rate_asked": p.rate,
        "duration_secs": secs,
        "warmup_secs": p.warmup.as_secs_f64(),
        "responses": count,
        "responses_total": total,
        "requests_per_sec": rate,
        "body_bytes": bytes,
        "connects": connects,
        "bad_status": bad_status,
        "latency": hist_json(&hist),
        "latency_p50_us": us(hist.value_at_quantile(0.5)),
        "latency_p99_us": us(hist.value_at_quantile(0.99)),
        "latency_p999_us": us(hist.value_at_quantile(0.999)),
        "server_processes": s1.1,
        "server_rss": s1.0.rss_bytes,
        "server_cpu_us_per_request": server_us_per_request,
        "failed_connections": failed,
        "errors": errors,
        "server_alive": alive,
    });
    cpu.add_to(&mut json, secs);
    Ok(Outcome {
        summary,
        json,
        ok: failed == 0 && alive && count > 0 && bad_status == 0,
    })
}
