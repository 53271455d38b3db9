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
  const result = await runBackup({
    uri: options.uri,
    target,
    app: options.app,
    kind,
    databases: options.db,
    memoryThreshold: Math.round(thresholdMb * 1024 * 1024),
    onProgress: progressPrinter(),
  });
  if (options.json) {
    const { manifest: _manifest, ...summary } = result;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const mb = (result.bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `backed up ${result.collections} collections, ${result.documents} documents to ${result.archive}\n` +
        `  ${mb} MB compressed, sha256 ${result.sha256}, ${(result.durationMs / 1000).toFixed(1)} s\n`,
    );
  }
}
