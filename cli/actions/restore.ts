import type { MongoClient } from "mongodb";
import { EXIT_FAILED, UsageError, usage } from "../exit-codes";
import { checkedMongoUri } from "../mongo-uri";
import { forTerminal } from "../terminal-text";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { formatRestoreReport } from "../../lambdas/core/restore/report";
import { restoreArchive, type ArchiveRestoreProgress } from "../../lambdas/core/restore/restore-archive";
import { ArchiveReadLine } from "../progress";

export interface RestoreCommandOptions {
  uri?: string;
  nsInclude: string[];
  nsExclude: string[];
  nsFrom: string[];
  nsTo: string[];
  drop?: boolean;
  dryRun?: boolean;
  verify?: boolean;
  json?: boolean;
  parallelism: string;
}

/**
 * The restore's progress on a terminal. For a whole archive with a sidecar, the documents' data against the
 * manifest's totals; for a stock archive, or when namespaces are filtered (the manifest's totals are not what
 * is restored), the compressed bytes read against the archive's size.
 */
async function progressPrinter(
  location: Awaited<ReturnType<typeof resolveArchive>>,
  options: RestoreCommandOptions,
): Promise<{ onProgress?: (progress: ArchiveRestoreProgress) => void; end: () => void }> {
  if (options.json || !process.stderr.isTTY) return { end: () => undefined };
  const filtered = options.nsInclude.length > 0 || options.nsExclude.length > 0;
  const manifest = filtered ? undefined : await location.target.readSidecar(location.key);
  const line = new ArchiveReadLine("restoring");
  return {
    onProgress: (progress) =>
      line.update({ ...progress, collections: progress.completedNamespaces }, manifest?.totals.bytes),
    end: () => line.end(),
  };
}

export async function restoreCommand(archiveUrl: string, options: RestoreCommandOptions): Promise<void> {
  const selection = usage(
    () =>
      new NamespaceSelection({
        include: options.nsInclude,
        exclude: options.nsExclude,
        renameFrom: options.nsFrom,
        renameTo: options.nsTo,
      }),
  );
  const parallelism = Number(options.parallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 64) {
    throw new UsageError(`--parallelism must be an integer from 1 to 64, not "${options.parallelism}"`);
  }
  if (!options.uri && !options.dryRun) {
    throw new UsageError("--uri (or MONGODB_URI) is required, except with --dry-run");
  }
  if (options.uri) checkedMongoUri(options.uri, "--uri");
  const location = await usage(() => resolveArchive(archiveUrl));
  let client: MongoClient | undefined;
  if (options.uri) client = await connectMongo(options.uri, { appName: "atlas-ops/restore" });
  try {
    const progress = await progressPrinter(location, options);
    const report = await restoreArchive(location, client, {
      selection,
      drop: options.drop ?? false,
      dryRun: options.dryRun ?? false,
      verify: options.verify ?? false,
      parallelism,
      onProgress: progress.onProgress,
    }).finally(() => progress.end());
    const { manifest: _manifest, ...printable } = report;
    if (options.json) process.stdout.write(`${JSON.stringify(printable, null, 2)}\n`);
    else {
      process.stdout.write(`${forTerminal(formatRestoreReport(report), { keepNewlines: true })}\n`);
      if (report.checks && report.ok) {
        process.stdout.write(
          `verified ${report.checks.length} collections against the manifest: counts, digests, indexes\n`,
        );
      }
    }
    if (!report.ok) process.exitCode = EXIT_FAILED;
  } finally {
    await client?.close();
  }
}
