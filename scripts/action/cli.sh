#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Which modelseal the GitHub Action runs, printed as one word per line.
#
#   install=checkout  the action's own checkout (GITHUB_ACTION_PATH): its built
#                     CLI, building it first (pnpm) when dist/ is missing
#   install=npm       npx --yes --package=@modelseal/cli@VERSION modelseal,
#                     VERSION pinned to the action's packages/cli/package.json
#                     (or the `version` input); the package has two bins
#                     (modelseal, modelseal-oms-adapter), neither named after
#                     it, so npx is told which to run
#   install=auto      checkout when the action is the workspace's own repository
#                     (`uses: ./`), npm otherwise (`uses: modelseal/modelseal@v…`)
#
# Environment: GITHUB_ACTION_PATH, GITHUB_WORKSPACE, INPUT_INSTALL, INPUT_VERSION.
set -euo pipefail

action_path=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run as a GitHub Action step}
action_path=$(cd "$action_path" && pwd -P)
install=${INPUT_INSTALL:-auto}

if [[ $install == auto ]]; then
  install=npm
  if [[ -n ${GITHUB_WORKSPACE:-} ]]; then
    workspace=$(cd "$GITHUB_WORKSPACE" && pwd -P)
    [[ $action_path == "$workspace" ]] && install=checkout
  fi
fi

case $install in
  checkout)
    if [[ ! -f $action_path/packages/cli/dist/main.js || ! -f $action_path/packages/core/dist/index.js ]]; then
      echo "modelseal action: building the CLI from $action_path" >&2
      (
        cd "$action_path"
        pnpm=$(node -p "require('./package.json').packageManager")
        npx --yes "$pnpm" install --frozen-lockfile >&2
        npx --yes "$pnpm" build >&2
      )
    fi
    printf '%s\n' node "$action_path/packages/cli/bin/modelseal.js"
    ;;
  npm)
    version=${INPUT_VERSION:-}
    if [[ -z $version ]]; then
      version=$(node -p "require(process.argv[1]).version" "$action_path/packages/cli/package.json")
    fi
    if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
      echo "modelseal action: version must be an exact version such as 0.1.0, got '$version'" >&2
      exit 2
    fi
    printf '%s\n' npx --yes "--package=@modelseal/cli@$version" modelseal
    ;;
  *)
    echo "modelseal action: install must be auto, checkout or npm, got '$install'" >&2
    exit 2
    ;;
esac
