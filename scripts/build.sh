#!/usr/bin/env bash
# Builds the worker into build/ with worker-build, pointing it at the tools setup.sh installed:
# its own downloads of wasm-bindgen, esbuild and wasm-opt cannot reach their hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$PWD/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
exec .tools/bin/worker-build --release
