#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The packages as a user gets them: pack both with pnpm (the workspace protocol
# rewritten), install the tarballs into a new project with plain npm (no
# workspace), then (a) import every subpath from ESM and sign/verify a model,
# (b) type-check a consumer with moduleResolution NodeNext and skipLibCheck
# false, (c) run `npx modelseal digest|scan|sign|verify` on the sample model,
# (d) install with --omit=optional and hash with sha256, (e) run the GitHub
# Action's npx command against the tarballs.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "consumer-test: $*"; }

mkdir -p "$work/packs"
(cd packages/core && pnpm pack --pack-destination "$work/packs" >/dev/null)
(cd packages/cli && pnpm pack --pack-destination "$work/packs" >/dev/null)
core_tgz=$(ls "$work"/packs/modelseal-core-*.tgz)
cli_tgz=$(ls "$work"/packs/modelseal-cli-*.tgz)
for t in "$core_tgz" "$cli_tgz"; do
  list=$(tar tzf "$t")
  say "$(basename "$t"): $(wc -l <<<"$list") files, $(du -k "$t" | cut -f1) KiB"
  grep -v '\.js$\|\.d\.ts$' <<<"$list" | sed 's/^/  /'
  echo "  $(grep -c '\.js$' <<<"$list") .js, $(grep -c '\.d\.ts$' <<<"$list") .d.ts"
  if grep -q '\.map$\|tsbuildinfo' <<<"$list"; then say "FAIL: $(basename "$t") ships maps or build info"; exit 1; fi
  # No file names a source map the tarball lacks (scripts/build/emit-js.mjs
  # removes the maps and their //# sourceMappingURL lines).
  unpacked="$work/unpacked-$(basename "$t" .tgz)"
  mkdir -p "$unpacked"
  tar xzf "$t" -C "$unpacked"
  dangling=0
  while IFS= read -r -d '' f; do
    url=$(sed -n 's|^//# sourceMappingURL=||p' "$f" | tail -n 1)
    [ -n "$url" ] || continue
    case $url in data:*) continue ;; esac
    if [ ! -f "$(dirname "$f")/$url" ]; then
      [ "$dangling" -lt 5 ] && say "  ${f#"$unpacked"/} names $url, which the tarball lacks"
      dangling=$((dangling + 1))
    fi
  done < <(grep -rlZ --include='*.js' --include='*.d.ts' --include='*.mjs' --include='*.cjs' '^//# sourceMappingURL=' "$unpacked" || true)
  if [ "$dangling" != 0 ]; then say "FAIL: $(basename "$t"): $dangling file(s) name a source map the tarball lacks"; exit 1; fi
  for f in package/README.md package/LICENSE package/package.json; do
    grep -qx "$f" <<<"$list" || { say "FAIL: $(basename "$t") lacks $f"; exit 1; }
  done
  # The JS ships without comments (scripts/build/emit-js.mjs: `pnpm build`),
  # the declarations with their documentation.
  # (tar's own failure stops the script: only grep's "no line" is allowed.)
  js=$(tar xzf "$t" -O --wildcards 'package/dist/*.js')
  dts=$(tar xzf "$t" -O --wildcards 'package/dist/*.d.ts')
  if [ -z "$js" ] || [ -z "$dts" ]; then say "FAIL: $(basename "$t") has no dist JS or declarations"; exit 1; fi
  commented=$(grep -Ec '^\s*(//|/\*)' <<<"$js" || true)
  if [ "$commented" != 0 ]; then say "FAIL: $(basename "$t") ships $commented comment lines in its JS (built without scripts/build/emit-js.mjs?)"; exit 1; fi
  documented=$(grep -c '^\s*/\*\*' <<<"$dts" || true)
  if [ "$documented" = 0 ]; then say "FAIL: $(basename "$t") ships declarations without documentation"; exit 1; fi
  echo "  JS without comments ($(grep -c . <<<"$js") lines); $documented documentation comments in the declarations"
done
manifest=$(tar xzf "$cli_tgz" -O package/package.json)
if grep -q 'workspace:' <<<"$manifest"; then
  say "FAIL: the cli tarball keeps a workspace: dependency"; exit 1
fi

app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --loglevel=error "$core_tgz" "$cli_tgz" typescript@6.0.3 @types/node@24 >/dev/null
say "installed with plain npm: $(node -p 'Object.keys(require("./package.json").dependencies).join(", ")')"

# (a) every subpath, then a key sign/verify round trip through the library.
cp -r "$repo/test-vectors/sample-model" "$work/model"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$work/key.pem" -out "$work/key8.pem"
openssl ec -in "$work/key.pem" -pubout -out "$work/pub.pem" 2>/dev/null
cat > esm.mjs <<JS
const subs = ['', '/manifest', '/manifest/hash', '/prestart', '/bundle', '/sign', '/verify', '/verify/model', '/scan/engine', '/trust', '/scan', '/load', '/attest', '/audit', '/diff'];
for (const s of subs) {
  const m = await import('@modelseal/core' + s);
  console.log('  import @modelseal/core' + s + ': ' + Object.keys(m).length + ' exports');
}
const { signModel } = await import('@modelseal/core/sign');
const { verifyModel } = await import('@modelseal/core/load');
await signModel({ method: 'key', modelPath: '$work/model', signaturePath: '$work/lib.sig', privateKey: '$work/key8.pem' });
const model = await verifyModel({ method: 'key', modelPath: '$work/model', bundlePath: '$work/lib.sig', publicKey: '$work/pub.pem' });
const bytes = await model.readFile('config.json');
console.log('  sign/verify round trip: verified, read ' + bytes.length + ' bytes of config.json');
JS
say "(a) ESM imports and a round trip"
node esm.mjs

