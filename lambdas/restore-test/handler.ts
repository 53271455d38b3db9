import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { AuthenticationFailedError } from "../core/mongo/connect";
import {
  abandonRestoreTest,
  runRestoreTestStep,
  type RestoreTestContinuation,
  type RestoreTestResult,
  type RestoreTestStep,
} from "../core/restore-test/restore-test";
import { loadRestoreTestConfig, type RestoreTestJobConfig } from "./config";

const secrets = new SecretReader();

/** The last step's result: the test's outcome. */
export type RestoreTestOutcome = RestoreTestResult & { done: true };

/** A restore test that goes on in the next invocation; the next invocation's event is this, unchanged. */
export interface RestoreTestProgress {
  done: false;
  restoreTest: RestoreTestContinuation;
}

function isProgress(event: unknown): event is RestoreTestProgress {
  const candidate = event as Partial<RestoreTestProgress> | null;
  return (
    typeof candidate === "object" && candidate !== null && candidate.done === false && !!candidate.restoreTest
  );
}

/**
 * Monthly: restores the newest backup of RESTORE_TEST_KIND into scratch databases, checks it against its
 * manifest and drops it. RestoreDurationMs is the measured recovery time, RestoredBackupAgeHours the data
 * that a restore at that moment would have lost. When the invocation's time runs short it stops at a
 * checkpoint of the archive, keeping the scratch databases, and returns `done: false`; the next invocation
 * goes on there.
 */
export const handler = createJobHandler<
  unknown,
  RestoreTestJobConfig,
  RestoreTestOutcome | RestoreTestProgress
>({
  job: "restore-test",
  loadConfig: loadRestoreTestConfig,
  outcomeMetric: "RestoreTestSucceeded",
  async run(event, config, { logger, metrics, remainingMs }) {
    const target = new S3Target({ bucket: config.bucket, prefix: config.prefix });
    const resume = isProgress(event) ? event.restoreTest : undefined;
    const step: RestoreTestStep = await withDatabaseCredentials(
      secrets,
      config.secretId,
      async (credentials) => {
        const attempt = await runRestoreTestStep(
          { target, kind: config.kind, scratchUri: credentials.MONGODB_URI, production: config.production },
          { remainingMs, resume },
        );
        // The core reports a refused password as a failed result: rethrown so the secret is read again once.
        if (attempt.done && !attempt.result.ok && attempt.result.authenticationFailed) {
          throw new AuthenticationFailedError(attempt.result.reason ?? "authentication failed");
        }
        return attempt;
      },
    );
    if (!step.done) {
      logger.info("restore test continues in the next invocation", {
        backup: step.continuation.backup.url,
        checkpoint: step.continuation.stop.checkpoint,
        documents: step.continuation.documents,
      });
      return { done: false, restoreTest: step.continuation };
    }
    const result = step.result;
    if (result.backup) {
      metrics.addMetric(
        "RestoredBackupAgeHours",
        MetricUnit.Count,
        Math.round(result.backupAgeHours * 100) / 100,
      );
    }
    for (const sidecar of result.unreadableSidecars) {
      logger.warn("sidecar skipped: it cannot be read", { sidecar: sidecar.url, reason: sidecar.reason });
    }
    const summary = {
      ok: result.ok,
      backup: result.backup,
      restoreDurationMs: result.restoreDurationMs,
      verifyDurationMs: result.verifyDurationMs,
      documents: result.documents,
      bytes: result.bytes,
      collections: result.collections,
      scratchDatabases: result.scratchDatabases,
      scratchDropped: result.scratchDropped,
      ...(result.invocations ? { invocations: result.invocations } : {}),
    };
    if (!result.ok) {
      logger.error("restore test failed", summary);
      throw new Error(
        `restore test of the newest ${config.kind} backup failed: ${result.reason ?? "unknown reason"}`,
      );
    }
    metrics.addMetric("RestoreDurationMs", MetricUnit.Milliseconds, result.restoreDurationMs);
    metrics.addMetric("RestoredDocuments", MetricUnit.Count, result.documents);
    metrics.addMetric("RestoredBytes", MetricUnit.Bytes, result.bytes);
    logger.info("restore test passed", summary);
    return { ...result, done: true };
  },
  async abandon(event, config, { logger }) {
    // A first step names no scratch databases yet: what it left is replaced by the next run (--drop).
    if (!isProgress(event)) return;
    const dropped = await withDatabaseCredentials(secrets, config.secretId, (credentials) =>
      abandonRestoreTest(
        {
          target: new S3Target({ bucket: config.bucket, prefix: config.prefix }),
          kind: config.kind,
          scratchUri: credentials.MONGODB_URI,
          production: config.production,
        },
        event.restoreTest,
      ),
    );
    logger.warn("dropped the scratch databases of the abandoned restore test", {
      scratchDatabases: dropped.scratchDatabases,
      scratchDropped: dropped.scratchDropped,
    });
    if (!dropped.scratchDropped) throw new Error(dropped.reason);
  },
});
