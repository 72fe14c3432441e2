# Shared by the benchmark scripts (sourced): a scratch directory removed at exit with every
# process started into `pids`, free loopback ports, and waiting for a server to answer.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Waits up to 10 s for `$1` to answer 2xx.
wait_http() {
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): $1 did not come up" >&2; exit 1
}

# Exits unless every command named is installed.
require() {
  for v in "$@"; do
    command -v "$v" >/dev/null 2>&1 || { echo "$(basename "$0"): $v is required" >&2; exit 1; }
  done
}

# Starts the mock provider (the command given, e.g. `taskset -c 1 BINARY`, then its
# arguments) on a free port, kept in `mock_port`.
start_mock() {
  mock_port=$(free_port)
  "$@" mock-provider --port "$mock_port" --no-record >"$work/mock.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$mock_port/__mock/health"
}

# oha's arguments for the benchmarks' chat request to the gateway on port `$1`, the mock
# provider upstream, into `chat`.
chat_request() {
  chat=(-m POST -H "x-portkey-provider: openai"
    -H "x-portkey-custom-host: http://127.0.0.1:$mock_port/v1"
    -H "authorization: Bearer sk-bench" -H "content-type: application/json"
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello, how are you today?"}]}'
    "http://127.0.0.1:$1/v1/chat/completions")
}

# One LABEL=BINARY[:CONFIG] variant of a comparison: `label` and `bin`, a free `port`, and in
# `serve` the arguments of a fresh gateway there (its data directory emptied).
variant() {
  label=${1%%=*}
  local spec=${1#*=}
  bin=${spec%%:*}
  port=$(free_port)
  rm -rf "$work/gw"; mkdir -p "$work/gw"
  serve=(serve --port "$port" --data-dir "$work/gw")
  [ "$spec" != "$bin" ] && serve+=(--config "${spec#*:}")
  return 0
}
