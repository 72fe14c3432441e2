#!/usr/bin/env bash
# End-to-end tests: official client SDKs (Python openai / anthropic / portkey-ai, Node openai)
# against a real `portcullis serve`, with `portcullis mock-provider` as every upstream.
# A second `portcullis serve` (own data directory, PORTCULLIS_ADMIN_KEY set) serves the
# portkey-ai admin tests: creating workspace keys ends open mode, so they cannot share the first.
#
#   e2e/run.sh [--no-build] [--python-only | --node-only] [PYTEST_ARGS...]
#
#   --no-build      reuse target/release/portcullis as it is (fail if it does not exist)
#   --python-only   skip the Node suite        --node-only   skip the Python suite
#   PYTEST_ARGS     passed to pytest, e.g. `-k stream -x`
#
# Environment: E2E_TIMEOUT (seconds for everything after the build, default 600),
# E2E_BUILD_TIMEOUT (seconds for `cargo build --release`, default 1800: a guard against a hung
# build, not a speed check; a clean release build takes ~10 min on 2 busy cores), PORTCULLIS_BIN (use
# this binary instead of building), E2E_KEEP_LOGS=1 (keep the log directory).
#
# The Python venv lives in target/e2e-venv and is reinstalled when requirements.txt changes;
# e2e/node/node_modules is reinstalled (`npm ci`) when package-lock.json changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/e2e"
VENV="$ROOT/target/e2e-venv"
E2E_TIMEOUT="${E2E_TIMEOUT:-600}"
E2E_BUILD_TIMEOUT="${E2E_BUILD_TIMEOUT:-1800}"

build=1
run_python=1
run_node=1
pytest_args=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --python-only) run_node=0 ;;
    --node-only) run_python=0 ;;
    -h | --help)
      sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) pytest_args+=("$arg") ;;
  esac
done

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[e2e] error: %s\n' "$*" >&2
  exit 1
}

# --- prerequisites ---------------------------------------------------------------------------

command -v curl >/dev/null || die "curl is required (apt-get install curl)"
if ((run_python)); then
  command -v python3 >/dev/null ||
    die "python3 is not installed or not on PATH; the Python suite needs Python >= 3.9 with venv"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    die "python3 is $(python3 --version 2>&1); the Python suite needs >= 3.9"
fi
if ((run_node)); then
  command -v node >/dev/null || die "node is not installed or not on PATH; the Node suite needs Node >= 20"
  command -v npm >/dev/null || die "npm is not installed or not on PATH; the Node suite needs it"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
    die "node is $(node --version); the Node suite needs >= 20"
fi

# `bounded SECONDS DESCRIPTION CMD...`: run CMD, failing clearly if it outlives SECONDS.
bounded() {
  local secs="$1" what="$2" rc=0
  shift 2
  timeout -k 10 "$secs" "$@" || rc=$?
  if ((rc == 124 || rc == 137)); then
    printf '[e2e] error: %s took over %ss and was stopped\n' "$what" "$secs" >&2
  fi
  return "$rc"
}

# --- the binary ------------------------------------------------------------------------------

BIN="${PORTCULLIS_BIN:-$ROOT/target/release/portcullis}"
if [[ -z "${PORTCULLIS_BIN:-}" ]] && ((build)); then
  command -v cargo >/dev/null || die "cargo is not on PATH (or pass --no-build / PORTCULLIS_BIN)"
  log "cargo build --release (reuses the previous build when nothing changed)"
  (cd "$ROOT" && bounded "$E2E_BUILD_TIMEOUT" "cargo build --release" cargo build --release --bin portcullis)
fi
[[ -x "$BIN" ]] || die "$BIN does not exist; build it with cargo build --release"

# Everything from here on shares one deadline.
DEADLINE=$((SECONDS + E2E_TIMEOUT))
remaining() {
  local left=$((DEADLINE - SECONDS))
  ((left > 0)) || left=1
  echo "$left"
}

# --- servers ---------------------------------------------------------------------------------

