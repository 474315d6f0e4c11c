#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GitHub Action's last step after a scan: fail with modelseal's exit code
# (1: a finding reaches fail-on, 3: a file could not be read) once the SARIF
# has been uploaded. EXIT_CODE is run.sh's exit-code output.
set -euo pipefail
code=${EXIT_CODE:-}
[[ $code =~ ^[0-9]+$ ]] || {
  echo "::error title=modelseal::the scan did not run (no exit code)" >&2
  exit 2
}
case $code in
  0) exit 0 ;;
  1) echo "::error title=modelseal::a finding reaches fail-on (${INPUT_FAIL_ON:-high}); see the code scanning alerts or the SARIF file" >&2 ;;
  3) echo "::error title=modelseal::a file could not be read or scanned (exit 3)" >&2 ;;
  *) echo "::error title=modelseal::modelseal scan exited $code" >&2 ;;
esac
exit "$code"
