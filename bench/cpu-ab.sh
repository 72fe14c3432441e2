#!/usr/bin/env bash
# Paired A/B of the gateway's CPU per request at saturation: builds or settings side by side.
#
# Throughput on this two-core machine swings by tens of percent from run to run; CPU time per
# request swings far less, and rounds that alternate the variants share the machine's mood. Each
# round starts every variant on a fresh gateway (pinned to core 0, its data directory empty),
# warms it, then loads it at 32 connections and reads the gateway's user + system time from
# /proc; the mock provider and the load generator share core 1, as in `bench/run.sh`.
#
# Usage: bench/cpu-ab.sh [--rounds N] [--warm S] [--seconds S] LABEL=BINARY[:CONFIG] ...
#   e.g. bench/cpu-ab.sh off=target/release/portcullis:logs-off.yaml on=target/release/portcullis
# Prints one line per variant and round (CPU split into user and system time), then each
# variant's medians and its differences from the first variant's rounds, paired by round.
set -euo pipefail

rounds=4
warm=3
secs=8
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --warm) warm=$2; shift ;;
    --seconds) secs=$2; shift ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *=*) variants+=("$1") ;;
    *) echo "not LABEL=BINARY[:CONFIG]: $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#variants[@]} -gt 0 ] || { echo "usage: $0 [--rounds N] LABEL=BINARY[:CONFIG] ..." >&2; exit 2; }
. "$(dirname "$0")/lib.sh"
require oha taskset python3 curl

variant "${variants[0]}"
start_mock taskset -c 1 "$bin"

ticks_per_s=$(getconf CLK_TCK)
load() { # port seconds -> oha JSON
  chat_request "$1"
  taskset -c 1 oha --no-tui --output-format json -z "${2}s" -c 32 "${chat[@]}"
}
cpu_ticks() { awk '{print $14 "," $15}' "/proc/$1/stat"; } # user,system

: >"$work/results"
for r in $(seq 1 "$rounds"); do
  for v in "${variants[@]}"; do
    variant "$v"
    PORTCULLIS_LOG=warn taskset -c 0 "$bin" "${serve[@]}" >"$work/gw.log" 2>&1 &
    gw=$!
    wait_http "http://127.0.0.1:$port/v1/health"
    load "$port" "$warm" >/dev/null
    t0=$(cpu_ticks "$gw")
    load "$port" "$secs" >"$work/oha.json"
    t1=$(cpu_ticks "$gw")
    kill "$gw"; wait "$gw" 2>/dev/null || true
    python3 - "$work/oha.json" "$label" "$r" "$t0" "$t1" "$ticks_per_s" >>"$work/results" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
label, r, hz = sys.argv[2], sys.argv[3], int(sys.argv[6])
(u0, s0), (u1, s1) = (map(int, a.split(",")) for a in sys.argv[4:6])
n = sum(d["statusCodeDistribution"].values())
ok = d["statusCodeDistribution"].get("200", 0)
per = lambda ticks: ticks * 1e6 / hz / max(n, 1)
user, system = per(u1 - u0), per(s1 - s0)
print(f"{label}\t{r}\t{d['summary']['requestsPerSec']:.0f}\t{user + system:.2f}\t{ok}/{n}\t{user:.2f}\t{system:.2f}")
PY
    tail -n 1 "$work/results" | awk -F'\t' '{printf "round %s  %-12s %8s req/s  %7s us CPU/request (user %s, system %s)  (%s ok)\n", $2, $1, $3, $4, $6, $7, $5}'
  done
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
labels = list(dict.fromkeys(r[0] for r in rows))
col = lambda l, i: [float(r[i]) for r in rows if r[0] == l]
print("median over rounds:")
for l in labels:
    print(f"  {l:<12} {statistics.median(col(l, 2)):8.0f} req/s  {statistics.median(col(l, 3)):7.2f} us CPU/request"
          f" (user {statistics.median(col(l, 5)):.2f}, system {statistics.median(col(l, 6)):.2f})")
# Rounds share the machine's mood: the difference within a round says more than two medians.
for l in labels[1:]:
    diffs = sorted(b - a for a, b in zip(col(labels[0], 3), col(l, 3)))
    print(f"  {l} - {labels[0]}, paired by round: median {statistics.median(diffs):+.2f} us"
          f" (from {diffs[0]:+.2f} to {diffs[-1]:+.2f})")
PY
