#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Differential fuzz of the scan gate against the real loaders (docs/fuzzing.md):
# hostile variants of files whose payload runs `touch "$PWN"` are loaded by
# numpy, joblib, pickle and torch's legacy paths (emulated with pickle and
# tarfile) on one side and scanned on the other; a file whose payload ran and
# whose scan has nothing at high or above is a fail-open, listed as MISS.
#
# usage: fuzz/differential/run.sh [OUT] [N]   (N random mutants per base, default 200)
# env:   PYTHON (needs numpy and joblib; default python3), CLI (default the repo's bin), JOBS
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${TMPDIR:-/tmp}/modelseal-differential}"
n="${2:-200}"
py="${PYTHON:-python3}"
cli="${CLI:-$here/../../packages/cli/bin/modelseal.js}"
if ! "$py" -c 'import numpy, joblib' 2>/dev/null; then
  echo "differential: $py lacks numpy or joblib (set PYTHON to an interpreter that has both)" >&2
  exit 2
fi
rm -rf "$out" && mkdir -p "$out"
"$py" "$here/bases.py" "$out/bases"
"$py" "$here/mutate.py" "$out/bases" "$out/random" "$n" 7
"$py" "$here/mutate_zip.py" "$out/bases" "$out/zip"
"$py" "$here/mutate_tar.py" "$out/bases" "$out/tar"
"$py" "$here/gen_stack.py" "$out/stacked" "$((n * 5))" 3
status=0
for set in random zip tar stacked; do
  "$py" "$here/oracle.py" "$out/$set" >/dev/null
  node "$here/compare.mjs" "$out/$set" "$cli" | sed "s/^/$set: /" | tee "$out/$set.result"
  grep -q ' 0 not flagged high$' "$out/$set.result" || status=1
done
exit $status
