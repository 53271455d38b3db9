import type { MongoClient } from "mongodb";
import { EXIT_FAILED, UsageError, usage } from "../exit-codes";
import { checkedMongoUri } from "../mongo-uri";
import { forTerminal } from "../terminal-text";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { formatRestoreReport } from "../../lambdas/core/restore/report";
import { restoreArchive } from "../../lambdas/core/restore/restore-archive";
import type { RestoreProgress } from "../../lambdas/core/restore/engine";

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

/** A progress line on a terminal (stderr), at most a few times a second; nothing when piped. */
function terminalProgress(label: string): ((progress: RestoreProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    const mb = (progress.bytes / 1024 / 1024).toFixed(1);
    process.stderr.write(
      `\r${label}: ${progress.documents} documents, ${mb} MB, ${progress.completedNamespaces} collections done`,
    );
  };
}

function endProgressLine(): void {
  if (process.stderr.isTTY) process.stderr.write("\n");
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
  const location = usage(() => resolveArchive(archiveUrl));
  let client: MongoClient | undefined;
  if (options.uri) client = await connectMongo(options.uri, { appName: "atlas-ops/restore" });
  try {
    const report = await restoreArchive(location, client, {
      selection,
      drop: options.drop ?? false,
      dryRun: options.dryRun ?? false,
      verify: options.verify ?? false,
      parallelism,
      onProgress: options.json ? undefined : terminalProgress("restoring"),
    });
    if (!options.json) endProgressLine();
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
