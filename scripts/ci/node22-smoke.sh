#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Node 22 is supported too: run the built CLI on Node 22 (from the npm registry)
# for a digest, a key sign and a verify of the sample model.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=.tmp/node22
if [ ! -x "$prefix/node_modules/.bin/node" ]; then
  npm install --prefix "$prefix" --no-audit --no-fund --silent node@22 >/dev/null 2>&1
fi
node22="$prefix/node_modules/.bin/node"
echo "node22-smoke: $("$node22" --version)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
expected=$(node packages/cli/bin/modelseal.js digest test-vectors/sample-model)
actual=$("$node22" packages/cli/bin/modelseal.js digest test-vectors/sample-model)
[ "$expected" = "$actual" ] || { echo "node22-smoke: digest differs: $actual vs $expected"; exit 1; }
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/pub.pem" 2>/dev/null
"$node22" packages/cli/bin/modelseal.js sign key test-vectors/sample-model --private-key "$work/key.pem" --signature "$work/model.sig" -q >/dev/null
"$node22" packages/cli/bin/modelseal.js verify key test-vectors/sample-model --public-key "$work/pub.pem" --signature "$work/model.sig" -q >/dev/null
# A model of 2,000 small files: a statement over 64 KiB (the payload decoded
# over its base64 and the buffer shrunk to it), and three threads (workers
# with packed batches), on Node 22 as well.
many="$work/many"
mkdir -p "$many"
for i in $(seq 1 2000); do echo "file $i" > "$many/f$i.txt"; done
"$node22" packages/cli/bin/modelseal.js sign key "$many" --threads 3 --private-key "$work/key.pem" --signature "$work/many.sig" -q >/dev/null
"$node22" packages/cli/bin/modelseal.js verify key "$many" --threads 3 --public-key "$work/pub.pem" --signature "$work/many.sig" -q >/dev/null
# The statement of a large model, given back as verify decodes it (a resizable
# buffer and one length-tracking view): the same manifest on Node 22.
"$node22" scripts/ci/owned-statement-check.mjs
echo "node22-smoke: digest, sign and verify ok on Node 22"
