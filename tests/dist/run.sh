#!/usr/bin/env bash
# What users install, tested as they get it (issue 14). Run by `make test-dist`.
#   tests/dist/run.sh           everything below, in this order
#   tests/dist/run.sh versions  one version: every workspace crate's, and the requirement
#                               on the core (each part below checks its own artefact's
#                               version against it: wheel, sdist, header, .pc, library)
#   tests/dist/run.sh wheel     `make wheel`'s wheel into a fresh virtualenv with no cargo
#                               or rustc on PATH: imports, versions, python-socketio clients
#                               of ferrosocket.Server and of a ferrosocket.flask app
#   tests/dist/run.sh sdist     `make sdist`'s archive holds a buildable crate workspace:
#                               its file list, then `cargo check --offline` of it (in the
#                               shared target directory: what clippy checked is reused);
#                               FERROSOCKET_DIST_SDIST_BUILD=1 also has pip build and
#                               install it (a release build: minutes) and runs the smoke test
#   tests/dist/run.sh crates    `cargo package` of the publishable crates, verified
#   tests/dist/run.sh c         `make install` into a temporary prefix, the C chat built
#                               with pkg-config, shared and static (tests/dist/c_install.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
LOG_TAG=dist
. "$root/tests/lib/env.sh"

dist="$root/dist"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

metadata() { cargo metadata --no-deps --format-version 1 --locked; }
version="$(metadata | python3 -c 'import json, sys, tomllib
m = json.load(sys.stdin)
manifest = tomllib.load(open("Cargo.toml", "rb"))["workspace"]
workspace = manifest["package"]["version"]
versions = {p["name"]: p["version"] for p in m["packages"]}
odd = {n: v for n, v in versions.items() if v != workspace}
assert not odd, f"crates whose version is not the workspace version {workspace}: {odd}"
# The one other place cargo needs the number: the requirement beside the core path.
core = manifest["dependencies"]["ferrosocket"]
required = core.get("version")
assert required == workspace, f"[workspace.dependencies] ferrosocket: version {required!r}, not {workspace!r}"
print(workspace)')"
log "version $version"

fail() {
  log "FAILED: $*"
  exit 1
}

# PATH without any directory that holds cargo or rustc: what a machine without Rust has.
rustless_path() {
  local dir out=()
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ -n "$dir" && ! -e "$dir/cargo" && ! -e "$dir/rustc" ]] && out+=("$dir")
  done
  (IFS=:; printf '%s' "${out[*]}")
}

wheel_file() {
  local wheels=("$dist"/ferrosocket-"$version"-cp39-abi3-*manylinux_2_17_x86_64*.whl)
  [[ -f "${wheels[0]}" ]] || fail "no wheel of $version in dist/"
  printf '%s' "${wheels[0]}"
}

# smoke VENV: the user's first steps (tests/dist/wheel_smoke.py) in VENV, without Rust.
smoke() {
  local venv="$1" work="$scratch/work"
  mkdir -p "$work"
  (cd "$work" && env -u CARGO_HOME -u RUSTUP_HOME PATH="$(rustless_path)" \
    "$venv/bin/python" "$here/wheel_smoke.py" "$version" </dev/null)
}

# The crates' versions and the core dependency's requirement are checked above, when the
# version is read; the wheel's, the sdist's, the installed header's, the .pc file's and
# ferrosocket_version()'s by their own parts below.
test_versions() {
  log "versions agree: $version (every workspace crate, the ferrosocket requirement)"
}

test_wheel() {
  python/dist.sh wheel
  local wheel venv="$root/target/dist-test-venv"
  wheel="$(wheel_file)"
  unzip -p "$wheel" 'ferrosocket-*.dist-info/METADATA' | grep -qx "Version: $version" ||
    fail "$(basename "$wheel"): METADATA has no 'Version: $version'"
  fresh_venv "$venv" "$here/requirements.txt"
  # As a user without Rust installs it: pip must take the wheel as it is, never build.
  env -u CARGO_HOME -u RUSTUP_HOME PATH="$(rustless_path)" "$venv/bin/python" -m pip install \
    --quiet --disable-pip-version-check --no-input --only-binary :all: "$wheel" </dev/null
  smoke "$venv"
  log "wheel: $(basename "$wheel") ($(stat -c %s "$wheel") bytes) installs and serves without Rust"
}

