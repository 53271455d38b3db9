import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { archiveName } from "../core/archive/names";
import { runBackup } from "../core/backup/backup";
import { loadBackupConfig, type BackupConfig } from "./config";
import { parseBackupEvent } from "./event";

const secrets = new SecretReader();

export interface BackupOutcome {
  name: string;
  url: string;
  bytes: number;
  documents: number;
  durationMs: number;
  /** True when a committed archive of this scheduled run already existed (a retry): nothing was written. */
  alreadyDone: boolean;
}

/** Daily, weekly and monthly: every configured database, read with the backup user, to the kind's folder. */
export const handler = createJobHandler<unknown, BackupConfig, BackupOutcome>({
  job: "backup",
  loadConfig: loadBackupConfig,
  outcomeMetric: "BackupSucceeded",
  async run(rawEvent, config, { logger, metrics }) {
    const event = parseBackupEvent(rawEvent);
    const target = new S3Target({ bucket: config.bucket, prefix: config.prefix, kmsKeyId: config.kmsKeyId });
    const runTime = event.scheduledTime ?? new Date();
    const name = archiveName(config.appName, runTime);

    let unreadable = 0;
    const existing = event.scheduledTime
      ? (
          await target.list(event.kind, {
            onUnreadable: (sidecar) => {
              unreadable += 1;
              logger.warn("sidecar skipped: it cannot be read", {
                sidecar: sidecar.url,
                reason: sidecar.reason,
              });
            },
          })
        ).find((backup) => backup.name === name)
      : undefined;
    let outcome: BackupOutcome;
    if (existing) {
      logger.info("this scheduled run is already backed up; nothing to do", { name, url: existing.url });
      outcome = {
        name,
        url: existing.url,
        bytes: existing.manifest.archive?.bytes ?? 0,
        documents: existing.manifest.totals.documents,
        durationMs: Date.parse(existing.manifest.finishedAt) - Date.parse(existing.manifest.startedAt),
        alreadyDone: true,
      };
    } else {
      const result = await withDatabaseCredentials(secrets, config.secretId, (credentials) =>
        runBackup({
          uri: credentials.MONGODB_URI,
          target,
          app: config.appName,
          kind: event.kind,
          databases: config.databases.length ? config.databases : undefined,
          name,
        }),
      );
      outcome = {
        name: result.name,
        url: result.archive,
        bytes: result.bytes,
        documents: result.documents,
        durationMs: result.durationMs,
        alreadyDone: false,
      };
      logger.info("backup stored", { ...outcome, collections: result.collections, sha256: result.sha256 });
    }
    metrics.addMetric("BackupBytes", MetricUnit.Bytes, outcome.bytes);
    metrics.addMetric("BackupDocuments", MetricUnit.Count, outcome.documents);
    metrics.addMetric("BackupDurationMs", MetricUnit.Milliseconds, outcome.durationMs);
    if (event.scheduledTime) metrics.addMetric("UnreadableSidecars", MetricUnit.Count, unreadable);
    return outcome;
  },
});
