#!/usr/bin/env bash
# What SQLite itself costs per row of the request log, by table layout: instructions per row in
# `sqlite3_step` (callgrind), from the difference between runs inserting 16,384 and 32,768 rows
# (so the schema's creation and the first pages cancel out). Binding is not counted: it
# depends on how the writer binds, which `bench/instructions.sh` measures in the gateway.
#
# Usage: bench/sqlite-rows.sh [LAYOUT ...]   (default: table typed narrow chunk; see
#   bench/sqlite-rows/src/main.rs for what each is)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
  { echo "needs valgrind (callgrind_annotate)" >&2; exit 1; }
(cd "$root/bench/sqlite-rows" && cargo build --release --quiet)
bin=$root/bench/sqlite-rows/target/release/sqlite-rows
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { # layout rows: instructions in sqlite3_step, inclusive
  valgrind --tool=callgrind --callgrind-out-file="$work/$1.$2.cg" "$bin" "$1" "$2" "$work/$1.db" \
    >/dev/null 2>&1
  callgrind_annotate --inclusive=yes "$work/$1.$2.cg" 2>/dev/null |
    awk '!found && /sqlite3.c:sqlite3_step / { gsub(",", "", $1); print $1; found = 1 }'
}
layouts=("$@")
[ ${#layouts[@]} -gt 0 ] || layouts=(table typed narrow chunk)
for l in "${layouts[@]}"; do
  small=$(step "$l" 16384)
  large=$(step "$l" 32768)
  printf '%-8s %6d instructions per row in sqlite3_step\n' "$l" $(((large - small) / 16384))
done
