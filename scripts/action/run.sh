#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GitHub Action's step: `modelseal sign|verify|scan` from the action's
# inputs (given as INPUT_* environment variables by action.yml; never
# interpolated into the script). Writes step outputs to $GITHUB_OUTPUT:
# exit-code, signature, sarif-file.
#
# sign and verify exit with modelseal's code. scan exits 0 and leaves the
# failure to action.yml's last step (scripts/action/finish.sh), so that the
# SARIF is uploaded to code scanning first.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${GITHUB_OUTPUT:-/dev/null}

die() {
  echo "::error title=modelseal::$*" >&2
  exit 2
}

mode=${INPUT_MODE:-}
model=${INPUT_MODEL:-}
[[ -n $model ]] || die "the model input is required (a file or directory)"
method=${INPUT_METHOD:-sigstore}
case $method in sigstore | key | certificate) ;; *) die "method must be sigstore, key or certificate, got '$method'" ;; esac

# Extra arguments: split like a shell would (quotes, backslashes), never evaluated.
extra=()
args_input=${INPUT_ARGS:-}
if [[ -n ${args_input//[[:space:]]/} ]]; then
  split=$(mktemp)
  if ! printf '%s' "$args_input" | xargs printf '%s\0' >"$split"; then
    rm -f "$split"
    die "cannot split the args input (unbalanced quotes?)"
  fi
  mapfile -d '' extra <"$split"
  rm -f "$split"
fi

signature=${INPUT_SIGNATURE:-}
[[ -n $signature ]] || signature="${model%/}.sig"
fail_on=${INPUT_FAIL_ON:-high}
# sign refuses --fail-on none (signing past findings takes --allow-unsafe REASON,
# which is recorded): said here, before modelseal is installed.
if [[ $mode == sign && $fail_on == none ]]; then
  die "fail-on none applies to mode scan only; to sign despite findings, give --allow-unsafe REASON in args (the reason is recorded)"
fi

mapfile -t cli < <("$here/cli.sh")
[[ ${#cli[@]} -gt 0 ]] || die "cannot find or install modelseal"

args=()
case $mode in
  sign)
    args=(sign "$method" "$model" --signature "$signature" --fail-on "$fail_on" --progress plain)
    [[ ${INPUT_ATTEST_SCAN:-false} == true ]] && args+=(--attest-scan)
    echo "signature=$signature" >>"$out"
    ;;
  verify)
    args=(verify "$method" "$model" --signature "$signature" --progress plain)
    if [[ $method == sigstore ]]; then
      identity=${INPUT_IDENTITY:-}
      identity_regexp=${INPUT_IDENTITY_REGEXP:-}
      if [[ -z $identity && -z $identity_regexp ]]; then
        # Default: the workflow running now, at its ref (what it signs with, outside reusable workflows).
        [[ -n ${GITHUB_WORKFLOW_REF:-} ]] ||
          die "verify needs the identity (or identity-regexp) input: the signing workflow's URL at its ref"
        identity="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_WORKFLOW_REF"
      fi
      issuer=${INPUT_ISSUER:-https://token.actions.githubusercontent.com}
      if [[ -n $identity ]]; then args+=(--certificate-identity "$identity"); fi
      if [[ -n $identity_regexp ]]; then args+=(--certificate-identity-regexp "$identity_regexp"); fi
      args+=(--certificate-oidc-issuer "$issuer")
      echo "modelseal action: requiring identity ${identity:-/$identity_regexp/} from $issuer" >&2
    fi
    [[ ${INPUT_REQUIRE_SCAN:-false} == true ]] && args+=(--require-scan)
    echo "signature=$signature" >>"$out"
    ;;
  scan)
    sarif=${INPUT_SARIF_FILE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelseal.sarif}
    sarif_root=${INPUT_SARIF_ROOT:-${GITHUB_WORKSPACE:-$PWD}}
    args=(scan "$model" --format sarif --output "$sarif" --force --sarif-root "$sarif_root" --fail-on "$fail_on")
    echo "sarif-file=$sarif" >>"$out"
    ;;
  *) die "mode must be sign, verify or scan, got '${mode}'" ;;
esac

echo "modelseal action: ${cli[*]} ${args[*]} ${extra[*]}" >&2
code=0
"${cli[@]}" "${args[@]}" "${extra[@]}" || code=$?
echo "exit-code=$code" >>"$out"
if [[ $mode == scan ]]; then
  if [[ $code -ne 0 ]]; then
    echo "modelseal action: scan exited $code; the step fails after the SARIF upload" >&2
  fi
  exit 0
fi
exit "$code"
