import { EXIT_FAILED, usage } from "../exit-codes";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { verifyArchive, type VerifyProgress } from "../../lambdas/core/verify/verify";
import { ArchiveReadLine } from "../progress";
import { forTerminal } from "../terminal-text";

export interface VerifyCommandOptions {
  json?: boolean;
}

/**
 * A progress line on a terminal (nothing when stderr is piped, or with --json). With a sidecar, the documents'
 * data against the manifest's totals, as a restore shows it; without one (a stock archive), the compressed
 * bytes read against the archive's size.
 */
function progressPrinter(json: boolean | undefined): {
  onProgress?: (progress: VerifyProgress) => void;
  end: () => void;
} {
  if (json || !process.stderr.isTTY) return { end: () => undefined };
  const line = new ArchiveReadLine("verifying");
  return {
    onProgress: (progress) => line.update(progress, progress.expected?.bytes),
    end: () => line.end(),
  };
}

export async function verifyCommand(url: string, options: VerifyCommandOptions): Promise<void> {
  const { target, key } = await usage(() => resolveArchive(url));
  const progress = progressPrinter(options.json);
  const report = await verifyArchive(target, key, url, { onProgress: progress.onProgress }).finally(() =>
    progress.end(),
  );
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
