#!/usr/bin/env bash
# Installs what building and testing need, into this checkout's ignored folders, and skips
# whatever is already in place: the wasm32 target, worker-build and wasm-bindgen-cli (into
# .tools/, at the versions Cargo.lock needs), the npm packages (Node 22, wrangler, miniflare,
# playwright-core), and Debian's chromium for the console's browser tests (skipped with
# --no-browser, as `npm run dev` and `npm run build` do: they need no browser).
set -euo pipefail
cd "$(dirname "$0")/.."
BROWSER=1
[ "${1:-}" = "--no-browser" ] && BROWSER=0

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
# playwright's own browser downloads cannot reach their hosts here; Debian's package can.
if [ "$BROWSER" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "setup: /usr/bin/chromium is missing and this is not root: install Debian's chromium package" \
      "(sudo apt-get install chromium) for the console tests" >&2
  fi
fi