# (b) a strict TypeScript consumer.
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2023", "module": "NodeNext", "moduleResolution": "NodeNext",
  "strict": true, "skipLibCheck": false, "noEmit": true, "types": ["node"] }, "files": ["consumer.ts"] }
JSON
cat > consumer.ts <<'TS'
import { hashModel, type HashModelOptions } from '@modelseal/core/manifest';
import { signModel, type SignModelOptions } from '@modelseal/core/sign';
import { verifyModelSignature, type VerifyModelSignatureResult } from '@modelseal/core/verify';
import { scanPaths, type ScanReport } from '@modelseal/core/scan';
import { verifyModel, type VerifiedModel } from '@modelseal/core/load';
import { isModelSealError } from '@modelseal/core';
import { hashModel as hashOnly, type HashModelResult } from '@modelseal/core/manifest/hash';
import { prestartHashWorkers, whenHashWorkersLoaded, whenListingStarts } from '@modelseal/core/prestart';
const opts: HashModelOptions = { hashAlgorithm: 'sha256' };
export async function g(): Promise<HashModelResult> {
  prestartHashWorkers('.', { shards: true, shardSize: 1 << 30 });
  await Promise.race([whenListingStarts(), whenHashWorkersLoaded()]);
  return hashOnly('.', opts);
}
const s: SignModelOptions = { method: 'key', modelPath: '.', signaturePath: 'x.sig', privateKey: 'k.pem' };
export async function f(): Promise<[unknown, VerifyModelSignatureResult, ScanReport, VerifiedModel, boolean]> {
  return [await hashModel('.', opts), await verifyModelSignature({ method: 'key', modelPath: '.', bundlePath: 'x.sig', publicKey: 'p.pem' }),
    await scanPaths(['.']), await verifyModel({ method: 'key', modelPath: '.', bundlePath: 'x.sig', publicKey: 'p.pem' }), isModelSealError(s)];
}
TS
say "(b) tsc --noEmit with moduleResolution NodeNext, skipLibCheck false"
npx tsc -p tsconfig.json
say "  type-check passed"

# (c) the CLI through npx.
say "(c) npx modelseal on the sample model"
npx modelseal --version
npx modelseal digest "$work/model"
npx modelseal scan "$work/model"
npx modelseal sign key "$work/model" --private-key "$work/key.pem" --signature "$work/cli.sig"
npx modelseal verify key "$work/model" --public-key "$work/pub.pem" --signature "$work/cli.sig"

# (d) without optional dependencies (no BLAKE3 binding): sha256 works, blake3 says what to install.
say "(d) npm install --omit=optional"
lean="$work/lean"
mkdir -p "$lean"
cd "$lean"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm install --omit=optional --no-audit --no-fund --loglevel=error "$core_tgz" >/dev/null
if ls node_modules/@napi-rs 2>/dev/null | grep -q 'blake-hash-'; then say "  note: a platform binding is present despite --omit=optional"; fi
node --input-type=module -e "
const { hashModel } = await import('@modelseal/core/manifest');
const r = await hashModel('$work/model');
console.log('  sha256 without optional dependencies: ' + r.manifest.resources.length + ' files hashed');
try { await hashModel('$work/model', { hashAlgorithm: 'blake3' }); console.log('  blake3: available'); }
catch (e) { console.log('  blake3: ' + e.code + ': ' + e.message); }
"

# (e) the GitHub Action's npm mode: the command scripts/action/cli.sh prints,
# run by npx in an empty folder, the registry package replaced by the packed
# tarball (and @modelseal/core's beside it: the same version, maybe not
# published yet). `npx @modelseal/cli` alone cannot tell which of the two bins
# to run; the action names modelseal.
say "(e) the action's npx command (scripts/action/cli.sh install=npm)"
mapfile -t action_cli < <(GITHUB_ACTION_PATH="$repo" INPUT_INSTALL=npm bash "$repo/scripts/action/cli.sh")
version=$(node -p "require('$repo/packages/cli/package.json').version")
npx_words=()
for w in "${action_cli[@]}"; do
  case $w in
    --package=@modelseal/cli@"$version") npx_words+=("--package=file:$core_tgz" "--package=file:$cli_tgz") ;;
    *@modelseal/cli@*) say "FAIL: unexpected package word in the action's command: $w"; exit 1 ;;
    *) npx_words+=("$w") ;;
  esac
done
[ "${#npx_words[@]}" -gt "${#action_cli[@]}" ] || { say "FAIL: the action's command (${action_cli[*]}) has no --package=@modelseal/cli@$version"; exit 1; }
mkdir -p "$work/action-npx"
(cd "$work/action-npx" && "${npx_words[@]}" --version) | grep -qx "$version" ||
  { say "FAIL: ${action_cli[*]} --version did not print $version"; exit 1; }
say "  ${action_cli[*]} --version: $version"

say "all five checks passed"
