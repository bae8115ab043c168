#!/usr/bin/env bash
# The CPU as an oracle, run longer than `swift test` does: random function-shaped
# programs assembled with `as --64` and run natively, compared with the concrete
# interpreter (registers, flags, stack), and what a native run breaks must not be
# proved. Prints every finding (program, inputs, CPU and model state) and the counts.
#   Scripts/cpu-oracle.sh [--seed N] [--programs N] [--runs N] [--prove-all] [--keep DIR]
#   Scripts/cpu-oracle.sh --seed N --show K      # the text of program K of seed N
# Exit 0 no finding, 1 findings, 2 cannot run (needs x86-64 Linux, as, cc).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product ptregs-oracle >/dev/null
exec "$(swift build -c release --show-bin-path)/ptregs-oracle" "$@"
