#!/usr/bin/env node
// The CLI ships as one JavaScript bundle, dist/cli/atlas-ops.cjs (`npm run build`, and `npm pack` builds it),
// run here with plain Node: nothing is compiled at run time. In a source checkout whose bundle is missing or
// older than the sources, the TypeScript runs through tsx instead, so a clone needs only `npm ci` and never
// runs stale code.
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import module, { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

if (Number(process.versions.node.split(".")[0]) < 22) {
  process.stderr.write(`atlas-ops: needs Node.js 22 or newer, this is ${process.version}\n`);
  process.exit(2);
}

const require = createRequire(import.meta.url);
const root = fileURLToPath(new globalThis.URL("..", import.meta.url));
const bundle = join(root, "dist/cli/atlas-ops.cjs");

/** True when a TypeScript source (or package.json) changed after `since` (milliseconds). */
function sourcesChangedSince(since) {
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return newer(path);
      return entry.name.endsWith(".ts") && statSync(path).mtimeMs > since;
    });
  return (
    statSync(join(root, "package.json")).mtimeMs > since ||
    newer(join(root, "cli")) ||
    newer(join(root, "lambdas"))
  );
}

/**
 * `$XDG_CACHE_HOME/atlas-ops/v8` (or `~/.cache/...`), made 0700; undefined unless `atlas-ops` and `v8` are real
 * directories (not links) of this user's that no one else can write, in a base no one else can rename them in.
 */
function privateCacheDir() {
  try {
    const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
    const xdg = process.env.XDG_CACHE_HOME;
    // The XDG spec: a relative XDG_CACHE_HOME is ignored.
    let dir = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
    // One level at a time, not `recursive: true`: Node's recursive mkdir never returns under /proc.
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    const base = statSync(dir);
    if (!base.isDirectory() || ((base.mode & 0o022) !== 0 && (base.mode & 0o1000) === 0)) return undefined;
    for (const name of ["atlas-ops", "v8"]) {
      dir = join(dir, name);
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (error) {
        if (error.code !== "EEXIST") throw error;
      }
      const stats = lstatSync(dir);
      if (!stats.isDirectory() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o022) !== 0) {
        return undefined;
      }
      if (name === "v8" && (stats.mode & 0o077) !== 0) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}

const fromSource = existsSync(join(root, "cli/main.ts"));
let main;
if (existsSync(bundle) && !(fromSource && sourcesChangedSince(statSync(bundle).mtimeMs))) {
  // V8's compiled code for the bundle: a later start skips compiling some 3 MB of JavaScript (about 50 ms of
  // CPU). V8 trusts what it finds there, so the cache lives in a directory of this user's only, never in a
  // shared temp directory that another user could fill first; without such a directory, no cache.
  const cache = privateCacheDir();
  if (cache) module.enableCompileCache?.(cache);
  ({ main } = require(bundle));
} else if (fromSource) {
  // The project is CommonJS: tsx's require hook loads it, and its import hook the one module loaded on demand
  // (the S3 target, by a dynamic import).
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
  const esm = await import("tsx/esm/api");
  esm.register();
  ({ main } = require("../cli/main.ts"));
} else {
  process.stderr.write(`atlas-ops: ${bundle} is missing: this package was not built (npm run build)\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv);
