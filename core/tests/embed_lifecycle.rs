//! Stopping an embedded server ends every thread it started. Its own test binary (its
//! own process), so no other file's threads are counted; its tests take turns.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosocket::embed::{EmbedOptions, Embedded};
use ferrosocket::Config;
use support::*;

/// The tests count every `ferrosocket-` thread of the process: they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _turn = ONE_AT_A_TIME.lock().await;
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

/// A callback that lets go of its own server (as a Python handler can, when it held the
/// last reference) must neither wait on itself nor leak: `shutdown` hands the work to a
/// thread of its own, which ends every thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_inside_a_callback_ends_every_thread_from_its_own() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let before = dispatch_threads();
    let options = EmbedOptions {
        io_threads: 1,
        dispatch_threads: 2,
        min_dispatch_threads: 2,
        ..EmbedOptions::default()
    };
    let embedded = Embedded::new(Config::default(), options, None).unwrap();
    let slot: Arc<std::sync::Mutex<Option<Embedded>>> = Arc::default();
    let (returned, returned_rx) = std::sync::mpsc::channel();
    let held = Arc::clone(&slot);
    embedded.on("/", "quit", move |_socket, _event| {
        let Some(embedded) = held.lock().unwrap().take() else {
            return;
        };
        let started = Instant::now();
        embedded.shutdown();
        let _ = returned.send(started.elapsed());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    *slot.lock().unwrap() = Some(embedded);
    let (mut client, _) = WsClient::connected(addr).await;
    client.send(r#"42["quit"]"#).await;
    let took = tokio::task::spawn_blocking(move || returned_rx.recv_timeout(WAIT))
        .await
        .unwrap()
        .expect("shutdown returned inside the callback");
    assert!(
        took < Duration::from_millis(500),
        "shutdown waited: {took:?}"
    );
    assert!(client.closed(WAIT).await, "the client was disconnected");
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
