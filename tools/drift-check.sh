#!/usr/bin/env bash
# The nightly drift check of one stack (.github/workflows/drift.yml): a preview with a refresh that
# expects no changes. No drift closes the stack's drift issue; drift opens or updates it with the
# preview's output (tools/drift_issue.py); a preview that fails for another reason fails the job.
#
#   tools/drift-check.sh STACK OWNER/REPOSITORY RUN_URL
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -ne 3 ]]; then
  echo "usage: tools/drift-check.sh STACK OWNER/REPOSITORY RUN_URL" >&2
  exit 2
fi
stack=$1
python=${PYTHON:-$PWD/.venv/bin/python}
output=$(mktemp)
trap 'rm -f "$output"' EXIT

if tools/pulumi.sh preview "$stack" --refresh --expect-no-changes --diff --non-interactive >"$output" 2>&1; then
  "$python" -m tools.drift_issue --repository "$2" --stack "$stack" --no-drift --run-url "$3"
elif grep -q "no changes were expected" "$output"; then
  cat "$output"
  "$python" -m tools.drift_issue --repository "$2" --stack "$stack" --diff "$output" --run-url "$3"
  exit 1
else
  cat "$output"
  echo "error: the preview of $stack failed (not drift): see above" >&2
  exit 1
fi
