import type { Command } from "commander";
import { EXIT_FAILED } from "../exit-codes";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { usage } from "./backup";

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description(
      "Check an archive without restoring it: checksums against the sidecar, tar structure, every BSON document, " +
        "counts and digests. Also reads stock mongodump archives.",
    )
    .argument("<archive-url>", "s3://BUCKET/PREFIX/daily/NAME.tar.gz, file:///path/NAME.tar.gz or a path")
    .option("--json", "print the report as one JSON object")
    .action(async (url: string, options: { json?: boolean }) => {
      const { target, key } = usage(() => resolveArchive(url));
      const report = await verifyArchive(target, key, url);
      if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else if (report.ok) {
        process.stdout.write(
          `OK ${url} (${report.format}): ${report.collections.length} collections, ${report.documents} documents, ` +
            `sha256 ${report.sha256}\n`,
        );
      } else {
        const where = report.problem?.file ?? report.problem?.namespace;
        process.stdout.write(`FAILED ${url}: ${where ? `${where}: ` : ""}${report.problem?.reason}\n`);
      }
      if (!report.ok) process.exitCode = EXIT_FAILED;
    });
}
