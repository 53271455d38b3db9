#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a clean clone needs only `npm ci` (no build step). The project is
// CommonJS, so tsx's require hook is all it needs (its import hook would add a loader thread to every run).
import { accessSync, constants, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";

// tsx caches compiled files under the temp directory and throws when it cannot write there: without a
// writable TMPDIR, run uncached (slower to start) rather than crash before even `--help` can print.
try {
  if (!statSync(tmpdir()).isDirectory()) throw new Error("not a directory");
  accessSync(tmpdir(), constants.W_OK);
} catch {
  process.env.TSX_DISABLE_CACHE = "1";
}
const { register } = await import("tsx/cjs/api");
register();
const { main } = createRequire(import.meta.url)("../cli/main.ts");
process.exitCode = await main(process.argv);
