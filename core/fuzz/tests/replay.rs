//! Replays every committed input (`seeds/<target>/`, `regressions/<target>/`) through
//! its target, so that `cargo test` (and `make test`) catches a property core breaks
//! again without anyone running a fuzzer. Properties behind a name still honour
//! `FUZZ_TOLERATE`, exactly as under libFuzzer.
//!
//! "Every" is checked too: a file anywhere else under `seeds/` or `regressions/` (a
//! misspelt target directory, a nested folder, a file at the top) fails the replay
//! instead of being skipped, and each libFuzzer entry point in `fuzz_targets/` must be
//! replayed here through the very function it hands its input to.

use std::panic;
use std::path::{Path, PathBuf};

use ferrosocket_fuzz::targets;

/// A target's body: what its libFuzzer entry point hands the input to.
type Body = fn(&[u8]);

/// Each target: its name (of `fuzz_targets/<name>.rs`, `seeds/<name>/`,
/// `regressions/<name>/`) and its body.
const TARGETS: &[(&str, Body)] = &[
    ("engine_payload", targets::engine_payload),
    ("socket_packet", targets::socket_packet),
    ("payload_json", targets::payload_json),
];

/// The directories of committed inputs, each holding one directory per target.
const INPUT_DIRS: &[&str] = &["seeds", "regressions"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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

/// Every file under `dir`, at any depth.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(all_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs each input of `target` through `run` and fails naming every input that panics
/// (not just the first, so one run shows everything a core change broke).
fn replay(target: &str) {
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target in TARGETS");
    let root = root();
    let seeds = inputs(&root.join("seeds").join(target));
    // Every target has seeds: none found means a wrong path, not a passing replay.
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let regressions = inputs(&root.join("regressions").join(target));

    if let Ok(tolerated) = std::env::var("FUZZ_TOLERATE") {
        eprintln!("{target}: FUZZ_TOLERATE={tolerated:?} weakens the named properties");
    }
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
    replay("engine_payload");
}

#[test]
fn socket_packet() {
    replay("socket_packet");
}

#[test]
fn payload_json() {
    replay("payload_json");
}

/// Every file under `seeds/` and `regressions/` is `<dir>/<target>/<file>` for a target
/// in [`TARGETS`], so the tests above replay it.
#[test]
fn every_committed_input_is_replayed() {
    let root = root();
    let mut stray = Vec::new();
    let mut replayed = 0;
    for dir in INPUT_DIRS {
        for file in all_files(&root.join(dir)) {
            let relative = file.strip_prefix(root.join(dir)).expect("under its dir");
            let parts: Vec<_> = relative.components().collect();
            let known = parts.len() == 2
                && TARGETS
                    .iter()
                    .any(|(name, _)| parts[0].as_os_str() == *name);
            if known {
                replayed += 1;
            } else {
                stray.push(format!("{dir}/{}", relative.display()));
            }
        }
    }
    assert!(
        stray.is_empty(),
        "inputs no replay reaches (not in seeds/<target>/ or regressions/<target>/ \
         for a target in TARGETS): {stray:#?}"
    );
    // The regressions committed when this check was written, and the seeds: fewer
    // means a wrong root, not a clean tree.
    assert!(
        replayed >= 33 + 15,
        "only {replayed} inputs found under {root:?}"
    );
}

/// Each libFuzzer entry point `fuzz_targets/<name>.rs` (each `[[bin]]`) is replayed, and
/// hands its input to `targets::<name>`, the function the replay calls.
#[test]
fn every_fuzz_target_is_replayed_through_its_own_body() {
    let dir = root().join("fuzz_targets");
    let mut names: Vec<String> = all_files(&dir)
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let name = path.file_stem().expect("a file name").to_string_lossy();
            let source = std::fs::read_to_string(path).expect("readable target");
            let call = format!("ferrosocket_fuzz::targets::{name}(data)");
            assert!(
                source.contains(&call),
                "{}: its input does not go to {call}",
                path.display()
            );
            name.into_owned()
        })
        .collect();
    names.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    replayed.sort();
    assert_eq!(names, replayed, "fuzz_targets/*.rs vs TARGETS");

    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    for name in &names {
        let bin = format!("path = \"fuzz_targets/{name}.rs\"");
        assert!(
            manifest.contains(&bin),
            "Cargo.toml has no [[bin]] with {bin}"
        );
    }
    assert_eq!(
        manifest.matches("[[bin]]").count(),
        names.len(),
        "a [[bin]] without its fuzz_targets file"
    );
}
