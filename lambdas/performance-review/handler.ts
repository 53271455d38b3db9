import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { SNSClient } from "@aws-sdk/client-sns";
import { atlasReadsFrom } from "../adapters/atlas-reads";
import { createJobHandler } from "../adapters/job-handler";
import { MetricsReader } from "../adapters/metrics-reader";
import { MetricUnit } from "../adapters/observability";
import { publishSummary } from "../adapters/publish";
import { SecretReader, withDatabaseCredentials } from "../adapters/secrets";
import { clusterProcesses, type AtlasProcess, type AtlasReads } from "../core/atlas/atlas-reads";
import { connectMongo } from "../core/mongo/connect";
import {
  DISK_MEASUREMENTS,
  measuredFigures,
  PROCESS_MEASUREMENTS,
  type MeasuredFigure,
} from "../core/performance/measurements";
import { formatMonthlyReview, type MonthlyReview, type Trend } from "../core/performance/monthly-review";
import { findUnusedIndexes, type IndexUsage } from "../core/probes/db-stats";
import { loadPerformanceReviewConfig, reviewKind, type PerformanceReviewConfig } from "./config";

const secrets = new SecretReader();
const sns = new SNSClient({});
const cloudWatch = new CloudWatchClient({});
const DAY = 24 * 3600_000;

export type PerformanceReviewResult =
  | { review: "daily"; process: string; figures: MeasuredFigure[] }
  | ({ review: "monthly"; process: string } & MonthlyReview);

/** Daily: the primary's Atlas measurements as metrics. Monthly: trends, suggested and unused indexes, mailed. */
export const handler = createJobHandler<unknown, PerformanceReviewConfig, PerformanceReviewResult>({
  job: "performance-review",
  loadConfig: loadPerformanceReviewConfig,
  outcomeMetric: "PerformanceReviewSucceeded",
  async run(event, config, { logger, metrics }) {
    const kind = reviewKind(event);
    const atlas = await atlasReadsFrom(secrets, config.atlas);
    const primary = await primaryOf(atlas, config);
    if (kind === "daily") {
      const figures = [
        ...measuredFigures(
          await atlas.measurements(
            primary.id,
            PROCESS_MEASUREMENTS.map((m) => m.atlas),
            "P1D",
          ),
          PROCESS_MEASUREMENTS,
        ),
        ...measuredFigures(
          await atlas.diskMeasurements(
            primary.id,
            DISK_MEASUREMENTS.map((m) => m.atlas),
            "P1D",
          ),
          DISK_MEASUREMENTS,
        ),
      ];
      // The day's hourly values in one EMF record each: CloudWatch's statistics then cover the whole day.
      for (const figure of figures)
        for (const value of figure.values)
          metrics.addMetric(
            figure.metric,
            figure.unit as (typeof MetricUnit)[keyof typeof MetricUnit],
            value,
          );
      logger.info("atlas measurements", { process: primary.id, metrics: figures.map((f) => f.metric) });
      return { review: "daily", process: primary.id, figures };
    }

    const now = new Date();
    const since = new Date(now.getTime() - 30 * DAY);
    const advisor = await atlas.suggestedIndexes(primary.id, since);
    const slowQueries = await atlas.slowQueries(primary.id, since);
    const usage = await unusedIndexes(config);
    const review = formatMonthlyReview({
      app: config.appName,
      periodEnd: now,
      trends: await monthOverMonth(
        new MetricsReader(cloudWatch, config.metricsNamespace, config.appName),
        now,
      ),
      suggestedIndexes: advisor.suggestedIndexes,
      shapes: advisor.shapes,
      slowQueries,
      unusedIndexes: usage.unused,
      unusedIndexesSkipped: usage.skipped.map((s) => s.reason),
    });
    for (const [name, value] of Object.entries(review.figures))
      metrics.addMetric(name, MetricUnit.Count, value);
    await publishSummary(sns, config.topicArn, review, "the performance review");
    logger.info("performance review sent", { subject: review.subject, ...review.figures });
    return { review: "monthly", process: primary.id, ...review };
  },
});

async function primaryOf(atlas: AtlasReads, config: PerformanceReviewConfig): Promise<AtlasProcess> {
  const nodes = clusterProcesses(await atlas.processes(), config.atlas.clusterName);
  const primary = nodes.find((node) => node.typeName === "REPLICA_PRIMARY") ?? nodes[0];
  if (!primary) {
    throw new Error(
      `Atlas project ${config.atlas.projectId} has no process of cluster ${config.atlas.clusterName}`,
    );
  }
  return primary;
}

async function unusedIndexes(config: PerformanceReviewConfig): Promise<IndexUsage> {
  if (!config.mongodbSecretId)
    return { unused: [], skipped: [{ namespace: "", reason: "MONGODB_SECRET_ID is not set" }] };
  return withDatabaseCredentials(secrets, config.mongodbSecretId, async (credentials) => {
    const client = await connectMongo(credentials.MONGODB_URI, {
      appName: "atlas-ops/performance-review",
      maxPoolSize: 2,
    });
    try {
      return await findUnusedIndexes(client, config.databases);
    } finally {
      await client.close();
    }
  });
}

const TRENDS: { job: string; metric: string; label: string; unit: string; scale?: number }[] = [
  { job: "performance-review", metric: "AtlasCpuPercent", label: "CPU (normalized)", unit: "%" },
  { job: "performance-review", metric: "AtlasMemoryResidentMb", label: "resident memory", unit: "MB" },
  { job: "performance-review", metric: "AtlasConnections", label: "connections", unit: "" },
  { job: "performance-review", metric: "AtlasQueriesPerSecond", label: "queries", unit: "/s" },
  {
    job: "performance-review",
    metric: "AtlasQueryTargeting",
    label: "documents scanned per returned",
    unit: "",
  },
  { job: "performance-review", metric: "AtlasDiskReadLatencyMs", label: "disk read latency", unit: "ms" },
  { job: "performance-review", metric: "AtlasDiskWriteLatencyMs", label: "disk write latency", unit: "ms" },
  { job: "health-check", metric: "HealthCheckLatencyMs", label: "health check response time", unit: "ms" },
  { job: "health-check", metric: "HealthCheckUp", label: "health check uptime", unit: "%", scale: 100 },
];

async function monthOverMonth(reader: MetricsReader, now: Date): Promise<Trend[]> {
  const average = async (job: string, metric: string, from: number, to: number) =>
    (await reader.series({ job, metric, stat: "Average", from: new Date(from), to: new Date(to) })).values[0];
  const end = now.getTime();
  const trends: Trend[] = [];
  for (const { job, metric, label, unit, scale = 1 } of TRENDS) {
    const thisMonth = await average(job, metric, end - 30 * DAY, end);
    const lastMonth = await average(job, metric, end - 60 * DAY, end - 30 * DAY);
    trends.push({
      label,
      unit,
      thisMonth: thisMonth === undefined ? undefined : thisMonth * scale,
      lastMonth: lastMonth === undefined ? undefined : lastMonth * scale,
    });
  }
  return trends;
}
