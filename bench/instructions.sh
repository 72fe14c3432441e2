#!/usr/bin/env bash
# Instructions per request (callgrind): builds or settings side by side, the same count on every
# run of the same binary and settings however busy the machine is. CPU time per request
# (`bench/cpu-ab.sh`) is what users pay, but on a shared machine its rounds spread more than a
# change worth a few percent; instruction counts resolve those changes (not cache misses, which
# they do not see).
#
# Each variant runs on a fresh gateway under callgrind, counting only from the first to the last
# of the measured requests (after a warm-up), at 8 connections to the mock provider, plus a
# short wait for the log writer to store them. Under callgrind the gateway runs ~50 times
# slower, so with the default 50 ms flush its log batches hold ~20 records instead of ~1,000:
# give the variants a config with `logs: {flush_interval_ms: 2000}` to weigh per-batch costs
# as at saturation.
#
# Usage: bench/instructions.sh [--requests N] [--warm N] LABEL=BINARY[:CONFIG] ...
#   e.g. bench/instructions.sh off=target/release/portcullis:logs-off.yaml on=target/release/portcullis
set -euo pipefail

requests=2000
warm=200
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift ;;
    --warm) warm=$2; shift ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *=*) variants+=("$1") ;;
    *) echo "not LABEL=BINARY[:CONFIG]: $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#variants[@]} -gt 0 ] || { echo "usage: $0 [--requests N] LABEL=BINARY[:CONFIG] ..." >&2; exit 2; }
for v in oha valgrind callgrind_control callgrind_annotate python3 curl; do
  command -v "$v" >/dev/null 2>&1 || { echo "instructions: $v is required" >&2; exit 1; }
done

. "$(dirname "$0")/lib.sh"

first_bin=${variants[0]#*=}; first_bin=${first_bin%%:*}
mock_port=$(free_port)
"$first_bin" mock-provider --port "$mock_port" --no-record >"$work/mock.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$mock_port/__mock/health"

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello, how are you today?"}]}'
load() { # port requests
  oha --no-tui -n "$2" -c 8 -m POST \
    -H "x-portkey-provider: openai" -H "x-portkey-custom-host: http://127.0.0.1:$mock_port/v1" \
    -H "authorization: Bearer sk-bench" -H "content-type: application/json" -d "$body" \
    "http://127.0.0.1:$1/v1/chat/completions" >/dev/null
}

for v in "${variants[@]}"; do
  label=${v%%=*}; spec=${v#*=}; bin=${spec%%:*}; cfg=""
  [ "$spec" != "$bin" ] && cfg=${spec#*:}
  port=$(free_port)
  rm -rf "$work/gw"; mkdir -p "$work/gw"
  args=(serve --port "$port" --data-dir "$work/gw")
  [ -n "$cfg" ] && args+=(--config "$cfg")
  PORTCULLIS_LOG=warn valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$work/$label.cg" "$bin" "${args[@]}" >"$work/gw.log" 2>&1 &
  gw=$!
  # Starting under valgrind takes longer than `wait_http` allows.
  for _ in $(seq 1 60); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health" && break
    sleep 0.5
  done
  wait_http "http://127.0.0.1:$port/v1/health"
  load "$port" "$warm"
  sleep 1
  callgrind_control -i on "$gw" >/dev/null 2>&1
  load "$port" "$requests"
  sleep 3
  callgrind_control -i off "$gw" >/dev/null 2>&1
  kill -INT "$gw"; wait "$gw" 2>/dev/null || true
  total=$(callgrind_annotate "$work/$label.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  python3 -c "import sys; print(f'{sys.argv[1]:<12} {int(sys.argv[2]) / int(sys.argv[3]) / 1000:8.1f}k instructions/request')" \
    "$label" "$total" "$requests"
done
