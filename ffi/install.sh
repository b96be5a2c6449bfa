#!/usr/bin/env bash
# Installs the ferrosocket C library (the `dist` cargo profile: release with whole-program
# LTO, no debug info), its header and a pkg-config file.
#   ffi/install.sh install     build, then install into $DESTDIR$LIBDIR and $DESTDIR$INCLUDEDIR
#   ffi/install.sh uninstall   remove exactly the files `install` puts there
# Settings come from the environment (the top-level `make install` / `make uninstall` pass
# them): PREFIX (default /usr/local), LIBDIR (default $PREFIX/lib), INCLUDEDIR (default
# $PREFIX/include), DESTDIR (default empty: a staging root prepended to every path written,
# never to the paths inside ferrosocket.pc, as GNU makefiles do).
# Installed:
#   INCLUDEDIR/ferrosocket.h
#   LIBDIR/libferrosocket.a                 (strip --strip-debug)
#   LIBDIR/libferrosocket.so.X.Y.Z          (strip --strip-unneeded; soname libferrosocket.so.X)
#   LIBDIR/libferrosocket.so.X -> libferrosocket.so.X.Y.Z
#   LIBDIR/libferrosocket.so   -> libferrosocket.so.X
#   LIBDIR/pkgconfig/ferrosocket.pc         (from ffi/ferrosocket.pc.in)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

PREFIX="${PREFIX:-/usr/local}"
LIBDIR="${LIBDIR:-$PREFIX/lib}"
INCLUDEDIR="${INCLUDEDIR:-$PREFIX/include}"
DESTDIR="${DESTDIR:-}"

