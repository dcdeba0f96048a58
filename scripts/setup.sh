#!/usr/bin/env bash
# Installs what building and testing need, into this checkout's ignored folders, and skips
# whatever is already in place: the wasm32 target, worker-build and wasm-bindgen-cli (into
# .tools/, at the versions Cargo.lock needs), and the npm packages (Node 22, wrangler, miniflare).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! .tools/bin/worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" --root .tools
fi
if ! .tools/bin/wasm-bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
  # Not --locked: the CLI's own lockfile pins a webpki-roots release the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --root .tools
fi
if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
