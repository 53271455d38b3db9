import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { S3Target } from "../adapters/s3-target";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { AuthenticationFailedError } from "../core/mongo/connect";
import { runRestoreTest, type RestoreTestResult } from "../core/restore-test/restore-test";
import { loadRestoreTestConfig, type RestoreTestJobConfig } from "./config";

const secrets = new SecretReader();

/**
 * Monthly: restores the newest backup of RESTORE_TEST_KIND into scratch databases, checks it against its
 * manifest and drops it. RestoreDurationMs is the measured recovery time, RestoredBackupAgeHours the data
 * that a restore at that moment would have lost.
 */
export const handler = createJobHandler<unknown, RestoreTestJobConfig, RestoreTestResult>({
  job: "restore-test",
  loadConfig: loadRestoreTestConfig,
  outcomeMetric: "RestoreTestSucceeded",
  async run(_event, config, { logger, metrics }) {
    const target = new S3Target({ bucket: config.bucket, prefix: config.prefix });
    const result = await withDatabaseCredentials(secrets, config.secretId, async (credentials) => {
      const attempt = await runRestoreTest({
        target,
        kind: config.kind,
        scratchUri: credentials.MONGODB_URI,
        production: config.production,
      });
      // The core reports a refused password as a failed result: rethrown so the secret is read again once.
      if (!attempt.ok && attempt.authenticationFailed) {
        throw new AuthenticationFailedError(attempt.reason ?? "authentication failed");
      }
      return attempt;
    });
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
    return result;
  },
});
