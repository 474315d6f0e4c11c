#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fresh machine to a signed and verified sample model: setup (Node 24 if needed,
# pnpm, install, build), then scan, sign, verify, and a tampered copy refused.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
modelseal() { node packages/cli/bin/modelseal.js "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r test-vectors/sample-model "$work/model"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/pub.pem" 2>/dev/null

echo "== digest"
modelseal digest "$work/model"
echo "== scan"
modelseal scan "$work/model"
echo "== sign (scans first; writes model.sig and a signed scan attestation)"
modelseal sign key "$work/model" --private-key "$work/key.pem" --signature "$work/model.sig" --attest-scan
echo "== verify"
modelseal verify key "$work/model" --public-key "$work/pub.pem" --signature "$work/model.sig" --require-scan
echo "== verify a tampered copy (must fail)"
echo '{"architectures": ["Backdoored"]}' > "$work/model/config.json"
if modelseal verify key "$work/model" --public-key "$work/pub.pem" --signature "$work/model.sig"; then
  echo "quickstart: the tampered model verified: this is a bug" >&2
  exit 1
fi
echo "quickstart: ok (the tampered copy was refused, as it must be)"
