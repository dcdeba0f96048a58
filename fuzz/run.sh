#!/usr/bin/env bash
# Schema-driven fuzz run of the built worker against the IPFS Pinning Service spec, with schemathesis.
#
#   bash scripts/build.sh      # once, beforehand: this script builds nothing
#   bash fuzz/run.sh           # ~2.5 min, random seed; exit 0 = no failures, 1 = failures, 2 = setup error
#   FUZZ_SEED=1 FUZZ_MAX_EXAMPLES=500 bash fuzz/run.sh   # what `npm test` runs: ~75 s, the same outcome every run
#
# Environment (all optional):
#   FUZZ_PORT          port for the worker on 127.0.0.1             (default 8799)
#   FUZZ_MAX_EXAMPLES  test cases per operation in the fuzzing phase, scenarios in the stateful one (default 1000)
#   FUZZ_TIMEOUT       hard limit on the schemathesis runs together, seconds (default 900)
#   FUZZ_SEED          hypothesis seed of both schemathesis processes (default: a random one, printed)
#   WRANGLER_CONFIG    the wrangler.toml to take bindings and vars from (default: the repo's)
#   SPEC               the OpenAPI file    (default fuzz/ipfs-pinning-service.yaml, a copy of the v1.0.0 spec)
#
# What it does: makes fuzz/.venv with schemathesis if missing; serves build/ in workerd through
# Miniflare, configured by wrangler's own reader (scripts/local-server.mjs), from a copy of
# wrangler.toml without [build] (so the worker is NOT rebuilt from a src/ that may be mid-edit)
# and without [[ratelimits]], with the repo's .dev.vars (user dev/dev, PIN_BACKEND=instant), on a fresh
# local KV; gets a JWT from POST /token; runs every schemathesis check (--checks all) over all phases
# (examples, coverage, fuzzing, stateful over the requestid links that fuzz/hooks.py adds); stops
# the server on any exit. Reports (JUnit XML, NDJSON events, a pytest file reproducing each failure) go
# to fuzz/report/unit/ and fuzz/report/stateful/; `fuzz/.venv/bin/python fuzz/summarize.py` tabulates
# the NDJSON ones.
# The false positives this run does not flag are dropped, each with the spec / docs/behaviour.md text
# behind it, by fuzz/hooks.py (named in fuzz/schemathesis.toml).
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/.." && pwd)"
PORT="${FUZZ_PORT:-8799}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-1000}"
TIMEOUT="${FUZZ_TIMEOUT:-900}"
SEED="${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"  # printed, so any run can be repeated
SPEC="${SPEC:-$FUZZ_DIR/ipfs-pinning-service.yaml}"
BASE="http://127.0.0.1:$PORT"
RUN_DIR="$FUZZ_DIR/.run"
REPORT_DIR="$FUZZ_DIR/report"
WRANGLER_CONFIG="${WRANGLER_CONFIG:-$ROOT/wrangler.toml}"

die() { echo "fuzz: $*" >&2; exit 2; }

[ -f "$SPEC" ] || die "spec not found: $SPEC"
[ -f "$WRANGLER_CONFIG" ] || die "wrangler config not found: $WRANGLER_CONFIG"
[ -x "$ROOT/node_modules/.bin/wrangler" ] || die "node_modules/.bin/wrangler is missing: run 'bash scripts/setup.sh' first"
[ -f "$ROOT/.dev.vars" ] || die ".dev.vars is missing (the worker takes USERS, JWT_SECRET, PIN_BACKEND from it)"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "port $PORT on 127.0.0.1 is already in use; set FUZZ_PORT"
fi

# --- schemathesis in a venv of its own ---------------------------------------------------------------
# (Re)installed when fuzz/requirements.txt differs from the copy the last install left in the venv.
ST="$FUZZ_DIR/.venv/bin/schemathesis"
if [ ! -x "$ST" ] || ! cmp -s "$FUZZ_DIR/requirements.txt" "$FUZZ_DIR/.venv/requirements.txt"; then
  [ -x "$FUZZ_DIR/.venv/bin/python" ] || python3 -m venv "$FUZZ_DIR/.venv"
  timeout 600 "$FUZZ_DIR/.venv/bin/pip" install --quiet -r "$FUZZ_DIR/requirements.txt" ||
    die "pip could not install fuzz/requirements.txt"
  cp "$FUZZ_DIR/requirements.txt" "$FUZZ_DIR/.venv/requirements.txt"
fi

# --- a wrangler config for this run, beside a copy of .dev.vars -------------------------------------
rm -rf "$RUN_DIR" "$REPORT_DIR"
mkdir -p "$RUN_DIR" "$REPORT_DIR"
# From $WRANGLER_CONFIG (default: the repo's wrangler.toml), parsed as TOML, minus two tables:
#  - [build]: `wrangler dev` with it would rebuild from a src/ that may be mid-edit; this run serves
#    the build/ that is there (and the server never builds; the table goes for anyone who serves
#    fuzz/.run/wrangler.json with wrangler dev to reproduce a failure).
#  - [[ratelimits]]: a per-user limit of N requests a minute would turn most of a fast fuzz run into
#    429s; without the binding the worker applies no limit (src/edge/limiter.rs). Rate limiting is not
#    what this run tests.
# main= becomes an absolute path to the build output, and so does [assets] directory=.
"$FUZZ_DIR/.venv/bin/python" - "$WRANGLER_CONFIG" "$ROOT" "$RUN_DIR/wrangler.json" <<'PY' ||
import json, os, sys, tomllib
src, root, out = sys.argv[1:4]
try:
    with open(src, "rb") as f:
        cfg = tomllib.load(f)
