#!/usr/bin/env bash
# The fork-safe pull-request check (.github/workflows/pr-diff.yml): for each stack the change
# touches, render the base (with the base's own program) and the head offline, without the
# decryption key, and write into pr-diff/ the Markdown report (report.md: each stack's diff and
# the policy pack's results), each stack's full diff (full/), and the pull request's number.
#
#   tools/pr-diff.sh BASE_SHA PULL_REQUEST_NUMBER RUN_URL
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -ne 3 || ! $2 =~ ^[0-9]+$ || ! $1 =~ ^[0-9a-f]{7,40}$ ]]; then
  echo "usage: tools/pr-diff.sh BASE_SHA PULL_REQUEST_NUMBER RUN_URL" >&2
  exit 2
fi
base_sha=$1
python=${PYTHON:-$PWD/.venv/bin/python}
out=pr-diff
renders=$(mktemp -d)
base=$(mktemp -d)
rm -rf "$out"
mkdir -p "$out/sections" "$out/full"
printf '%s\n' "$2" >"$out/pull-request"
git worktree add --detach "$base/checkout" "$base_sha" >/dev/null 2>&1
trap 'git worktree remove --force "$base/checkout"; rm -rf "$renders" "$base"' EXIT

for stack in $("$python" -m tools.affected --base "$base_sha"); do
  "$python" -m tools.render "$stack" --out "$renders/head/$stack" --without-secrets >/dev/null
  if ! (cd "$base/checkout" && "$python" -m tools.render "$stack" --out "$renders/base/$stack" --without-secrets \
    >/dev/null 2>&1); then
    # A stack this pull request adds (or a base that cannot render it): everything is new.
    mkdir -p "$renders/base/$stack"
    printf '{"stack": "%s", "resources": [], "outputs": {}}\n' "$stack" >"$renders/base/$stack/resources.json"
  fi
  "$python" -m tools.render --diff "$renders/base/$stack" "$renders/head/$stack" --markdown >"$out/sections/$stack.md"
  "$python" -m tools.render --diff "$renders/base/$stack" "$renders/head/$stack" >"$out/full/$stack.diff" || true
done

shopt -s nullglob
"$python" -m tools.pr_comment assemble "$out"/sections/*.md --out "$out/report.md" --full-diff-url "$3"
echo "The report is in $out/report.md."