say() { printf 'ffi/install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for dir in "$PREFIX" "$LIBDIR" "$INCLUDEDIR"; do
  [[ "$dir" == /* ]] || die "PREFIX, LIBDIR and INCLUDEDIR must be absolute paths (got '$dir')"
done

# The crate version, from cargo (never written down here). cargo metadata's package
# objects start with "name" then "version"; the match is checked below.
version="$(cargo metadata --no-deps --format-version 1)"
version="$(grep -o '"name":"ferrosocket-ffi","version":"[^"]*"' <<<"$version" | head -n1 | sed 's/.*"version":"\([^"]*\)"/\1/')"
[[ "$version" =~ ^([0-9]+)\.[0-9]+\.[0-9]+$ ]] || die "could not read ferrosocket-ffi's version from cargo metadata (got '$version')"
major="${BASH_REMATCH[1]}"

real="libferrosocket.so.$version"
soname="libferrosocket.so.$major"
lib_dest="$DESTDIR$LIBDIR"
inc_dest="$DESTDIR$INCLUDEDIR"
pc_dest="$lib_dest/pkgconfig"

install_all() {
  # One build that also reports the staticlib's native libraries. It is
  # `cargo build --profile dist -p ferrosocket-ffi --lib` with one extra rustc flag, writing
  # target/dist/libferrosocket.{a,so}; cargo replays the note when the build is fresh. (A
  # separate `cargo build` before it would make the two commands rebuild the crate in
  # turn, as their fingerprints differ.)
  local out
  say "cargo rustc --profile dist -p ferrosocket-ffi --lib -- --print native-static-libs"
  out="$(cargo rustc --profile dist -p ferrosocket-ffi --lib -- --print native-static-libs 2>&1)" || {
    printf '%s\n' "$out" >&2
    die "build failed"
  }
  local native
  native="$(sed -n 's/^note: native-static-libs: //p' <<<"$out" | tail -n1)"
  [[ -n "$native" ]] || { printf '%s\n' "$out" >&2; die "rustc reported no native-static-libs"; }
  # -lgcc_s is dropped: it has no static archive, so `cc -static` fails on it ("cannot
  # find -lgcc_s"), and the compiler driver links the right unwinder itself (libgcc_eh for
  # -static, libgcc_s otherwise). -lc links either way (checked) and stays.
  local libs_private="" flag
  for flag in $native; do
    case "$flag" in
      -lgcc_s) ;;
      *) libs_private="${libs_private:+$libs_private }$flag" ;;
    esac
  done

  local built="$root/target/dist"
  [[ -f "$built/libferrosocket.a" && -f "$built/libferrosocket.so" ]] || die "no libraries in $built"
  if [[ "$(uname -s)" == Linux ]]; then
    readelf -d "$built/libferrosocket.so" | grep -q "Library soname: \[$soname\]" \
      || die "$built/libferrosocket.so lacks the soname $soname (ffi/build.rs)"
  fi

  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  cp "$built/libferrosocket.a" "$stage/libferrosocket.a"
  cp "$built/libferrosocket.so" "$stage/$real"
  strip --strip-debug "$stage/libferrosocket.a"
  strip --strip-unneeded "$stage/$real"

  # Paths inside the .pc file are relative to ${prefix} when they are below it.
  local pc_libdir="$LIBDIR" pc_includedir="$INCLUDEDIR"
  [[ "$LIBDIR" == "$PREFIX"/* ]] && pc_libdir="\${prefix}${LIBDIR#"$PREFIX"}"
  [[ "$INCLUDEDIR" == "$PREFIX"/* ]] && pc_includedir="\${prefix}${INCLUDEDIR#"$PREFIX"}"
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$pc_libdir|g" \
    -e "s|@INCLUDEDIR@|$pc_includedir|g" -e "s|@VERSION@|$version|g" \
    -e "s|@LIBS_PRIVATE@|$libs_private|g" "$here/ferrosocket.pc.in" >"$stage/ferrosocket.pc"
  ! grep -n '@[A-Z_]*@' "$stage/ferrosocket.pc" || die "unfilled placeholder in ferrosocket.pc"

  install -d -m 0755 "$inc_dest" "$lib_dest" "$pc_dest"
  install -m 0644 "$root/include/ferrosocket.h" "$inc_dest/ferrosocket.h"
  install -m 0644 "$stage/libferrosocket.a" "$lib_dest/libferrosocket.a"
  install -m 0755 "$stage/$real" "$lib_dest/$real"
  ln -sfn "$real" "$lib_dest/$soname"
  ln -sfn "$soname" "$lib_dest/libferrosocket.so"
  install -m 0644 "$stage/ferrosocket.pc" "$pc_dest/ferrosocket.pc"

  say "installed ferrosocket $version:"
  local f
  for f in "$inc_dest/ferrosocket.h" "$lib_dest/libferrosocket.a" "$lib_dest/$real" \
    "$lib_dest/$soname" "$lib_dest/libferrosocket.so" "$pc_dest/ferrosocket.pc"; do
    if [[ -L "$f" ]]; then
      say "  $f -> $(readlink "$f")"
    else
      say "  $f ($(stat -c '%a, %s bytes' "$f"))"
    fi
  done
  say "Libs.private: $libs_private"
}

uninstall_all() {
  local files=("$inc_dest/ferrosocket.h" "$lib_dest/libferrosocket.a" "$lib_dest/$real"
    "$lib_dest/libferrosocket.so" "$pc_dest/ferrosocket.pc")
  # The file the soname link points at, should an older version have installed it.
  if [[ -L "$lib_dest/$soname" ]]; then
    local target
    target="$(readlink "$lib_dest/$soname")"
    [[ "$target" == libferrosocket.so.* && "$target" != */* ]] && files+=("$lib_dest/$target")
  fi
  files+=("$lib_dest/$soname")
  local f
  for f in "${files[@]}"; do
    if [[ -e "$f" || -L "$f" ]]; then
      rm -f "$f"
      say "removed $f"
    fi
  done
  if [[ -d "$pc_dest" ]]; then
    rmdir --ignore-fail-on-non-empty "$pc_dest"
  fi
}

case "${1:-}" in
  install) install_all ;;
  uninstall) uninstall_all ;;
  *)
    echo "usage: $0 install|uninstall   (PREFIX, LIBDIR, INCLUDEDIR, DESTDIR from the environment)" >&2
    exit 2
    ;;
esac
