#!/usr/bin/env bash
# Instructions per request (callgrind): builds or settings side by side, the same count on every
# run of the same binary and settings however busy the machine is. CPU time per request
# (`bench/cpu-ab.sh`) is what users pay, but on a shared machine its rounds spread more than a
# change worth a few percent; instruction counts resolve those changes (not cache misses, which
# they do not see).
#
# Each variant runs on a fresh gateway under callgrind, counting only from the first to the last
# of the measured requests (after a warm-up), at 8 connections to the mock provider, plus a
# short wait for the log writer to store them. Under callgrind the gateway runs ~27 times
# slower (467 against 12,623 requests/s at 8 connections, 2026-11-29), so with the default
# 50 ms flush its log batches hold ~23 records instead of ~1,000 at saturation: give variants
# with logs on a config with `logs: {flush_interval_ms: 2000}` to weigh per-batch costs as at
# saturation.
#
# `--cache-sim` also simulates the caches (slower still): a 1 MiB last level, this machine's L2
# per core, so its misses per request stand for the lines each request brings in from further
# out. Nearly as steady as the instruction count (runs of one binary differed by ~6%, as log
# batches end at other requests), it judges changes meant to touch less memory (bytes cooling
# in a queue, copies), which instruction counts do not see and CPU time here cannot resolve.
#
# `--keep DIR` keeps each variant's profile as DIR/LABEL.cg, for `callgrind_annotate` (which
# function the instructions went to; two profiles side by side show what a change moved).
#
# Usage: bench/instructions.sh [--requests N] [--warm N] [--cache-sim] [--keep DIR] LABEL=BINARY[:CONFIG] ...
#   e.g. bench/instructions.sh off=target/release/portcullis:logs-off.yaml on=target/release/portcullis
set -euo pipefail

requests=2000
warm=200
cache=()
keep=
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift ;;
    --warm) warm=$2; shift ;;
    --cache-sim) cache=(--cache-sim=yes --LL=1048576,16,64) ;;
    --keep) keep=$2; shift ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *=*) variants+=("$1") ;;
    *) echo "not LABEL=BINARY[:CONFIG]: $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#variants[@]} -gt 0 ] || { echo "usage: $0 [--requests N] LABEL=BINARY[:CONFIG] ..." >&2; exit 2; }
. "$(dirname "$0")/lib.sh"
require oha valgrind callgrind_control callgrind_annotate python3 curl

variant "${variants[0]}"
start_mock "$bin"

load() { # port requests
  chat_request "$1"
  oha --no-tui -n "$2" -c 8 "${chat[@]}" >/dev/null
}

for v in "${variants[@]}"; do
  variant "$v"
  PORTCULLIS_LOG=warn valgrind --tool=callgrind --instr-atstart=no "${cache[@]}" \
    --callgrind-out-file="$work/$label.cg" "$bin" "${serve[@]}" >"$work/gw.log" 2>&1 &
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
  if [ -n "$keep" ]; then
    mkdir -p "$keep" && cp "$work/$label.cg" "$keep/$label.cg"
  fi
  callgrind_annotate "$work/$label.cg" 2>/dev/null | python3 -c '
import re, sys
label, n = sys.argv[1], int(sys.argv[2])
text = sys.stdin.read()
events = re.search(r"^Events recorded:\s*(.*)$", text, re.M).group(1).split()
totals = re.search(r"^\s*([\d,]+(?:\s+\([^)]*\)\s+[\d,]+)*).*PROGRAM TOTALS", text, re.M).group(1)
v = dict(zip(events, (int(x.replace(",", "")) for x in re.findall(r"[\d,]+(?=\s+\()", totals + " ("))))
ir = v["Ir"] / n / 1000
line = f"{label:<12} {ir:8.1f}k instructions/request"
if "DLmr" in v:
    d1 = (v["D1mr"] + v["D1mw"]) / n
    ll = (v["ILmr"] + v["DLmr"] + v["DLmw"]) / n
    line += f"  {d1:7.0f} L1 data misses  {ll:6.0f} last-level misses/request"
print(line)' "$label" "$requests"
done
