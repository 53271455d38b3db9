import { UsageError, usage } from "../exit-codes";
import { resolveTarget } from "../../lambdas/adapters/targets";
import { runBackup, type BackupProgress } from "../../lambdas/core/backup/backup";
import { assertAppName, parseKind } from "../../lambdas/core/archive/names";
import { checkedMongoUri } from "../mongo-uri";
import { ProgressLine } from "../progress";

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

/**
 * A progress line on a terminal (nothing when stderr is piped, or with --json): the percentage and the time
 * left against the size the server reports for the databases (an estimate: `dbStats` counts the data as
 * stored, and it changes while the backup runs).
 */
function progressPrinter(json: boolean | undefined): {
  onProgress?: (progress: BackupProgress) => void;
  end: () => void;
} {
  if (json || !process.stderr.isTTY) return { end: () => undefined };
  let line: ProgressLine | undefined;
  const inProgress = new Map<string, { documents: number; bytes: number }>();
  const finished = { documents: 0, bytes: 0, collections: 0 };
  const update = () => {
    let documents = finished.documents;
    let bytes = finished.bytes;
    for (const amounts of inProgress.values()) {
      documents += amounts.documents;
      bytes += amounts.bytes;
    }
    line?.update({ documents, bytes, note: `${finished.collections} collections done` });
  };
  return {
    onProgress: (progress) => {
      if (progress.type === "started") line = new ProgressLine("backing up", progress.expectedBytes);
      else if (progress.type === "documents") {
        inProgress.set(progress.namespace, { documents: progress.documents, bytes: progress.bytes });
      } else if (progress.type === "collection-done") {
        inProgress.delete(progress.namespace);
        finished.documents += progress.documents;
        finished.bytes += progress.bytes;
        finished.collections += 1;
      }
      update();
    },
    end: () => line?.end(),
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
  const target = await usage(() => resolveTarget(options.to, { kmsKeyId: options.kmsKeyId }));
  const progress = progressPrinter(options.json);
  const result = await untilSignal((signal) =>
    runBackup({
      uri: options.uri!,
      target,
      app: options.app,
      kind,
      databases: options.db,
      memoryThreshold: Math.round(thresholdMb * 1024 * 1024),
      onProgress: progress.onProgress,
      signal,
    }),
  ).finally(() => progress.end());
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
