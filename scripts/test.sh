#!/usr/bin/env bash
# Every test: formatting and lints, the native unit and integration tests, then the built
# worker end to end in workerd (Miniflare) with a local KV, the web console in Chromium against
# the repo's configuration (scripts/local-server.mjs; and `wrangler dev` itself), and schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown -- -D warnings
cargo test -- --skip faults_ --skip parsers_
# Fault injection at every step and the parsers' property tests print their figures (fault
# points tried, invariant checks made, violations, fuzz cases run).
cargo test --test faults --test r2_faults --test parsers_prop -- --nocapture
bash scripts/build.sh
node --test --test-concurrency=1 miniflare-tests/*.test.mjs
# The web console: its size against the budget, then real Chromium against the worker.
node scripts/console-size.mjs
node --test console-tests/*.test.mjs
# The spec as the judge: schemathesis drives the worker (scripts/local-server.mjs) from the OpenAPI
# file, every check, fixed seed (fuzz/run.sh; `npm run fuzz` for a longer, random run).
FUZZ_SEED="${FUZZ_SEED:-1}" FUZZ_MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}" bash fuzz/run.sh
