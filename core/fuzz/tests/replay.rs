//! Replays every committed input (`seeds/<target>/`, `regressions/<target>/`) through
//! its target, so that `cargo test` (and `make test`) catches a property core breaks
//! again without anyone running a fuzzer. Properties behind a name still honour
//! `FUZZ_TOLERATE`, exactly as under libFuzzer.

use std::panic;
use std::path::{Path, PathBuf};

use ferrosocket_fuzz::targets;

/// The files in `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs each input of `target` through `run` and fails naming every input that panics
/// (not just the first, so one run shows everything a core change broke).
fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = inputs(&root.join("seeds").join(target));
    // Every target has seeds: none found means a wrong path, not a passing replay.
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let regressions = inputs(&root.join("regressions").join(target));

    let mut failed = Vec::new();
    for file in seeds.iter().chain(&regressions) {
        let data = std::fs::read(file).expect("readable input");
        if panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(
                file.strip_prefix(root)
                    .unwrap_or(file)
                    .display()
                    .to_string(),
            );
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail: {failed:#?}",
        failed.len(),
        seeds.len() + regressions.len()
    );
}

#[test]
fn engine_payload() {
    replay("engine_payload", targets::engine_payload);
}

#[test]
fn socket_packet() {
    replay("socket_packet", targets::socket_packet);
}

#[test]
fn payload_json() {
    replay("payload_json", targets::payload_json);
}
