#!/usr/bin/env bash
# The project's test command (npm test): type check, lint, then every test, all on Node 22 (the project's floor
# and the Lambda runtime; scripts/node22.sh finds it). Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
node_bin="$(bash scripts/node22.sh --print)"
# Child processes (npm, the CLI under test) run on the same Node.
export PATH="$(dirname "$node_bin"):$PATH"
echo "== type check"
"$node_bin" node_modules/typescript/bin/tsc --noEmit -p tsconfig.json
echo "== lint"
"$node_bin" node_modules/eslint/bin/eslint.js .
"$node_bin" node_modules/prettier/bin/prettier.cjs --check . >/dev/null ||
  { "$node_bin" node_modules/prettier/bin/prettier.cjs --check .; exit 1; }
echo "== tests (node $("$node_bin" -v))"
exec "$node_bin" node_modules/vitest/vitest.mjs run "$@"
