/**
 * Bundles the CLI into one CommonJS file, dist/cli/atlas-ops.cjs, that bin/atlas-ops.mjs runs with plain Node:
 * no TypeScript is compiled when an operator runs a restore, and an installed package needs no
 * node_modules at all (every dependency the CLI uses is inside). `npm run build` and `npm pack` run it.
 * Usage: scripts/bundle-cli.ts [OUT_FILE]
 */
import { renameSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";
import { nodeUrlInsteadOfWhatwgUrl, OPTIONAL_DRIVER_MODULES } from "../lambdas/bundle";

export const CLI_BUNDLE = resolve(__dirname, "../dist/cli/atlas-ops.cjs");

export async function bundleCli(outfile = CLI_BUNDLE): Promise<{ file: string; bytes: number }> {
  // Written aside, then renamed: a CLI started meanwhile loads the old bundle or the new one, never half of one.
  const partial = `${outfile}.${process.pid}.partial`;
  await build({
    entryPoints: [resolve(__dirname, "../cli/main.ts")],
    outfile: partial,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    // Not minified: an operator's stack trace at 3 AM should name our functions.
    minify: false,
    sourcemap: false,
    legalComments: "none",
    mainFields: ["module", "main"],
    external: OPTIONAL_DRIVER_MODULES,
    plugins: [nodeUrlInsteadOfWhatwgUrl],
    logLevel: "silent",
  });
  renameSync(partial, outfile);
  return { file: outfile, bytes: statSync(outfile).size };
}

if (require.main === module) {
  bundleCli(process.argv[2] ? resolve(process.argv[2]) : undefined).then(
    ({ file, bytes }) => process.stdout.write(`cli bundle ${(bytes / 1024).toFixed(1)} KiB: ${file}\n`),
    (error: unknown) => {
      process.stderr.write(`cli bundle failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
