import { EXIT_FAILED, usage } from "../exit-codes";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { forTerminal } from "../terminal-text";

export interface VerifyCommandOptions {
  json?: boolean;
}

export async function verifyCommand(url: string, options: VerifyCommandOptions): Promise<void> {
  const { target, key } = usage(() => resolveArchive(url));
  const report = await verifyArchive(target, key, url);
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (report.ok) {
    for (const skipped of report.skipped) {
      process.stdout.write(
        forTerminal(`skipped ${skipped.file ?? skipped.namespace}: ${skipped.reason}`) + "\n",
      );
    }
    process.stdout.write(
      forTerminal(
        `OK ${url} (${report.format}): ${report.collections.length} collections, ` +
          `${report.documents} documents, sha256 ${report.sha256}`,
      ) + "\n",
    );
  } else {
    const where = report.problem?.file ?? report.problem?.namespace;
    process.stdout.write(
      forTerminal(`FAILED ${url}: ${where ? `${where}: ` : ""}${report.problem?.reason}`) + "\n",
    );
  }
  if (!report.ok) process.exitCode = EXIT_FAILED;
}
