import { createJobHandler } from "../adapters/job-handler";
import { emitWithDimensions } from "../adapters/dimensioned-metrics";
import { MetricUnit } from "../adapters/observability";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { connectMongo } from "../core/mongo/connect";
import { collectDatabaseStats, type DatabaseStatsReport } from "../core/probes/db-stats";
import { loadDbStatsConfig, type DbStatsConfig } from "./config";

const secrets = new SecretReader();

/** Daily: database sizes and counts as metrics, new documents per configured collection, unused indexes. */
export const handler = createJobHandler<unknown, DbStatsConfig, DatabaseStatsReport>({
  job: "db-stats",
  loadConfig: loadDbStatsConfig,
  async run(_event, config, { logger, metrics }) {
    const report = await withDatabaseCredentials(secrets, config.secretId, async (credentials) => {
      const client = await connectMongo(credentials.MONGODB_URI, {
        appName: "atlas-ops/db-stats",
        maxPoolSize: 2,
      });
      try {
        return await collectDatabaseStats(client, {
          databases: config.databases,
          newDocuments: config.newDocuments,
        });
      } finally {
        await client.close();
      }
    });
    const skipped = new Set(report.indexUsage.skipped.map((entry) => entry.namespace.split(".")[0]));
    for (const figures of report.databases) {
      emitWithDimensions(metrics, { Database: figures.database }, [
        ["IndexUsageSkipped", MetricUnit.Count, skipped.has(figures.database) ? 1 : 0],
        ["DataSizeBytes", MetricUnit.Bytes, figures.dataSizeBytes],
        ["StorageSizeBytes", MetricUnit.Bytes, figures.storageSizeBytes],
        ["IndexSizeBytes", MetricUnit.Bytes, figures.indexSizeBytes],
        ["Documents", MetricUnit.Count, figures.documents],
        ["Collections", MetricUnit.Count, figures.collections],
      ]);
      logger.info("database statistics", { ...figures });
    }
    for (const figure of report.newDocuments) {
      emitWithDimensions(metrics, { Database: figure.database, Collection: figure.collection }, [
        ["NewDocuments", MetricUnit.Count, figure.documents],
      ]);
    }
    // A skipped check is a warning, not silence: the daily report names the database too.
    (report.indexUsage.skipped.length > 0 ? logger.warn : logger.info).call(logger, "index usage", {
      unusedIndexes: report.indexUsage.unused,
      indexUsageSkipped: report.indexUsage.skipped,
    });
    return report;
  },
});
