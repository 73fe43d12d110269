#!/usr/bin/env bash
# Build the trace runner with a Fuchsia IDK/SDK's clang and sysroot, outside a Fuchsia
# checkout (untested here: no SDK on this machine). Usage:
#   FUCHSIA_SDK=~/fuchsia-sdk ARCH=x64 refinement_tests/device/build-fuchsia.sh [OUT]
# ARCH is x64 or arm64. The result is a static-PIE ELF for Fuchsia; see README.md,
# "On-device runs", for putting it on a device and running it.
set -euo pipefail
: "${FUCHSIA_SDK:?set FUCHSIA_SDK to the SDK's root}"
ARCH="${ARCH:-x64}"
case "$ARCH" in x64) TRIPLE=x86_64-unknown-fuchsia ;; arm64) TRIPLE=aarch64-unknown-fuchsia ;;
  *) echo "build-fuchsia.sh: ARCH must be x64 or arm64" >&2; exit 2 ;; esac
OUT="${1:-build/device/fuchsia-$ARCH/vmospec-runner}"
CLANG="${CLANG:-$FUCHSIA_SDK/../clang/bin/clang}"
SYSROOT="$FUCHSIA_SDK/arch/$ARCH/sysroot"
mkdir -p "$(dirname "$OUT")"
"$CLANG" --target="$TRIPLE" --sysroot="$SYSROOT" -std=c11 -Wall -Wextra -Werror -O2 \
  -o "$OUT" "$(dirname "$0")/runner.c" -L"$FUCHSIA_SDK/arch/$ARCH/lib" -lzircon
echo "$OUT"
