#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Packs what the whole-process bench needs on a machine with no registry, no
# pnpm and no Node of ours (a many-core machine lent for a scaling run):
#   - this machine's `node` binary;
#   - the working tree's tracked files with `dist` and production dependencies only;
#   - GNU time, b3sum, and the C yardstick linked statically against libcrypto
#     (a `cc` stand-in hands it to the bench);
#   - openssl, used there only when that machine has none.
# x86-64 Linux to x86-64 Linux (glibc); about 37 MB.
#
#   pnpm build && bash scripts/bench/offline-pack.sh bench-out/offline.tar.xz
#   # there:
#   mkdir -p /tmp/ms && tar -xJf offline.tar.xz -C /tmp/ms && /tmp/ms/run.sh --runs 3 --skip pickle
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: offline-pack.sh OUT.tar.xz}
case $out in /*) ;; *) out=$PWD/$out ;; esac
[ -f packages/core/dist/index.js ] && [ -f packages/cli/dist/main.js ] ||
  { echo "offline-pack: run pnpm build first" >&2; exit 1; }
for tool in b3sum xz gcc; do
  command -v $tool >/dev/null || { echo "offline-pack: $tool is missing" >&2; exit 1; }
done
time_bin=$(command -v /usr/bin/time || true)
[ -n "$time_bin" ] || { echo "offline-pack: GNU time (/usr/bin/time) is missing" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/repo"

# The tree as committed plus what is built; tests and vectors left out but for
# what the start-up cases read.
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$stage/repo"
cp -r packages/core/dist "$stage/repo/packages/core/"
cp -r packages/cli/dist "$stage/repo/packages/cli/"
(
  cd "$stage/repo"
  rm -rf fuzz docs packages/cli/test
  find packages/core/test -mindepth 1 -maxdepth 1 ! -name packaging -exec rm -rf {} +
  find test-vectors -mindepth 1 -maxdepth 1 ! -name sample-model -exec rm -rf {} +
  ONNXRUNTIME_NODE_INSTALL=skip pnpm install --prod --frozen-lockfile --offline >/dev/null 2>&1 ||
    ONNXRUNTIME_NODE_INSTALL=skip pnpm install --prod --frozen-lockfile >/dev/null
)

cp "$(command -v node)" "$stage/bin/node"
cp "$(command -v b3sum)" "$stage/bin/b3sum"
cp "$time_bin" "$stage/bin/gtime"
gcc -O2 -o "$stage/bin/sha256-ranges" scripts/bench/sha256-ranges.c \
  -Wl,-Bstatic -lcrypto -Wl,-Bdynamic -lpthread -ldl
cat >"$stage/bin/cc" <<'EOF'
#!/bin/sh
# The bench compiles its C yardstick with `cc -O2 -o OUT …`: hand it the one built here.
out=""
while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
exec cp "$(dirname "$0")/sha256-ranges" "$out"
EOF
chmod +x "$stage/bin/cc"
if command -v openssl >/dev/null; then
  cp "$(command -v openssl)" "$stage/bin/openssl.packed"
  for lib in libcrypto.so.3 libssl.so.3; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
    [ -n "$path" ] && cp -L "$path" "$stage/lib/"
  done
fi

cat >"$stage/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the whole-process bench from this pack: ./run.sh [bench flags]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$here/bin:$PATH"
if ! command -v openssl >/dev/null && [ -x "$here/bin/openssl.packed" ]; then
  mkdir -p "$here/xbin"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/bin/openssl.packed "$@"\n' "$here" "$here" >"$here/xbin/openssl"
  chmod +x "$here/xbin/openssl"
  export PATH="$here/xbin:$PATH"
fi
# The bench reads peak RSS and CPU through GNU time at one of two places.
if [ ! -x /usr/bin/time ] && [ ! -x /usr/local/bin/time ]; then
  cp "$here/bin/gtime" /usr/local/bin/time 2>/dev/null ||
    echo "run.sh: no GNU time at /usr/bin/time or /usr/local/bin/time: peak RSS and CPU will not be measured" >&2
fi
cd "$here/repo" && exec node scripts/bench/whole.mjs "$@"
EOF
chmod +x "$stage/run.sh"

mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - bin lib repo run.sh | xz -T0 -6 >"$out.tmp"
mv "$out.tmp" "$out"
echo "offline-pack: $out ($(du -h "$out" | cut -f1))"
