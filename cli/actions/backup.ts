import { UsageError, usage } from "../exit-codes";
import { resolveTarget } from "../../lambdas/adapters/targets";
import { runBackup, type BackupProgress } from "../../lambdas/core/backup/backup";
import { assertAppName, parseKind } from "../../lambdas/core/archive/names";
import { checkedMongoUri } from "../mongo-uri";

export interface BackupCommandOptions {
  uri?: string;
  to: string;
  app: string;
  kind: string;
  db: string[];
  kmsKeyId?: string;
  memoryThresholdMb: string;
  json?: boolean;
}

/** One line per collection on a terminal; nothing when stderr is piped. */
function progressPrinter(): ((progress: BackupProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (progress) => {
    if (progress.type === "collection-done") {
      const mb = (progress.bytes / 1024 / 1024).toFixed(1);
      process.stderr.write(`  ${progress.namespace}: ${progress.documents} documents, ${mb} MB\n`);
    }
  };
}

/**
 * Runs the backup with Ctrl-C (SIGINT) and SIGTERM turned into a clean stop: the partial archive is removed
 * before the command exits. A second signal while cleaning up ends the process at once, as usual.
 */
async function untilSignal<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export async function backupCommand(options: BackupCommandOptions): Promise<void> {
  const thresholdMb = Number(options.memoryThresholdMb);
  if (!Number.isFinite(thresholdMb) || thresholdMb <= 0) {
    throw new UsageError(
      `--memory-threshold-mb must be a positive number, not "${options.memoryThresholdMb}"`,
    );
  }
  if (!options.uri) throw new UsageError("--uri is required (or set MONGODB_URI)");
  const kind = usage(() => parseKind(options.kind));
  usage(() => assertAppName(options.app));
  checkedMongoUri(options.uri, "--uri");
  const target = usage(() => resolveTarget(options.to, { kmsKeyId: options.kmsKeyId }));
  const result = await untilSignal((signal) =>
    runBackup({
      uri: options.uri!,
      target,
      app: options.app,
      kind,
      databases: options.db,
      memoryThreshold: Math.round(thresholdMb * 1024 * 1024),
      onProgress: progressPrinter(),
      signal,
    }),
  );
  for (const path of result.removedAbandoned) {
    process.stderr.write(`removed what an interrupted backup left: ${path}\n`);
  }
  if (options.json) {
    const { manifest: _manifest, removedAbandoned: _removed, ...summary } = result;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const mb = (result.bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `backed up ${result.collections} collections, ${result.documents} documents to ${result.archive}\n` +
        `  ${mb} MB compressed, sha256 ${result.sha256}, ${(result.durationMs / 1000).toFixed(1)} s\n`,
    );
  }
}
