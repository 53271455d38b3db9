/**
 * `npm run build`: bundles every Lambda into dist/lambdas/<name>/index.js and prints a size report; fails
 * when a bundle is over the size limit. Usage: scripts/build-lambdas.ts [OUT_DIR] [NAME...]
 */
import { resolve } from "node:path";
import { bundleLambda, LAMBDA_NAMES, MAX_BUNDLE_BYTES, type LambdaName } from "../lambdas/bundle";

async function main(): Promise<number> {
  const [outArg, ...nameArgs] = process.argv.slice(2);
  const outDir = resolve(outArg ?? "dist/lambdas");
  const unknown = nameArgs.filter((name) => !LAMBDA_NAMES.includes(name as LambdaName));
  if (unknown.length) {
    process.stderr.write(`unknown Lambda(s): ${unknown.join(", ")} (expected ${LAMBDA_NAMES.join(", ")})\n`);
    return 2;
  }
  const names = nameArgs.length ? (nameArgs as LambdaName[]) : [...LAMBDA_NAMES];
  let failed = false;
  process.stdout.write(`${"lambda".padEnd(26)}${"size".padStart(12)}\n`);
  for (const name of names) {
    try {
      const result = await bundleLambda(name, outDir);
      const over = result.bytes > MAX_BUNDLE_BYTES;
      failed ||= over;
      const size = `${(result.bytes / 1024).toFixed(1)} KiB`;
      process.stdout.write(
        `${name.padEnd(26)}${size.padStart(12)}${over ? "  OVER THE 1.5 MiB LIMIT" : ""}\n`,
      );
    } catch (error) {
      failed = true;
      process.stdout.write(`${name.padEnd(26)}${"FAILED".padStart(12)}  ${(error as Error).message}\n`);
    }
  }
  process.stdout.write(`bundles in ${outDir}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
