import { emitWithDimensions } from "../adapters/dimensioned-metrics";
import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { BACKUP_KINDS } from "../core/archive/events";
import type { UnreadableSidecar } from "../core/targets/target";
import { verifyArchiveStep, type VerifyContinuation, type VerifyReport } from "../core/verify/verify";
import { loadVerifyBackupConfig, type VerifyBackupConfig } from "./config";

const HOUR = 3600_000;
/** Kept in reserve at every stop decision, besides twice the longest step seen. */
const MARGIN_MS = 30_000;

export interface VerifiedArchive {
  url: string;
  ok: boolean;
  documents: number;
  problem?: string;
}

export interface VerifyBackupOutcome {
  done: true;
  verified: VerifiedArchive[];
  newestAgeHours: Record<string, number>;
  /** Sidecars skipped because they cannot be read (each also logged, and counted in UnreadableSidecars). */
  unreadableSidecars: UnreadableSidecar[];
}

/**
 * A verify that goes on in the next invocation: the archives chosen by the first one, the outcome of those
 * done, and where the one in progress stopped. The next invocation's event is this, unchanged.
 */
export interface VerifyBackupProgress extends Omit<VerifyBackupOutcome, "done"> {
  done: false;
  archives: { key: string; url: string }[];
  /** The continuation of `archives[verified.length]`, when it stopped at a checkpoint. */
  current?: VerifyContinuation;
}

export type VerifyBackupResult = VerifyBackupOutcome | VerifyBackupProgress;

function isProgress(event: unknown): event is VerifyBackupProgress {
  const candidate = event as Partial<VerifyBackupProgress> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    candidate.done === false &&
    Array.isArray(candidate.archives) &&
    Array.isArray(candidate.verified)
  );
}

/**
 * Weekly: reads back the newest archive of each kind and every archive younger than VERIFY_MAX_AGE_HOURS,
 * checking each against its manifest. NewestBackupAgeHours per kind makes a missed backup visible even when
 * no backup job ran to report it. When the invocation's time runs short it stops at a checkpoint of the
 * archive it is reading (or between archives) and returns `done: false`; the next invocation goes on there.
 */
export const handler = createJobHandler<unknown, VerifyBackupConfig, VerifyBackupResult>({
  job: "verify-backup",
  loadConfig: loadVerifyBackupConfig,
  outcomeMetric: "BackupVerified",
  async run(event, config, { logger, metrics, remainingMs }) {
    const target = new S3Target({ bucket: config.bucket, prefix: config.prefix });
    const progress = isProgress(event) ? event : await chooseArchives(target, config, logger, metrics);
    const verified = [...progress.verified];
    let current = progress.current;
    let longestStepMs = 0;
    for (let index = verified.length; index < progress.archives.length; index += 1) {
      const archive = progress.archives[index]!;
      // Between archives too: one without checkpoints is read in one go, so it must fit in what is left.
      if (index > progress.verified.length && remainingMs() < MARGIN_MS + 2 * longestStepMs) {
        return { ...progress, done: false, verified, current: undefined };
      }
      const started = Date.now();
      const step = await verifyArchiveStep(target, archive.key, archive.url, {
        remainingMs,
        marginMs: MARGIN_MS,
        resume: current,
      });
      longestStepMs = Math.max(longestStepMs, Date.now() - started);
      current = undefined;
      if (!step.done) {
        logger.info("archive verification continues in the next invocation", {
          archive: archive.url,
          checkpoint: step.continuation.checkpoint,
        });
        return { ...progress, done: false, verified, current: step.continuation };
      }
      const report = step.report;
      logger.info(report.ok ? "archive verified" : "archive FAILED verification", {
        archive: archive.url,
        ok: report.ok,
        documents: report.documents,
        bytes: report.bytes,
        problem: report.problem,
        ...(report.invocations ? { invocations: report.invocations } : {}),
      });
      verified.push({
        url: report.archive,
        ok: report.ok,
        documents: report.documents,
        problem: report.problem && describeProblem(report.problem),
      });
    }
    const outcome: VerifyBackupOutcome = {
      done: true,
      verified,
      newestAgeHours: progress.newestAgeHours,
      unreadableSidecars: progress.unreadableSidecars,
    };
    metrics.addMetric("UnreadableSidecars", MetricUnit.Count, outcome.unreadableSidecars.length);
    const failed = verified.filter((report) => !report.ok);
    if (failed.length) {
      const list = failed.map((report) => `${report.url}: ${report.problem ?? "failed"}`).join("; ");
      throw new Error(`${failed.length} of ${verified.length} backup(s) failed verification: ${list}`);
    }
    if (!verified.length) throw new Error(`no committed backup found in ${target.url}`);
    return outcome;
  },
});

/** The first invocation: which archives to verify, and the age of the newest backup of each kind. */
async function chooseArchives(
  target: S3Target,
  config: VerifyBackupConfig,
  logger: { warn: (message: string, extra: Record<string, unknown>) => void },
  metrics: Parameters<typeof emitWithDimensions>[0],
): Promise<VerifyBackupProgress> {
  const now = Date.now();
  const progress: VerifyBackupProgress = {
    done: false,
    archives: [],
    verified: [],
    newestAgeHours: {},
    unreadableSidecars: [],
  };
  const onUnreadable = (sidecar: UnreadableSidecar) => {
    progress.unreadableSidecars.push(sidecar);
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
    progress.newestAgeHours[kind] = Math.round(ageHours * 100) / 100;
    emitWithDimensions(metrics, { Kind: kind }, [
      ["NewestBackupAgeHours", MetricUnit.Count, progress.newestAgeHours[kind]],
    ]);
    progress.archives.push({ key: newest.key, url: newest.url });
    for (const backup of backups.slice(1)) {
      if (now - Date.parse(backup.manifest.finishedAt) < config.maxAgeHours * HOUR) {
        progress.archives.push({ key: backup.key, url: backup.url });
      }
    }
  }
  return progress;
}

function describeProblem(problem: NonNullable<VerifyReport["problem"]>): string {
  const where = problem.namespace ?? problem.file;
  return where ? `${where}: ${problem.reason}` : problem.reason;
}
