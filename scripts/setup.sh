#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh machine for modelseal: Node 24 from the npm registry when the
# local Node is outside package.json's engines range (^22.22.2 || ^24.15.0 ||
# >=26.0.0: also 23.x, 25.x, 22.0-22.22.1 and 24.0-24.14), pnpm, the
# workspace's dependencies, and a build.
#
#   scripts/setup.sh                      set up
#   scripts/setup.sh --check-node [VER]   only say whether Node VER (default the
#                                         local node) is in the engines range:
#                                         exit 0 if it is, 1 if not
set -euo pipefail
cd "$(dirname "$0")/.."

# Whether Node $1 (default this node's version) satisfies package.json's
# engines.node, alternatives of ^X.Y.Z (same major, at least X.Y.Z) and >=X.Y.Z.
node_in_engines() {
  node -e '
    const range = require("./package.json").engines.node;
    const parse = (v) => v.replace(/^v/, "").split(".").map(Number);
    const [major, minor, patch] = parse(process.argv[1] || process.versions.node);
    const atLeast = ([a, b, c]) =>
      major !== a ? major > a : minor !== b ? minor > b : patch >= c;
    const fits = range.split("||").some((alternative) => {
      const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(alternative);
      if (m === null) throw new Error(`setup: cannot read the engines range ${range}`);
      const bound = [Number(m[2]), Number(m[3]), Number(m[4])];
      return atLeast(bound) && (m[1] === ">=" || major === bound[0]);
    });
    process.exit(fits ? 0 : 1);
  ' "${1:-}"
}

engines=$(node -p 'require("./package.json").engines.node' 2>/dev/null || echo '^22.22.2 || ^24.15.0 || >=26.0.0')
if [ "${1:-}" = --check-node ]; then
  version=${2:-$(node --version 2>/dev/null || echo none)}
  if node_in_engines "${2:-}"; then
    echo "setup: node $version is in the engines range ($engines)"
    exit 0
  fi
  echo "setup: node $version is outside the engines range ($engines)"
  exit 1
fi

PNPM_VERSION=10.34.8
# The global prefix npm installs into (e.g. /usr), taken from npm's own location:
# once node is replaced by the npm package, npm would derive another prefix.
prefix=$(dirname "$(dirname "$(command -v npm)")")

if ! node_in_engines; then
  echo "setup: node $(node --version 2>/dev/null || echo none) is outside the engines range ($engines); installing node 24 from the npm registry" >&2
  # --force: the package replaces the existing node binary in the same prefix.
  npm install --global --force --prefix "$prefix" --no-audit --no-fund node@24 >&2
  hash -r
  node_in_engines || {
    echo "setup: node $(node --version 2>/dev/null || echo none) from the npm registry is still outside $engines" >&2
    exit 1
  }
fi
echo "setup: node $(node --version)" >&2

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  npm install --global --prefix "$prefix" --no-audit --no-fund "pnpm@$PNPM_VERSION" >&2
  hash -r
fi
echo "setup: pnpm $(pnpm --version)" >&2

# SoftHSM2 (a software PKCS#11 token) for the PKCS#11 signing tests, which
# skip with a printed reason without it. Installed only as root (apt-get).
if command -v softhsm2-util >/dev/null 2>&1; then
  echo "setup: softhsm2 present" >&2
elif [ "$(id -u)" -ne 0 ]; then
  echo "setup: softhsm2 missing and not running as root: skipping its install (the PKCS#11 tests will be skipped; install the softhsm2 package)" >&2
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: softhsm2 missing and no apt-get here: skipping its install (the PKCS#11 tests will be skipped)" >&2
else
  echo "setup: installing softhsm2 (PKCS#11 tests)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2) >&2 ||
    echo "setup: installing softhsm2 failed; the PKCS#11 tests will be skipped" >&2
fi

# docker-registry (CNCF distribution 2.8, Debian package) for the OCI registry
# tests, which start their own instance on a free loopback port with a
# temporary config and skip with a printed reason without the binary. The
# package also enables a system service on :5000 (started where systemd runs
# it); the tests never use it. Installed only as root (apt-get).
if command -v docker-registry >/dev/null 2>&1; then
  echo "setup: docker-registry present" >&2
elif [ "$(id -u)" -ne 0 ]; then
  echo "setup: docker-registry missing and not running as root: skipping its install (the OCI registry tests will be skipped; install the docker-registry package)" >&2
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: docker-registry missing and no apt-get here: skipping its install (the OCI registry tests will be skipped)" >&2
else
  echo "setup: installing docker-registry (OCI registry tests)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry) >&2 ||
    echo "setup: installing docker-registry failed; the OCI registry tests will be skipped" >&2
fi

# onnxruntime-node's install script would download CUDA; pnpm does not run it
# (only pkcs11js, which compiles its PKCS#11 addon, may run a build script), and
# its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
pnpm install --frozen-lockfile >&2
pnpm build >&2
echo "setup: done" >&2
