#!/usr/bin/env bash
# Repeatable cost figures for the corpus: instructions executed (valgrind callgrind),
# one job, hashing made deterministic — unlike wall times, these do not move with the
# machine's load, so a change's effect can be read from one run before and after.
#   Scripts/bench-instructions.sh [Specs]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
specs=${1:-Specs}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
swift build -c release --product ptregs-prove >/dev/null
bin=$(swift build -c release --show-bin-path)/ptregs-prove
count() {
  local out
  out=$(mktemp)
  SWIFT_DETERMINISTIC_HASHING=1 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$@" >/dev/null 2>&1 || true
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}
all=$(count --jobs 1 "$specs")
parse=$(count --parse-only --jobs 1 "$specs")
printf '%-28s %16s\n' "run (--jobs 1)" "instructions"
printf '%-28s %16s\n' "corpus, every verdict" "$all"
printf '%-28s %16s\n' "corpus, --parse-only" "$parse"
awk -v a="$all" -v p="$parse" 'BEGIN { printf "ratio all / parse-only: %.2fx (target < 3x)\n", a / p }'