except tomllib.TOMLDecodeError as e:
    sys.exit(f"fuzz: {src} is not valid TOML ({e}); wrangler could not read it either")
for table in ("build", "ratelimits"):
    cfg.pop(table, None)
main = cfg.get("main")
if not main:
    sys.exit(f"fuzz: no main = in {src}")
cfg["main"] = os.path.join(root, main)
# The console's static assets ([assets], README "Console"), by absolute path like main: the same
# routing as deployed (a path naming a console file is served from it, the API goes to the worker).
if "assets" in cfg and "directory" in cfg["assets"]:
    cfg["assets"]["directory"] = os.path.join(root, cfg["assets"]["directory"])
if not os.path.isfile(cfg["main"]):
    sys.exit(f"fuzz: {main} is missing: run 'bash scripts/build.sh' first")
with open(out, "w") as f:
    json.dump(cfg, f, indent=2)
PY
  exit 2
cp "$ROOT/.dev.vars" "$RUN_DIR/.dev.vars"

SERVER_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    # The server runs in a process group of its own (setsid): end it and its workerd children.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "fuzz: starting the worker on $BASE (log: fuzz/.run/server.log)"
(
  cd "$ROOT"
  export PATH="$ROOT/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false
  # No fetch of the Request.cf object from Cloudflare: this run talks to 127.0.0.1 only.
  export CLOUDFLARE_CF_FETCH_ENABLED=false
  # Miniflare configured by wrangler's own reader from the config above, not `wrangler dev`: its
  # ProxyWorker answered one DELETE of a CI run 503 "Your worker restarted mid-request", a race of
  # two idle timers on its pooled connection to the worker (scripts/local-server.mjs says more).
  # A hard ceiling on the server's life, whatever happens to this script.
  exec setsid timeout $((TIMEOUT + 120)) node scripts/local-server.mjs \
    --config "$RUN_DIR/wrangler.json" --port "$PORT"
) > "$RUN_DIR/server.log" 2>&1 < /dev/null &
SERVER_PID=$!

ready=""
for _ in $(seq 1 120); do
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$RUN_DIR/server.log" >&2; die "the server exited"; }
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$BASE/pins" || true)"
  if [ "$code" = 401 ]; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || { cat "$RUN_DIR/server.log" >&2; die "the worker did not answer on $BASE within 60 s"; }

TOKEN="$(curl -s -m 10 -X POST -u dev:dev "$BASE/token" |
  "$FUZZ_DIR/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')" ||
  die "POST /token with dev:dev gave no token"

echo "fuzz: schemathesis $("$ST" --version | awk '{print $NF}') against $BASE, spec $SPEC, seed $SEED, $MAX_EXAMPLES examples"
cd "$FUZZ_DIR"  # schemathesis.toml names hooks.py relative to the working directory
deadline=$((SECONDS + TIMEOUT))
# Two schemathesis processes on the one server: examples, coverage and fuzzing, then the stateful
# phase on its own. In one process the stateful phase draws requestids from the pool the fuzzing
# phase filled; a scenario that replaces or deletes such a pin changes what the same draws do next
# time, Hypothesis stops with FlakyStrategyDefinition, and schemathesis counts the phase as passed
# after a dozen scenarios instead of the ~max-examples it runs from an empty pool.
schemathesis_run() {  # $1 = phases, $2 = report subdirectory
  local left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || return 124
  timeout "$left" "$ST" --config-file "$FUZZ_DIR/schemathesis.toml" run "$SPEC" \
    --url "$BASE" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all \
    --phases "$1" \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --request-timeout 10 \
    --continue-on-failure \
    --seed "$SEED" \
    --generation-database none \
    --report junit,ndjson,pytest --report-dir "$REPORT_DIR/$2" \
    --no-color
}
set +e
schemathesis_run examples,coverage,fuzzing unit
rc_unit=$?
schemathesis_run stateful stateful
rc_stateful=$?
set -e
rc=0
for r in "$rc_unit" "$rc_stateful"; do
  case "$r" in
    0) ;;
    124) echo "fuzz: schemathesis did not finish within FUZZ_TIMEOUT=$TIMEOUT s" >&2; rc=1 ;;
    *) rc=1 ;;
  esac
done
if [ "$rc" = 0 ]; then
  echo "fuzz: no failures (seed $SEED, $MAX_EXAMPLES examples, $SECONDS s in all)"
else
  echo "fuzz: failures (exit $rc_unit for examples/coverage/fuzzing, $rc_stateful for stateful; seed $SEED); reproductions in fuzz/report/" >&2
  # What the server and the worker printed (an error, a log line), for a failure CI cannot rerun.
  echo "fuzz: the server's log:" >&2
  tail -40 "$RUN_DIR/server.log" >&2 || true
fi
exit "$rc"
