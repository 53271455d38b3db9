/**
 * Module init time of each Lambda bundle: a fresh Node process requires dist/lambdas/<name>/index.js (what
 * Lambda does at cold start, before the first invocation), timed inside the process, several times.
 * Usage: bash scripts/node22.sh scripts/bench-lambda-init.ts [RUNS]   (builds the bundles first)
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { bundleLambdas } from "../lambdas/bundle";

const runs = Number(process.argv[2] ?? 10);
const script =
  "const t=process.hrtime.bigint();require(process.argv[1]);" +
  "process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))";

async function main(): Promise<void> {
  const bundles = await bundleLambdas(resolve("dist/lambdas"));
  process.stdout.write(`node ${process.version}, ${runs} cold loads each\n`);
  process.stdout.write(
    `${"lambda".padEnd(26)}${"size".padStart(12)}${"median".padStart(12)}${"min".padStart(10)}\n`,
  );
  for (const bundle of bundles) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const output = execFileSync(process.execPath, ["-e", script, bundle.file], {
        // Settings some handlers validate at load; nothing is called.
        env: {
          ...process.env,
          AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
          ATLAS_ADMIN_SECRET_ID: "bench/atlas-admin",
          ATLAS_PROJECT_ID: "0123456789abcdef01234567",
          NODE_NO_WARNINGS: "1",
        },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
      times.push(Number(output));
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const size = `${(bundle.bytes / 1024).toFixed(1)} KiB`;
    process.stdout.write(
      `${bundle.name.padEnd(26)}${size.padStart(12)}${`${median.toFixed(1)} ms`.padStart(12)}${`${times[0]!.toFixed(1)} ms`.padStart(10)}\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
