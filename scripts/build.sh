#!/usr/bin/env bash
# Builds the worker into build/ with worker-build, pointing it at the tools setup.sh installed:
# its own downloads of wasm-bindgen, esbuild and wasm-opt cannot reach their hosts.
#
#   scripts/build.sh [crate dir]   (default: the service; bench/run.mjs builds bench/floor too)
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$PWD/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
tools="$PWD/.tools"
if [ -n "${1:-}" ]; then
  # Its own target directory under the service's, so that its build never replaces the service's.
  export CARGO_TARGET_DIR="$PWD/target/${1//\//-}"
  cd "$1"
fi
"$tools/bin/worker-build" --release
# worker-build runs wasm-opt with --debuginfo, which keeps every function's name: 140 KB of the
# module, read only to print wasm stack traces. Panics still report their message and source
# line (console_error_panic_hook); the names are dropped.
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm --strip-debug
if [ -z "${1:-}" ]; then
  # The service's entry without workers-rs's per-request proxies (the script says why); the
  # bench's bare Rust worker keeps workers-rs's own.
  node="$PWD/node_modules/.bin/node"
  [ -x "$node" ] || node=node
  "$node" scripts/lean-entry.mjs build/index.js
fi
