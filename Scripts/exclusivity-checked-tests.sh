#!/usr/bin/env bash
# The prover's hot state skips Swift's runtime exclusivity checks
# (`@exclusivity(unchecked)`, where a benchmark shows they cost as much as the work).
# This builds a copy of the package with every such attribute removed, so the checks are
# on, and runs the tests that drive those types hardest: an overlapping access that the
# attributes hide in normal builds traps here.
#   Scripts/exclusivity-checked-tests.sh [swift test --filter pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
filter=${1:-'CorpusTests|DifferentialTests|LoopSoundnessTests|ExpectationTests|StopSemanticsTests|ObservedRestoreTests|CertificateTests'}
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git ls-files -z | xargs -0 -I{} cp --parents {} "$copy"
count=$(grep -rl '@exclusivity(unchecked)' "$copy/Sources" | xargs grep -c '@exclusivity(unchecked)' | awk -F: '{s+=$2} END {print s+0}')
grep -rl '@exclusivity(unchecked)' "$copy/Sources" | xargs sed -i 's/@exclusivity(unchecked) //g; s/@exclusivity(unchecked)//g'
left=$( (grep -r '@exclusivity(unchecked)' "$copy/Sources" || true) | wc -l)
[ "$left" -eq 0 ] || { echo "could not remove every @exclusivity(unchecked)" >&2; exit 2; }
echo "exclusivity checks on for $count declarations"
cd "$copy"
swift build --build-tests -Xswiftc -enforce-exclusivity=checked
swift test --skip-build --filter "$filter"
