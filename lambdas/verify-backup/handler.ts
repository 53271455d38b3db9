import { emitWithDimensions } from "../adapters/dimensioned-metrics";
import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { BACKUP_KINDS } from "../core/archive/events";
import type { StoredBackup, UnreadableSidecar } from "../core/targets/target";
import { verifyArchive, type VerifyReport } from "../core/verify/verify";
import { loadVerifyBackupConfig, type VerifyBackupConfig } from "./config";

const HOUR = 3600_000;

export interface VerifyBackupOutcome {
  verified: { url: string; ok: boolean; documents: number; problem?: string }[];
  newestAgeHours: Record<string, number>;
  /** Sidecars skipped because they cannot be read (each also logged, and counted in UnreadableSidecars). */
  unreadableSidecars: UnreadableSidecar[];
}

/**
 * Weekly: reads back the newest archive of each kind and every archive younger than VERIFY_MAX_AGE_HOURS,
 * checking each against its manifest. NewestBackupAgeHours per kind makes a missed backup visible even when
 * no backup job ran to report it.
 */
export const handler = createJobHandler<unknown, VerifyBackupConfig, VerifyBackupOutcome>({
  job: "verify-backup",
  loadConfig: loadVerifyBackupConfig,
  outcomeMetric: "BackupVerified",
  async run(_event, config, { logger, metrics }) {
    const target = new S3Target({ bucket: config.bucket, prefix: config.prefix });
    const now = Date.now();
    const toVerify: StoredBackup[] = [];
    const newestAgeHours: Record<string, number> = {};
    const unreadableSidecars: UnreadableSidecar[] = [];
    const onUnreadable = (sidecar: UnreadableSidecar) => {
      unreadableSidecars.push(sidecar);
      logger.warn("sidecar skipped: it cannot be read", { sidecar: sidecar.url, reason: sidecar.reason });
    };
    for (const kind of BACKUP_KINDS) {
      const backups = await target.list(kind, { onUnreadable });
      const newest = backups[0];
      if (!newest) {
        logger.warn("no committed backup of this kind", { kind, target: target.url });
        continue;
      }
      const ageHours = (now - Date.parse(newest.manifest.finishedAt)) / HOUR;
      newestAgeHours[kind] = Math.round(ageHours * 100) / 100;
      emitWithDimensions(metrics, { Kind: kind }, [
        ["NewestBackupAgeHours", MetricUnit.Count, newestAgeHours[kind]],
      ]);
      toVerify.push(newest);
      for (const backup of backups.slice(1)) {
        if (now - Date.parse(backup.manifest.finishedAt) < config.maxAgeHours * HOUR) toVerify.push(backup);
      }
    }

    const reports: VerifyReport[] = [];
    for (const backup of toVerify) {
      const report = await verifyArchive(target, backup.key, backup.url);
      reports.push(report);
      logger.info(report.ok ? "archive verified" : "archive FAILED verification", {
        archive: backup.url,
        ok: report.ok,
        documents: report.documents,
        bytes: report.bytes,
        problem: report.problem,
      });
    }
    const outcome: VerifyBackupOutcome = {
      verified: reports.map((report) => ({
        url: report.archive,
        ok: report.ok,
        documents: report.documents,
        problem: report.problem && describeProblem(report.problem),
      })),
      newestAgeHours,
      unreadableSidecars,
    };
    metrics.addMetric("UnreadableSidecars", MetricUnit.Count, unreadableSidecars.length);
    const failed = outcome.verified.filter((report) => !report.ok);
    if (failed.length) {
      const list = failed.map((report) => `${report.url}: ${report.problem ?? "failed"}`).join("; ");
      throw new Error(`${failed.length} of ${reports.length} backup(s) failed verification: ${list}`);
    }
    if (!reports.length) throw new Error(`no committed backup found in ${target.url}`);
    return outcome;
  },
});

function describeProblem(problem: NonNullable<VerifyReport["problem"]>): string {
  const where = problem.namespace ?? problem.file;
  return where ? `${where}: ${problem.reason}` : problem.reason;
}