test_sdist() {
  python/dist.sh sdist
  local sdist
  sdist="$(ls "$dist"/ferrosocket-"$version".tar.gz)" || fail "no sdist of $version in dist/"
  tar -C "$scratch" -xzf "$sdist"
  local tree="$scratch/ferrosocket-$version"
  grep -qx "Version: $version" "$tree/PKG-INFO" || fail "PKG-INFO has no 'Version: $version'"
  local want
  for want in pyproject.toml Cargo.toml Cargo.lock core/Cargo.toml core/src/lib.rs \
    core/README.md python/Cargo.toml python/src/lib.rs python/ferrosocket/__init__.py \
    python/ferrosocket/_native.pyi python/ferrosocket/py.typed python/ferrosocket/flask/__init__.py \
    LICENSE-MIT LICENSE-APACHE; do
    [[ -f "$tree/$want" ]] || fail "the sdist has no $want"
  done
  local stray
  stray="$(cd "$tree" && find . \( -name target -o -name node_modules -o -name fuzz -o -name '*.so' \
    -o -path ./tests -o -path ./bench -o -path ./core/tests -o -name dist.sh \) -print | head -5)"
  [[ -z "$stray" ]] || fail "the sdist holds what it should not: $stray"
  # It compiles from what it holds, without the network. The sdist carries the
  # workspace's lock file; its smaller workspace drops the entries it does not use (as
  # pip's build does), and every crate it resolves must be one the lock file pinned.
  cp "$tree/Cargo.lock" "$scratch/Cargo.lock.shipped"
  (cd "$tree/python" && CARGO_TARGET_DIR="$root/target" cargo check --quiet --offline)
  python3 - "$scratch/Cargo.lock.shipped" "$tree/Cargo.lock" <<'EOF'
import sys, tomllib
def packages(path):
    return {(p["name"], p["version"]) for p in tomllib.load(open(path, "rb"))["package"]}
unpinned = packages(sys.argv[2]) - packages(sys.argv[1])
assert not unpinned, f"the sdist's build resolved crates its Cargo.lock does not pin: {sorted(unpinned)}"
EOF
  log "sdist: $(basename "$sdist") ($(stat -c %s "$sdist") bytes, $(tar -tzf "$sdist" | wc -l) files) checks offline"
  if [[ -n "${FERROSOCKET_DIST_SDIST_BUILD:-}" ]]; then
    local venv="$root/target/dist-sdist-venv" start=$SECONDS
    fresh_venv "$venv" "$here/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$sdist" </dev/null
    log "sdist: pip built and installed it in $((SECONDS - start)) s"
    smoke "$venv"
  fi
}

test_crates() {
  local crate
  # Verified: each .crate is unpacked and built on its own, ferrosocket-ffi against the
  # ferrosocket .crate beside it (not the workspace's path). cargo unpacks that .crate
  # into CARGO_HOME's registry/src/-<hash>/ (its local-registry overlay) and builds it in
  # target/debug, and it takes both for unchanging, as registry crates are: a core
  # changed since the last packaging would verify ffi against the old one. So the
  # unpacked copies and that build of them are removed first.
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/ferrosocket-"$version" \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/ferrosocket-ffi-"$version"
  local stale hash
  for stale in $(grep -l 'registry/src/-' target/debug/deps/ferrosocket-*.d 2>/dev/null || true); do
    hash="${stale##*/ferrosocket-}"
    hash="${hash%.d}"
    rm -rf target/debug/deps/*-"$hash"* target/debug/.fingerprint/ferrosocket-"$hash"
  done
  # --allow-dirty: the test packages the working tree as it is (`make package` does not).
  cargo package --locked --quiet --allow-dirty -p ferrosocket -p ferrosocket-ffi
  for crate in ferrosocket ferrosocket-ffi; do
    local file="target/package/$crate-$version.crate"
    [[ -f "$file" ]] || fail "no $file"
    local stray
    stray="$(tar -tzf "$file" | grep -E '/(tests|fuzz|benches|examples)/|/target/' | head -5 || true)"
    [[ -z "$stray" ]] || fail "$file holds what its package excludes: $stray"
    tar -xzOf "$file" "$crate-$version/Cargo.toml" | grep -q '^readme = ' || fail "$file: no readme"
    log "crate: $file ($(stat -c %s "$file") bytes, $(tar -tzf "$file" | wc -l) files)"
  done
}

case "${1:-all}" in
  versions) test_versions ;;
  wheel) test_wheel ;;
  sdist) test_sdist ;;
  crates) test_crates ;;
  c) "$here/c_install.sh" ;;
  all)
    test_versions
    test_wheel
    test_sdist
    test_crates
    "$here/c_install.sh"
    ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
