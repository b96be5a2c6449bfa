//! The crate's layering, checked from its sources: the engine never reaches up into the
//! Socket.IO layer or the server handle, and the top-level modules of `core/src` import
//! each other without a cycle.
//!
//! An edge `a -> b` is any `crate::b` path (a `use` or an inline path) in a file of
//! module `a`; `crate::{X, y}` groups count each name, and a root re-export such as
//! `crate::Server` counts as the module it comes from (read from `lib.rs`). Comments,
//! doc links included, are not imports and are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `engine/` must never import: the layers above it.
const ABOVE_ENGINE: &[&str] = &["server", "socket", "namespace", "broadcast", "embed"];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`engine/http.rs` -> `engine`), `None` for
/// `lib.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("file under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(name) => Some(name.to_owned()),
        None => Some(first.to_owned()),
    }
}

/// Code without comments: `//` to the end of the line (outside string literals, roughly:
/// a `//` inside a string is rare here and would only hide, never invent, an edge).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|line| match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    })
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every name right after `crate::` in `code`, group members included.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue; // `$crate::` or part of a longer name
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// Root re-exports (`pub use module::{A, B};` or `pub(crate) use ...` in lib.rs):
/// name -> module.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    let flat = code_lines(lib).collect::<Vec<_>>().join(" ");
    for statement in flat.split(';') {
        let statement = statement.trim();
        let Some(path) = statement
            .strip_prefix("pub use ")
            .or_else(|| statement.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        for item in items
            .trim_matches(|c| c == '{' || c == '}' || c == ' ')
            .split(',')
        {
            // `a::b::{C}` re-exports C from module `a`; the name is the last segment.
            let name = item
                .trim()
                .rsplit("::")
                .next()
                .unwrap_or("")
                .trim_matches(|c| c == '{' || c == '}');
            if !name.is_empty() {
                exports.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    exports
}

/// The module graph of `core/src`, and where each edge was seen.
fn graph() -> (Graph, BTreeMap<(String, String), String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let exports = root_exports(&lib);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    let mut seen_at = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (number, line) in code_lines(&text).enumerate() {
            for name in crate_paths(line) {
                let to = if modules.contains(&name) {
                    name
                } else if let Some(module) = exports.get(&name) {
                    module.clone()
                } else {
                    continue;
                };
                if to != from {
                    let place = format!("{}:{}", file.display(), number + 1);
                    seen_at.entry((from.clone(), to.clone())).or_insert(place);
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    (graph, seen_at)
}

/// One cycle of `graph`, as the modules along it, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn engine_does_not_import_the_layers_above_it() {
    let (graph, seen_at) = graph();
    let engine = graph.get("engine").cloned().unwrap_or_default();
    let violations: Vec<String> = ABOVE_ENGINE
        .iter()
        .filter(|above| engine.contains(**above))
        .map(|above| {
            let place = &seen_at[&("engine".to_owned(), (*above).to_owned())];
            format!("engine imports {above} ({place})")
        })
        .collect();
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let (graph, seen_at) = graph();
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let place = &seen_at[&(pair[0].clone(), pair[1].clone())];
                format!("{} -> {} ({place})", pair[0], pair[1])
            })
            .collect();
        panic!("import cycle in core/src:\n{}", steps.join("\n"));
    }
}

#[test]
fn the_checks_see_what_they_check() {
    // The parser finds plain paths, groups and root re-exports, and skips comments and
    // `$crate`, so the two tests above cannot pass by finding nothing.
    assert_eq!(
        crate_paths("use crate::engine::{self, X}; let a = crate::server::f(); $crate::no"),
        ["engine", "server"]
    );
    assert_eq!(
        crate_paths("use crate::{Config, sid::Sid};"),
        ["Config", "sid"]
    );
    assert_eq!(code_lines("a // crate::socket").collect::<Vec<_>>(), ["a "]);
    let exports = root_exports(
        "pub use server::{serve_dir, Server};\npub use sid::Sid;\npub use socket::namespace::{Auth};\npub(crate) use socket::{namespace};",
    );
    assert_eq!(exports["Server"], "server");
    assert_eq!(exports["Sid"], "sid");
    assert_eq!(exports["Auth"], "socket");
    assert_eq!(exports["namespace"], "socket");
    let (graph, _) = graph();
    assert!(graph["socket"].contains("engine"), "{graph:?}");
    assert!(graph["server"].contains("engine"), "{graph:?}");
    let mut looped = Graph::new();
    looped.entry("a".into()).or_default().insert("b".into());
    looped.entry("b".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&looped).map(|c| c.len()), Some(3));
}
