//! Keeps `core/src/protocol/` sans-IO: no file under it may name tokio, hyper, a
//! websocket or other I/O crate, or `std`'s I/O, network, file, process, thread, clock
//! or environment modules. The codecs are pure functions over bytes so that the fuzz
//! targets and any transport can drive them; this test fails the build of that promise.
//!
//! The sources are read as text. Comments and the contents of string and character
//! literals are dropped first (a doc comment may say "no tokio here"), then the rest is
//! searched for the forbidden names as whole identifiers.

use std::path::{Path, PathBuf};

/// Crates that do I/O or run it (or are an async runtime's building blocks).
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "tokio_util",
    "tokio_tungstenite",
    "tungstenite",
    "hyper",
    "hyper_util",
    "http_body_util",
    "futures",
    "futures_util",
    "mio",
    "socket2",
    "libc",
    "async_std",
    "smol",
];

/// Modules of `std` (and `core`) that reach outside the process's memory: I/O, the
/// network, files, processes, threads, clocks, the environment.
const FORBIDDEN_STD: &[&str] = &["io", "net", "fs", "process", "thread", "time", "env", "os"];

/// What a test module (a file named `tests.rs`, compiled only under `cfg(test)`) may use
/// of [`FORBIDDEN_STD`] besides: reading fixture files and the environment (the opt-in
/// fuzz corpus of `socket/tests.rs`). Never the crates, the network or a clock.
const ALLOWED_STD_IN_TESTS: &[&str] = &["fs", "env"];

/// `source` with comments removed and every string or character literal emptied, so
/// that only code is left to search. Raw strings, byte strings, nested block comments,
/// escapes and lifetimes (`'a`, not a character literal) are told apart.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        // A raw string: `r"…"`, `r#"…"#`, `br#"…"#` (the `r` not ending an identifier).
        let starts_raw = c == 'r'
            && (i == 0
                || !ident(chars[i - 1])
                || (chars[i - 1] == 'b' && (i < 2 || !ident(chars[i - 2]))));
        if starts_raw {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) == Some(&'"') {
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                i += 2 + hashes;
                while i < chars.len() && !chars[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                out.push_str("\"\"");
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            // `'\n'`, `'\''`, `'\u{1f}'`: skip to the quote after the escape.
            if next == Some('\\') {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
                continue;
            }
            // `'x'`; anything else (`'a`, `'de`) is a lifetime.
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A token of the code left by [`code_only`]: an identifier, `::`, or one other
/// character.
fn tokens(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = String::from(c);
            while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".into());
        } else if !c.is_whitespace() {
            tokens.push(c.into());
        }
    }
    tokens
}

/// What in `source` breaks the rule, one line of text per finding; `test_module` allows
/// [`ALLOWED_STD_IN_TESTS`].
fn violations(source: &str, test_module: bool) -> Vec<String> {
    let forbidden_std = |name: &str| {
        FORBIDDEN_STD.contains(&name) && !(test_module && ALLOWED_STD_IN_TESTS.contains(&name))
    };
    let tokens = tokens(&code_only(source));
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if FORBIDDEN_CRATES.contains(&token.as_str()) {
            found.push(format!("crate `{token}`"));
        }
        if !matches!(token.as_str(), "std" | "core")
            || tokens.get(i + 1).map(String::as_str) != Some("::")
        {
            continue;
        }
        match tokens.get(i + 2).map(String::as_str) {
            Some(module) if forbidden_std(module) => {
                found.push(format!("`{token}::{module}`"));
            }
            // `std::{fmt, io::Read}`: the names directly inside the group.
            Some("{") => {
                let mut depth = 0;
                for (j, inner) in tokens[i + 2..].iter().enumerate() {
                    match inner.as_str() {
                        "{" => depth += 1,
                        "}" => depth -= 1,
                        name if depth == 1
                            && forbidden_std(name)
                            && matches!(tokens[i + 1 + j].as_str(), "{" | ",") =>
                        {
                            found.push(format!("`{token}::{{{name}}}`"));
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn protocol_does_no_io() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/protocol"));
    let files = rust_files(root);
    // A wrong path must not pass as "nothing found".
    for known in ["mod.rs", "engine.rs", "payload.rs", "socket/mod.rs"] {
        assert!(
            files.contains(&root.join(known)),
            "{known} not found under {root:?}"
        );
    }
    let mut broken = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable source");
        let test_module = file.file_name().is_some_and(|name| name == "tests.rs");
        for finding in violations(&source, test_module) {
            let name = file
                .strip_prefix(root)
                .unwrap_or(file)
                .display()
                .to_string();
            broken.push(format!("{name}: {finding}"));
        }
    }
    assert!(
        broken.is_empty(),
        "core/src/protocol/ must stay sans-IO (no tokio, hyper or other I/O), found:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_check_sees_code_and_only_code() {
    for bad in [
        "use tokio::sync::Notify;",
        "fn f() { tokio::spawn(async {}); }",
        "use hyper::body::Incoming;",
        "use tokio_tungstenite::WebSocketStream;",
        "type W = tungstenite::Message;",
        "use std::io::Read;",
        "use std::io::{self, Write};",
        "impl std::io::Write for W {}",
        "use ::std::net::TcpStream;",
        "use std::{fmt, io::Read};",
        "use std::{\n    fmt::Write as _,\n    io,\n};",
        "let t = std::time::Instant::now();",
        "let f = std::fs::read(\"x\");",
        "use core::time::Duration;",
        "let s = \"tokio\"; use hyper as h;",
        "let c = '\"'; use tokio::net;",
        "let c = b'\\''; use tokio::net;",
        "let s = r#\"a \" b\"#; use tokio::net;",
        "/* a /* nested */ comment */ use tokio::net;",
        "fn f<'de>(x: &'de str) { tokio::task::yield_now(); }",
    ] {
        assert!(!violations(bad, false).is_empty(), "not caught: {bad:?}");
        if !bad.contains("std::fs") {
            assert!(
                !violations(bad, true).is_empty(),
                "not caught in tests: {bad:?}"
            );
        }
    }
    for good in [
        "//! Sans-IO: no tokio, no hyper, no std::io here.",
        "/// Never does I/O and never depends on tokio.\nfn f() {}",
        "use std::fmt::Write as _;",
        "use std::{borrow::Cow, fmt};",
        "let s = \"tokio hyper std::io::Read\";",
        "let s = r#\"use tokio::net;\"#;",
        "let s = br\"std::net\";",
        "let c = '\\u{1f}'; let d = b'\"'; let e = '\\'';",
        "fn f<'de, 'a>(x: &'de str, y: &'a str) {}",
        "/* use tokio::net; */",
        "let x = futures_like; let io = 1; let time = io;",
        "let n = std::str::from_utf8(b);",
        "use crate::protocol::payload::Payload; // not tokio",
    ] {
        assert_eq!(violations(good, false), Vec::<String>::new(), "{good:?}");
    }
    let fixtures = "let dir = std::env::var(\"D\"); let b = std::fs::read(dir);";
    assert_eq!(violations(fixtures, true), Vec::<String>::new());
    assert_eq!(violations(fixtures, false).len(), 2);
}
