import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { archiveName } from "../core/archive/names";
import { abandonBackup, BackupError, runBackupStep } from "../core/backup/backup";
import { BackupConflictError, type StoredBackup, type UnreadableSidecar } from "../core/targets/target";
import { loadBackupConfig, type BackupConfig } from "./config";
import { parseBackupEvent, type BackupContinuation } from "./event";

const secrets = new SecretReader();
/** How long a run that lost to another waits for the winner's sidecar (it reads its archive back first). */
const COMMIT_WAIT_MS = 120_000;

export interface BackupOutcome {
  done: true;
  name: string;
  url: string;
  bytes: number;
  documents: number;
  durationMs: number;
  /** True when another run of this schedule (an earlier try or a second delivery) committed it: nothing new. */
  alreadyDone: boolean;
}

/**
 * A step that ran short of time: the next step's event, unchanged (the workflow passes it on). `kind` and
 * `scheduledTime` are the run's own, so every step names the same archive.
 */
export interface BackupContinued {
  done: false;
  kind: string;
  scheduledTime?: string;
  continuation: BackupContinuation;
  progress: { collections: number; documents: number; bytes: number };
}

function targetOf(config: BackupConfig): S3Target {
  return new S3Target({ bucket: config.bucket, prefix: config.prefix, kmsKeyId: config.kmsKeyId });
}

/**
 * Daily, weekly and monthly: every configured database, read with the backup user, to the kind's folder; in
 * steps of one invocation each when it outgrows one (the workflow runs the steps, docs/archive-format.md).
 */
export const handler = createJobHandler<unknown, BackupConfig, BackupOutcome | BackupContinued>({
  job: "backup",
  loadConfig: loadBackupConfig,
  outcomeMetric: "BackupSucceeded",
  async abandon(rawEvent, config, { logger }) {
    const event = parseBackupEvent(rawEvent);
    if (!event.continuation) return; // the first step's upload is aborted by the bucket's lifecycle rule
    await abandonBackup(targetOf(config), event.continuation.state);
    logger.warn("aborted the upload of the abandoned backup", { step: event.continuation.step });
  },
  async run(rawEvent, config, { logger, metrics, remainingMs }) {
    const event = parseBackupEvent(rawEvent);
    const target = targetOf(config);
    const runTime = event.scheduledTime ?? new Date();
    const name = archiveName(config.appName, runTime);

    // Counted once per sidecar, however often the listing is repeated while waiting for another run's commit.
    const unreadable = new Set<string>();
    const listOptions = {
      onUnreadable: (sidecar: UnreadableSidecar) => {
        if (unreadable.has(sidecar.url)) return;
        unreadable.add(sidecar.url);
        logger.warn("sidecar skipped: it cannot be read", { sidecar: sidecar.url, reason: sidecar.reason });
      },
    };
    const committed = async () =>
      (await target.list(event.kind, listOptions)).find((backup) => backup.name === name);
    const existing = event.scheduledTime && !event.continuation ? await committed() : undefined;
    let outcome: BackupOutcome;
    if (existing) {
      logger.info("this scheduled run is already backed up; nothing to do", { name, url: existing.url });
      outcome = storedOutcome(existing);
    } else {
      try {
        const step = await withDatabaseCredentials(secrets, config.secretId, (credentials) =>
          runBackupStep({
            uri: credentials.MONGODB_URI,
            target,
            app: config.appName,
            kind: event.kind,
            databases: config.databases.length ? config.databases : undefined,
            name,
            remainingMs,
            resume: event.continuation?.state,
            segmentBytes: config.segmentBytes,
          }),
        );
        if (!step.done) {
          logger.info("backup continues in the next step", { name, step: step.step, ...step.progress });
          return {
            done: false,
            kind: event.kind,
            ...(event.scheduledTime ? { scheduledTime: event.scheduledTime.toISOString() } : {}),
            continuation: { state: step.continuation, step: step.step },
            progress: step.progress,
          };
        }
        const result = step.result;
        outcome = {
          done: true,
          name: result.name,
          url: result.archive,
          bytes: result.bytes,
          documents: result.documents,
          durationMs: result.durationMs,
          alreadyDone: false,
        };
        logger.info("backup stored", { ...outcome, collections: result.collections, sha256: result.sha256 });
      } catch (error) {
        // A second delivery of the same scheduled run lost to the first: the first one's backup stands.
        const winner = error instanceof BackupError && error.cause instanceof BackupConflictError;
        const stored = winner ? await waitFor(committed, COMMIT_WAIT_MS) : undefined;
        if (!stored) throw error;
        logger.info("another run of this schedule committed it first; nothing to do", {
          name,
          url: stored.url,
        });
        outcome = storedOutcome(stored);
      }
    }
    metrics.addMetric("BackupBytes", MetricUnit.Bytes, outcome.bytes);
    metrics.addMetric("BackupDocuments", MetricUnit.Count, outcome.documents);
    metrics.addMetric("BackupDurationMs", MetricUnit.Milliseconds, outcome.durationMs);
    if (event.scheduledTime) metrics.addMetric("UnreadableSidecars", MetricUnit.Count, unreadable.size);
    return outcome;
  },
});

function storedOutcome(backup: StoredBackup): BackupOutcome {
  return {
    done: true,
    name: backup.name,
    url: backup.url,
    bytes: backup.manifest.archive?.bytes ?? 0,
    documents: backup.manifest.totals.documents,
    durationMs: Date.parse(backup.manifest.finishedAt) - Date.parse(backup.manifest.startedAt),
    alreadyDone: true,
  };
}

async function waitFor<T>(find: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
