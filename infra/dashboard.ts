import { METRICS_NAMESPACE } from "./alarms";
import type { AtlasOpsConfig } from "./config";
import { metricDimensions } from "../lambdas/core/metrics-catalog";
import type { JobName } from "./jobs";
import { atlasLoadWidgets, reviewWidgets } from "./review-dashboard";

export type MetricLine = (string | Record<string, unknown>)[];

export interface Widget {
  type: "metric";
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

export function jobMetric(
  app: string,
  job: JobName,
  name: string,
  extra: Record<string, string> = {},
  options = {},
) {
  const dims = metricDimensions(app, job, name, extra);
  const line: MetricLine = [METRICS_NAMESPACE, name, ...Object.entries(dims).flat()];
  return Object.keys(options).length > 0 ? [...line, options] : line;
}

export function widget(
  title: string,
  metrics: MetricLine[],
  region: string,
  extra: Record<string, unknown> = {},
): Widget {
  return {
    type: "metric",
    width: 12,
    height: 6,
    properties: { title, metrics, region, view: "timeSeries", period: 300, stat: "Average", ...extra },
  };
}

/** Parses NEW_DOCUMENTS_COLLECTIONS ("db.coll:field,db.coll") into the Database/Collection pairs it emits. */
export function newDocumentsCollections(
  value: string | undefined,
): { database: string; collection: string }[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim().split(":")[0] ?? "")
    .filter((ns) => ns.includes("."))
    .map((ns) => ({ database: ns.slice(0, ns.indexOf(".")), collection: ns.slice(ns.indexOf(".") + 1) }));
}

/**
 * The dashboard body: health, backups (size, age = RPO), restore tests (duration = RTO), growth, the
 * workflows' runs (by state machine ARN), Lambdas.
 */
export function dashboardBody(
  config: AtlasOpsConfig,
  functionNames: Record<JobName, string>,
  stateMachineArns: Partial<Record<JobName, string>> = {},
): string {
  const app = config.appName;
  const region = config.awsRegion;
  const kinds = ["daily", "weekly", "monthly"];
  const widgets: Widget[] = [
    widget(
      "Health check (1 = up)",
      [jobMetric(app, "health-check", "HealthCheckUp", {}, { stat: "Minimum" })],
      region,
    ),
    widget(
      "Health check latency (ms)",
      [
        jobMetric(app, "health-check", "HealthCheckLatencyMs", {}, { stat: "p50", label: "p50" }),
        jobMetric(app, "health-check", "HealthCheckLatencyMs", {}, { stat: "p95", label: "p95" }),
      ],
      region,
    ),
    // The database's own load beside the probe's latency (performance-review, daily).
    ...atlasLoadWidgets(app, region),
    widget("TLS certificate days left", [jobMetric(app, "health-check", "TlsCertDaysLeft")], region, {
      period: 3600,
    }),
    widget(
      "Backup size and documents",
      [
        jobMetric(app, "backup", "BackupBytes", {}, { stat: "Maximum" }),
        jobMetric(app, "backup", "BackupDocuments", {}, { stat: "Maximum", yAxis: "right" }),
      ],
      region,
      { period: 86400 },
    ),
    widget(
      "Newest backup age, hours (RPO)",
      kinds.map((kind) =>
        jobMetric(app, "verify-backup", "NewestBackupAgeHours", { Kind: kind }, { stat: "Maximum" }),
      ),
      region,
      { period: 3600 },
    ),
    widget(
      "Restore test: duration ms (RTO) and restored backup age",
      [
        jobMetric(app, "restore-test", "RestoreDurationMs", {}, { stat: "Maximum" }),
        jobMetric(app, "restore-test", "RestoredBackupAgeHours", {}, { stat: "Maximum", yAxis: "right" }),
      ],
      region,
      { period: 86400 },
    ),
    widget(
      "Database size (bytes)",
      config.backupDatabases.flatMap((database) =>
        ["DataSizeBytes", "StorageSizeBytes", "IndexSizeBytes"].map((name) =>
          jobMetric(app, "db-stats", name, { Database: database }, { stat: "Maximum" }),
        ),
      ),
      region,
      { period: 86400 },
    ),
    widget(
      "New documents per day",
      newDocumentsCollections(config.newDocumentsCollections).map(({ database, collection }) =>
        jobMetric(
          app,
          "db-stats",
          "NewDocuments",
          { Database: database, Collection: collection },
          { stat: "Sum" },
        ),
      ),
      region,
      { period: 86400 },
    ),
    ...reviewWidgets(config),
    widget(
      "Workflow runs per day (backup, verify, restore test)",
      Object.entries(stateMachineArns).flatMap(([job, arn]) =>
        ["ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"].map((name) => [
          "AWS/States",
          name,
          "StateMachineArn",
          arn as string,
          { stat: "Sum", label: `${job} ${name.replace("Executions", "").toLowerCase()}` },
        ]),
      ),
      region,
      { period: 86400 },
    ),
    widget(
      "Workflow run time (ms, max)",
      Object.entries(stateMachineArns).map(([job, arn]) => [
        "AWS/States",
        "ExecutionTime",
        "StateMachineArn",
        arn as string,
        { stat: "Maximum", label: job },
      ]),
      region,
      { period: 86400 },
    ),
    widget(
      "Lambda errors",
      Object.values(functionNames).map((name) => [
        "AWS/Lambda",
        "Errors",
        "FunctionName",
        name,
        { stat: "Sum" },
      ]),
      region,
      { period: 3600 },
    ),
    widget(
      "Lambda duration (ms, max)",
      Object.values(functionNames).map((name) => [
        "AWS/Lambda",
        "Duration",
        "FunctionName",
        name,
        { stat: "Maximum" },
      ]),
      region,
      { period: 3600 },
    ),
  ];
  return JSON.stringify({ widgets: widgets.filter((w) => (w.properties.metrics as unknown[]).length > 0) });
}
