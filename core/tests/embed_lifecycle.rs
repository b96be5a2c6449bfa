//! Stopping an embedded server ends every thread it started. Its own test binary (its
//! own process), so no other test's threads are counted.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosocket::embed::{EmbedOptions, Embedded};
use ferrosocket::Config;
use support::*;

fn dispatch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("ferrosocket-"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_clients_connected_ends_every_thread() {
    // Two I/O threads (tokio's multi-thread runtime), then one (its current-thread
    // runtime on a driver thread of ours).
    for io_threads in [2, 1] {
        stop_ends_every_thread(io_threads).await;
    }
}

async fn stop_ends_every_thread(io_threads: usize) {
    let before = dispatch_threads();
    let options = EmbedOptions {
        io_threads,
        dispatch_threads: 4,
        min_dispatch_threads: 4,
        ..EmbedOptions::default()
    };
    let embedded = Arc::new(Embedded::new(Config::default(), options, None).unwrap());
    embedded.on("/", "block", |_socket, _event| {
        std::thread::sleep(Duration::from_millis(200))
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    // A new thread shows its name once it has started running.
    let deadline = Instant::now() + WAIT;
    while dispatch_threads() < before + 4 + io_threads {
        assert!(Instant::now() < deadline, "io and dispatch threads started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut clients = Vec::new();
    for _ in 0..10 {
        let (mut client, _) = WsClient::connected(addr).await;
        client.send(r#"42["block"]"#).await;
        clients.push(client);
    }
    let started = Instant::now();
    tokio::task::spawn_blocking(move || drop(embedded))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    for client in &mut clients {
        assert!(client.closed(WAIT).await);
    }
    let deadline = Instant::now() + WAIT;
    while dispatch_threads() > before {
        assert!(
            Instant::now() < deadline,
            "threads left behind: {}",
            dispatch_threads() - before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
