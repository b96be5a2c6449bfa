//! Gives the shared library its soname on Linux: `libferrosocket.so.<MAJOR>`.
//!
//! The soname's number is the crate's major version, so it is defined once (in the
//! workspace's `version`) and read here from `CARGO_PKG_VERSION_MAJOR`. While the crate is
//! 0.x the soname stays `libferrosocket.so.0`, and every 0.y release keeps the C ABI
//! backward compatible; a change that breaks the ABI bumps the major version, which moves
//! the soname to `.so.1`, `.so.2`, ... (the policy is in ffi/README.md, "Installing").
//! Nothing here touches the header: cbindgen reads ffi/src only.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR")
            .expect("cargo sets CARGO_PKG_VERSION_MAJOR for build scripts");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libferrosocket.so.{major}");
    }
}
