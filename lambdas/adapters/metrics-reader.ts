import {
  CloudWatchClient,
  GetMetricDataCommand,
  ListMetricsCommand,
  type MetricDataQuery,
} from "@aws-sdk/client-cloudwatch";
import type { DailyReportFigures } from "../core/report/daily-report";
import { METRICS_SERVICE } from "./observability";

/** Reads back the jobs' own metrics (namespace + { service, App, Job } dimensions) for the daily report. */

interface Query {
  job: string;
  metric: string;
  stat: string;
  dimensions?: Record<string, string>;
  from: Date;
  to: Date;
  /** Seconds per data point; defaults to the whole window (one aggregate). */
  period?: number;
}

interface Series {
  values: number[];
  timestamps: Date[];
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

export class MetricsReader {
  constructor(
    private readonly client: CloudWatchClient,
    private readonly namespace: string,
    private readonly app: string,
  ) {}

  /** Runs one GetMetricData per query; values newest first, missing statistics dropped. */
  async series(query: Query): Promise<Series> {
    const period =
      query.period ?? Math.max(60, Math.round((query.to.getTime() - query.from.getTime()) / 1000));
    const dataQuery: MetricDataQuery = {
      Id: "q",
      MetricStat: {
        Metric: {
          Namespace: this.namespace,
          MetricName: query.metric,
          Dimensions: Object.entries(this.dimensions(query.job, query.dimensions)).map(([Name, Value]) => ({
            Name,
            Value,
          })),
        },
        Period: Math.ceil(period / 60) * 60,
        Stat: query.stat,
      },
    };
    let output;
    try {
      output = await this.client.send(
        new GetMetricDataCommand({
          MetricDataQueries: [dataQuery],
          StartTime: query.from,
          EndTime: query.to,
          ScanBy: "TimestampDescending",
        }),
      );
    } catch (error) {
      throw new Error(
        `reading metric ${this.namespace}/${query.metric} (${query.job}) failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const result = output.MetricDataResults?.[0];
    const values: number[] = [];
    const timestamps: Date[] = [];
    (result?.Values ?? []).forEach((value, index) => {
      if (typeof value === "number" && Number.isFinite(value)) {
        values.push(value);
        timestamps.push(result?.Timestamps?.[index] ?? query.to);
      }
    });
    return { values, timestamps };
  }

  /** The values an extra dimension (e.g. Database) takes for a job's metric. */
  async dimensionValues(job: string, metric: string, names: string[]): Promise<Record<string, string>[]> {
    const found = new Map<string, Record<string, string>>();
    let NextToken: string | undefined;
    do {
      const output = await this.client.send(
        new ListMetricsCommand({
          Namespace: this.namespace,
          MetricName: metric,
          Dimensions: Object.entries(this.dimensions(job)).map(([Name, Value]) => ({ Name, Value })),
          NextToken,
        }),
      );
      for (const entry of output.Metrics ?? []) {
        const values = Object.fromEntries((entry.Dimensions ?? []).map((d) => [d.Name ?? "", d.Value ?? ""]));
        if (names.every((name) => values[name])) {
          const picked = Object.fromEntries(names.map((name) => [name, values[name]!]));
          found.set(JSON.stringify(picked), picked);
        }
      }
      NextToken = output.NextToken;
    } while (NextToken);
    return [...found.values()];
  }

  private dimensions(job: string, extra: Record<string, string> = {}): Record<string, string> {
    return { service: METRICS_SERVICE, App: this.app, Job: job, ...extra };
  }
}

/** Gathers the report's figures for the 24 hours before `now`. */
export async function readReportFigures(
  reader: MetricsReader,
  app: string,
  now: Date,
): Promise<DailyReportFigures> {
  const day = { from: new Date(now.getTime() - DAY), to: now };
  const latest = async (
    job: string,
    metric: string,
    lookback: number,
    dimensions?: Record<string, string>,
  ) => {
    const found = await reader.series({
      job,
      metric,
      stat: "Maximum",
      dimensions,
      from: new Date(now.getTime() - lookback),
      to: now,
      period: 3600,
    });
    return found.values.length ? { value: found.values[0]!, at: found.timestamps[0]! } : undefined;
  };
  const aggregate = async (job: string, metric: string, stat: string) =>
    (await reader.series({ job, metric, stat, ...day })).values[0];

  const succeededSum = (await aggregate("backup", "BackupSucceeded", "Sum")) ?? 0;
  const backupRuns = (await aggregate("backup", "BackupSucceeded", "SampleCount")) ?? 0;
  const lastBytes = await latest("backup", "BackupBytes", DAY);

  const verified = await latest("verify-backup", "BackupVerified", 8 * DAY);
  const newestAgeHours: DailyReportFigures["verification"]["newestAgeHours"] = {};
  for (const kind of ["daily", "weekly", "monthly"] as const) {
    const age = await latest("verify-backup", "NewestBackupAgeHours", 8 * DAY, { Kind: kind });
    if (age) newestAgeHours[kind] = age.value;
  }

  const checks = (await aggregate("health-check", "HealthCheckUp", "SampleCount")) ?? 0;
  const upAverage = await aggregate("health-check", "HealthCheckUp", "Average");
  // A percentile is a nice-to-have: a service that cannot compute it (moto) must not cost the whole report.
  const p95LatencyMs = await aggregate("health-check", "HealthCheckLatencyMs", "p95").catch(() => undefined);
  const tls = await latest("health-check", "TlsCertDaysLeft", DAY);

  const newDocuments: DailyReportFigures["newDocuments"] = [];
  for (const dims of await reader.dimensionValues("db-stats", "NewDocuments", ["Database", "Collection"])) {
    const figure = await latest("db-stats", "NewDocuments", DAY + HOUR, dims);
    if (figure)
      newDocuments.push({ database: dims.Database!, collection: dims.Collection!, documents: figure.value });
  }
  const databases: DailyReportFigures["databases"] = [];
  for (const dims of await reader.dimensionValues("db-stats", "DataSizeBytes", ["Database"])) {
    const current = await latest("db-stats", "DataSizeBytes", DAY + HOUR, dims);
    const weekAgo = await reader.series({
      job: "db-stats",
      metric: "DataSizeBytes",
      stat: "Maximum",
      dimensions: dims,
      from: new Date(now.getTime() - 8 * DAY),
      to: new Date(now.getTime() - 6 * DAY),
    });
    databases.push({
      database: dims.Database!,
      dataSizeBytes: current?.value,
      weekAgoDataSizeBytes: weekAgo.values[0],
    });
  }

  const unreadable = Math.max(
    (await latest("backup", "UnreadableSidecars", DAY))?.value ?? 0,
    (await latest("verify-backup", "UnreadableSidecars", 8 * DAY))?.value ?? 0,
  );
  const indexUsageSkipped: string[] = [];
  for (const dims of await reader.dimensionValues("db-stats", "IndexUsageSkipped", ["Database"])) {
    const figure = await latest("db-stats", "IndexUsageSkipped", DAY + HOUR, dims);
    if (figure && figure.value >= 1) indexUsageSkipped.push(dims.Database!);
  }

  const restored = await latest("restore-test", "RestoreTestSucceeded", 35 * DAY);
  let restoreTest: DailyReportFigures["restoreTest"];
  if (restored) {
    const rto = await latest("restore-test", "RestoreDurationMs", 35 * DAY);
    const rpo = await latest("restore-test", "RestoredBackupAgeHours", 35 * DAY);
    restoreTest = { ok: restored.value >= 1, at: restored.at, rtoMs: rto?.value, backupAgeHours: rpo?.value };
  }

  return {
    app,
    periodEnd: now,
    backups: { succeeded: succeededSum, failed: backupRuns - succeededSum, lastBytes: lastBytes?.value },
    verification: { ok: verified ? verified.value >= 1 : undefined, at: verified?.at, newestAgeHours },
    health: {
      checks,
      uptimePercent: upAverage === undefined ? undefined : upAverage * 100,
      p95LatencyMs,
      tlsCertDaysLeft: tls?.value,
    },
    newDocuments,
    databases,
    indexUsageSkipped,
    restoreTest,
    unreadableSidecars: unreadable,
  };
}