LOGS="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-e2e.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if ((rc != 0)); then
    for f in "$LOGS"/*.log; do
      [[ -s "$f" ]] || continue
      printf '\n----- %s (last 200 lines) -----\n' "$(basename "$f")" >&2
      tail -n 200 "$f" >&2
    done
    printf '\n[e2e] FAILED (exit %s); logs in %s\n' "$rc" "$LOGS" >&2
  elif [[ "${E2E_KEEP_LOGS:-0}" == 1 ]]; then
    log "logs kept in $LOGS"
  else
    rm -rf "$LOGS"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_ports() {
  # `free_ports N`: N distinct free loopback ports (held open together so they differ).
  local n="$1"
  if command -v python3 >/dev/null; then
    python3 - "$n" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    # shellcheck disable=SC2016 # JavaScript template literal, not shell
    node -e '
      const net = require("net");
      const n = Number(process.argv[1]), servers = [];
      const next = () => {
        if (servers.length === n) {
          console.log(servers.map((s) => s.address().port).join(" "));
          servers.forEach((s) => s.close());
          return;
        }
        const s = net.createServer().listen(0, "127.0.0.1", next);
        servers.push(s);
      };
      next();' "$n"
  fi
}

# `wait_healthy NAME PID URL`: poll URL until it answers 200 (max 30 s or the deadline).
wait_healthy() {
  local name="$1" pid="$2" url="$3" until=$((SECONDS + 30))
  while ! curl -fsS --noproxy '*' -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$name exited during startup (see $name.log below)"
    ((SECONDS < until && SECONDS < DEADLINE)) || die "$name did not become healthy at $url within 30 s"
    sleep 0.1
  done
}

read -r MOCK_PORT GW_PORT ADMIN_PORT < <(free_ports 3) || true
[[ -n "${ADMIN_PORT:-}" ]] || die "could not pick free ports"

# Gateway settings come only from flags: drop the caller's PORTCULLIS_* settings (a config
# file or gateway keys would change what the tests see), keeping log level and test switches.
while IFS='=' read -r name _; do
  case "$name" in
    PORTCULLIS_LOG | PORTCULLIS_REQUIRE_SERVICES) ;;
    PORTCULLIS_*) unset "$name" ;;
  esac
done < <(env)
export NO_COLOR=1
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

log "starting mock provider on 127.0.0.1:$MOCK_PORT and gateway on 127.0.0.1:$GW_PORT"
"$BIN" mock-provider --host 127.0.0.1 --port "$MOCK_PORT" >"$LOGS/mock.log" 2>&1 &
pids+=($!)
mock_pid=$!
mkdir -p "$LOGS/data"
"$BIN" serve --host 127.0.0.1 --port "$GW_PORT" --data-dir "$LOGS/data" >"$LOGS/gateway.log" 2>&1 &
pids+=($!)
gw_pid=$!

# The admin gateway: its own data directory and a random bootstrap admin key (an organisation
# key with every admin scope), given to that process and to pytest only.
ADMIN_KEY="pc-e2e-admin-$(head -c 36 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
log "starting admin gateway (PORTCULLIS_ADMIN_KEY) on 127.0.0.1:$ADMIN_PORT"
mkdir -p "$LOGS/admin-data"
PORTCULLIS_ADMIN_KEY="$ADMIN_KEY" "$BIN" serve --host 127.0.0.1 --port "$ADMIN_PORT" \
  --data-dir "$LOGS/admin-data" >"$LOGS/admin-gateway.log" 2>&1 &
pids+=($!)
admin_pid=$!

export MOCK_URL="http://127.0.0.1:$MOCK_PORT"
export PORTCULLIS_URL="http://127.0.0.1:$GW_PORT"
ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
wait_healthy mock "$mock_pid" "$MOCK_URL/__mock/health"
wait_healthy gateway "$gw_pid" "$PORTCULLIS_URL/v1/health"
wait_healthy admin-gateway "$admin_pid" "$ADMIN_URL/v1/health"
log "servers are up"

# --- client dependencies ---------------------------------------------------------------------

if ((run_python)); then
  req="$E2E/python/requirements.txt"
  want="$(cat "$req" <(python3 --version 2>&1) | sha256sum | cut -d' ' -f1)"
  stamp="$VENV/.e2e-requirements.sha256"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c '' 2>/dev/null ||
    [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "installing Python requirements into ${VENV#"$ROOT"/}"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    bounded "$(remaining)" "pip install" "$VENV/bin/python" -m pip install -q \
      --disable-pip-version-check --no-input -r "$req"
    echo "$want" >"$stamp"
  fi
fi

if ((run_node)); then
  lock="$E2E/node/package-lock.json"
  want="$(cat "$lock" <(node --version) | sha256sum | cut -d' ' -f1)"
  stamp="$E2E/node/node_modules/.e2e-lock.sha256"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "npm ci in e2e/node"
    (cd "$E2E/node" && bounded "$(remaining)" "npm ci" npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
fi

# --- tests -----------------------------------------------------------------------------------

failed=()
if ((run_python)); then
  log "pytest (openai, anthropic, portkey-ai SDKs; portkey-ai admin API)"
  (cd "$E2E/python" && bounded "$(remaining)" pytest env PORTCULLIS_ADMIN_URL="$ADMIN_URL" \
    PORTCULLIS_ADMIN_KEY="$ADMIN_KEY" PORTCULLIS_ADMIN_LOG="$LOGS/admin-gateway.log" \
    "$VENV/bin/python" -m pytest ${pytest_args[@]+"${pytest_args[@]}"}) || failed+=(python)
fi
if ((run_node)); then
  log "node --test (openai Node SDK)"
  (cd "$E2E/node" && bounded "$(remaining)" "node --test" node --test --test-concurrency=1 \
    test/*.test.mjs) || failed+=(node)
fi

# Every server must have survived the run.
for pid in "$mock_pid" "$gw_pid" "$admin_pid"; do
  kill -0 "$pid" 2>/dev/null || {
    log "a server exited during the tests"
    failed+=(server)
  }
done

if ((${#failed[@]})); then
  die "failed: ${failed[*]}"
fi
log "all end-to-end tests passed"
