import { build, type Plugin } from "esbuild";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Bundles each Lambda into one minified CommonJS file (dist/lambdas/<name>/index.js, handler `index.handler`).
 * The Pulumi program calls this at deploy time, so what is deployed is always built from the current code.
 */

export const LAMBDA_NAMES = [
  "backup",
  "verify-backup",
  "restore-test",
  "health-check",
  "db-stats",
  "daily-report",
  "security-review",
  "performance-review",
  "rotate-app-secret",
  "rotate-mongodb-password",
] as const;

export type LambdaName = (typeof LAMBDA_NAMES)[number];

/** Each bundle must stay small: cold starts grow with the code Node has to parse. */
export const MAX_BUNDLE_BYTES = 1.5 * 1024 * 1024;

/** The MongoDB driver loads these only when a feature needs them (Kerberos, compression, encryption, AWS auth). */
export const OPTIONAL_DRIVER_MODULES = [
  "kerberos",
  "snappy",
  "@mongodb-js/zstd",
  "mongodb-client-encryption",
  "gcp-metadata",
  "socks",
  "aws4",
  "@aws-sdk/credential-providers",
];

const LAMBDAS_DIR = __dirname;

/**
 * The driver's connection-string parser imports `whatwg-url`, whose Unicode tables add ~280 KB; Node's own
 * URL and URLSearchParams implement the same WHATWG standard, so the bundle uses those.
 */
export const nodeUrlInsteadOfWhatwgUrl: Plugin = {
  name: "node-url-instead-of-whatwg-url",
  setup(plugin) {
    plugin.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: "whatwg-url", namespace: "node-url" }));
    plugin.onLoad({ filter: /.*/, namespace: "node-url" }, () => ({
      contents: "exports.URL = globalThis.URL; exports.URLSearchParams = globalThis.URLSearchParams;",
      loader: "js",
    }));
  },
};

export interface BundleResult {
  name: LambdaName;
  /** Absolute path of the bundle (index.js). */
  file: string;
  /** The folder to zip: it holds only index.js. */
  directory: string;
  bytes: number;
}

export async function bundleLambda(name: LambdaName, outDir: string): Promise<BundleResult> {
  if (!LAMBDA_NAMES.includes(name))
    throw new Error(`unknown Lambda "${name}" (expected one of ${LAMBDA_NAMES.join(", ")})`);
  const entry = join(LAMBDAS_DIR, name, "handler.ts");
  if (!existsSync(entry)) throw new Error(`cannot bundle Lambda ${name}: ${entry} does not exist`);
  const directory = resolve(outDir, name);
  const file = join(directory, "index.js");
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    // The SDK's ES module builds let esbuild drop the unused commands (a third smaller).
    mainFields: ["module", "main"],
    external: OPTIONAL_DRIVER_MODULES,
    plugins: [nodeUrlInsteadOfWhatwgUrl],
    logLevel: "silent",
  });
  return { name, file, directory, bytes: statSync(file).size };
}

/** Bundles every Lambda (one at a time: two cores, and esbuild already uses both). */
export async function bundleLambdas(outDir: string): Promise<BundleResult[]> {
  const results: BundleResult[] = [];
  for (const name of LAMBDA_NAMES) results.push(await bundleLambda(name, outDir));
  return results;
}
