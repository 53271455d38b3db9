import { ADMIN_SECRET_WARNING_DAYS, type AtlasOpsConfig, type BackupKind } from "./config";
import { longestIntervalHours } from "./config-rules";
import { hasDaylightSaving } from "./dst";
import { metricDimensions } from "../lambdas/core/metrics-catalog";
import type { JobName, JobSchedule, ScheduledJobName } from "./jobs";
import { reviewAlarmSpecs } from "./review-alarms";

export const METRICS_NAMESPACE = "AtlasOps";
export type AlarmTopic = "technical" | "security";

export interface MetricRef {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

/** One CloudWatch alarm, as data: the component turns each into an aws.cloudwatch.MetricAlarm. */
export interface AlarmSpec {
  id: string;
  description: string;
  topic: AlarmTopic;
  /** A single metric, or metric math (`expression` over `metrics` named m0, m1, ...). */
  metric?: MetricRef & { statistic?: string; extendedStatistic?: string };
  expression?: { expression: string; metrics: (MetricRef & { stat: string })[] };
  /** CloudWatch anomaly detection: alarms when the metric leaves its band of `stdDevs` standard deviations. */
  anomalyBand?: { metric: MetricRef & { stat: string }; stdDevs: number };
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  comparisonOperator:
    "GreaterThanThreshold" | "LessThanThreshold" | "GreaterThanOrEqualToThreshold" | "LessThanLowerThreshold";
  threshold: number;
  treatMissingData: "breaching" | "notBreaching" | "missing";
  /**
   * Also notify when the alarm goes to INSUFFICIENT_DATA: for an alarm on a heartbeat that must never stop,
   * where "no data at all" is the failure (a new alarm starts in that state without a transition).
   */
  notifyOnNoData?: boolean;
}

/** CloudWatch evaluates at most 7 days (hourly periods) or 1 day (shorter periods) of data. */
const MAX_EVALUATION_SECONDS = 7 * 24 * 3600;

/**
 * The window in which a run must have succeeded: the longest gap between scheduled runs plus slack, split into
 * periods CloudWatch accepts. Undefined when the window exceeds what an alarm can look back on (weekly and
 * monthly jobs): those are watched by their failure alarms, the DLQ and the daily report instead.
 */
export function missedRunWindow(
  intervalHours: number,
  slackMinutes: number,
): { period: number; evaluationPeriods: number } | undefined {
  const windowSeconds = Math.ceil((intervalHours * 60 + slackMinutes) * 60);
  if (windowSeconds > MAX_EVALUATION_SECONDS) return undefined;
  const period = windowSeconds <= 3600 * 2 ? 300 : 3600;
  return { period, evaluationPeriods: Math.ceil(windowSeconds / period) };
}

function lambdaMetric(functionName: string, metricName: string): MetricRef {
  return { namespace: "AWS/Lambda", metricName, dimensions: { FunctionName: functionName } };
}

/**
 * The health check runs every few minutes and is the other alarms' clock, so its own stop is watched on the
 * invocations Lambda counts (whatever the code does): no invocation in the window leaves the alarm without
 * data, which notifies as INSUFFICIENT_DATA. A new alarm starts in that state, so a fresh deploy stays quiet.
 */
function healthCheckStopped(
  functionName: string,
  window: { period: number; evaluationPeriods: number },
): AlarmSpec {
  return {
    id: "health-check-missed-run",
    description: `health-check has not been invoked for ${(window.period * window.evaluationPeriods) / 60} minutes (schedule stopped or deleted); the missed-run alarms of the other jobs use it as their clock`,
    topic: "technical",
    metric: { ...lambdaMetric(functionName, "Invocations"), statistic: "Sum" },
    period: window.period,
    evaluationPeriods: window.evaluationPeriods,
    datapointsToAlarm: window.evaluationPeriods,
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
    treatMissingData: "missing",
    notifyOnNoData: true,
  };
}

/**
 * A job's own 1/0 outcome metric: any run that reports 0 alarms at once; no run at all is the missed-run
 * alarm's.
 */
export function reportedFailureAlarm(
  id: string,
  description: string,
  topic: AlarmTopic,
  outcome: MetricRef,
): AlarmSpec {
  return {
    id,
    description,
    topic,
    metric: { ...outcome, statistic: "Minimum" },
    period: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
    treatMissingData: "notBreaching",
  };
}

export interface MonitoredJob {
  job: JobName;
  functionName: string;
  deadLetterQueueName?: string;
  /** The job's Step Functions workflow (backup, verify-backup, restore-test). */
  stateMachineName?: string;
  schedules: JobSchedule[];
}

export function alarmSpecs(
  config: AtlasOpsConfig,
  jobs: MonitoredJob[],
  now: number = Date.now(),
): AlarmSpec[] {
  const app = config.appName;
  // A schedule runs by the local clock: in a zone with daylight saving time the day it falls back lasts 25
  // hours, so a daily (or longer) gap between two runs can be an hour longer than the cron says.
  const dstHour = hasDaylightSaving(config.timeZone, now) ? 1 : 0;
  const localInterval = (expression: string) => {
    const hours = longestIntervalHours(expression);
    return hours >= 24 ? hours + dstHour : hours;
  };
  // Through the metrics catalog: a metric or dimension set no handler emits fails here, not silently in AWS.
  function jobMetric(job: JobName, metricName: string, extra?: Record<string, string>): MetricRef;
  function jobMetric(job: JobName, metricName: string | undefined): MetricRef | undefined;
  function jobMetric(job: JobName, metricName?: string, extra: Record<string, string> = {}) {
    return metricName === undefined
      ? undefined
      : {
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensions: metricDimensions(app, job, metricName, extra),
        };
  }
  const healthCheckFunction = jobs.find((j) => j.job === "health-check")?.functionName;
  if (!healthCheckFunction) throw new Error("alarmSpecs: the health-check job is missing from the jobs");
  /**
   * "No successful run within the window". Before the stack existed there is no data at all, and missing
   * data counted as breaching would make every new stack red until each job ran once (a day for the daily
   * backup). So an hour counts only once the stack is alive in it: the health check's own invocations
   * (counted by Lambda, every 5 minutes from the deploy on) are the clock. Hours without that clock count as
   * fine; the health check's stop is its own alarm (`healthCheckStopped`).
   */
  const missedRun = (
    job: JobName,
    interval: number,
    window: { period: number; evaluationPeriods: number },
    successMetric: MetricRef | undefined,
    functionName: string,
  ): AlarmSpec => ({
    id: `${job}-missed-run`,
    description: `${job} has not succeeded within ${interval} h + slack (no run, or every run failed)`,
    topic: "technical",
    expression: {
      expression: "IF(FILL(m1, 0) > 0, FILL(m0, 0), 1)",
      metrics: [
        successMetric
          ? { ...successMetric, stat: "Maximum" }
          : { ...lambdaMetric(functionName, "Invocations"), stat: "Sum" },
        { ...lambdaMetric(healthCheckFunction, "Invocations"), stat: "Sum" },
      ],
    },
    period: window.period,
    evaluationPeriods: window.evaluationPeriods,
    datapointsToAlarm: window.evaluationPeriods,
    comparisonOperator: "LessThanThreshold",
    threshold: 1,
    treatMissingData: "notBreaching",
  });
  const specs: AlarmSpec[] = [];
  const isRotation = (job: JobName) => job.startsWith("rotate-");
  // Something that should never happen happened at least once in five minutes (an error, a failed step).
  const occurred = (id: string, description: string, topic: AlarmTopic, metric: MetricRef): AlarmSpec => ({
    id,
    description,
    topic,
    metric: { ...metric, statistic: "Sum" },
    period: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    treatMissingData: "notBreaching",
  });
  const reportedFailure = (
    id: string,
    description: string,
    topic: AlarmTopic,
    job: JobName,
    outcomeMetric: string,
  ): AlarmSpec => reportedFailureAlarm(id, description, topic, jobMetric(job, outcomeMetric));

  for (const { job, functionName, deadLetterQueueName, schedules } of jobs) {
    specs.push(
      occurred(
        `${job}-errors`,
        `${job} Lambda failed (uncaught error or timeout); see its log group`,
        isRotation(job) ? "security" : "technical",
        lambdaMetric(functionName, "Errors"),
      ),
    );
    if (deadLetterQueueName) {
      specs.push({
        id: `${job}-dead-letters`,
        // New arrivals, not the queue depth: a message waits up to 14 days for inspection, and an alarm on the
        // depth would stay red that long and hide the next failure. Lambda and Scheduler send to the queue
        // with SendMessage, which this metric counts.
        description: `${job}: a scheduled run could not be delivered or kept failing; its event was put in ${deadLetterQueueName} (inspect, then re-drive or delete it)`,
        topic: "technical",
        metric: {
          namespace: "AWS/SQS",
          metricName: "NumberOfMessagesSent",
          dimensions: { QueueName: deadLetterQueueName },
          statistic: "Sum",
        },
        period: 300,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      });
    }
    if (schedules.length === 0) continue;
    const interval = Math.min(...schedules.map((s) => localInterval(s.expression)));
    const window = missedRunWindow(
      interval,
      job === "health-check" ? 10 : config.alarms.missedRunSlackMinutes,
    );
    if (!window) continue;
    specs.push(
      job === "health-check"
        ? healthCheckStopped(functionName, window)
        : missedRun(job, interval, window, jobMetric(job, schedules[0]?.successMetric), functionName),
    );
  }
  const hc = config.healthCheck;
  specs.push(
    {
      id: "health-down",
      // Probes that said "down"; probes that never ran are health-check-missed-run and health-check-errors.
      description: `${hc.url} failed the health check in ${hc.downPeriods} of ${hc.downOutOfPeriods} 5-minute periods`,
      topic: "technical",
      metric: { ...jobMetric("health-check", "HealthCheckUp"), statistic: "Minimum" },
      period: 300,
      evaluationPeriods: hc.downOutOfPeriods,
      datapointsToAlarm: hc.downPeriods,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
    },
    {
      id: "health-latency-p95",
      description: `p95 latency of ${hc.url} above ${hc.latencyP95Ms} ms for 15 minutes`,
      topic: "technical",
      metric: { ...jobMetric("health-check", "HealthCheckLatencyMs"), extendedStatistic: "p95" },
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: "GreaterThanThreshold",
      threshold: hc.latencyP95Ms,
      treatMissingData: "notBreaching",
    },
    {
      id: "tls-certificate-expiring",
      description: `TLS certificate of ${hc.url} expires in less than ${config.alarms.tlsCertDaysLeft} days`,
      topic: "security",
      metric: { ...jobMetric("health-check", "TlsCertDaysLeft"), statistic: "Minimum" },
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: config.alarms.tlsCertDaysLeft,
      treatMissingData: "notBreaching",
    },
    reportedFailure(
      "backup-failed",
      "A backup run reported failure",
      "technical",
      "backup",
      "BackupSucceeded",
    ),
    reportedFailure(
      "backup-verification-failed",
      "Backup verification found a missing, unreadable or inconsistent backup",
      "technical",
      "verify-backup",
      "BackupVerified",
    ),
    reportedFailure(
      "restore-test-failed",
      "The restore test could not restore the newest backup",
      "technical",
      "restore-test",
      "RestoreTestSucceeded",
    ),
  );

  const backupSchedules: Record<BackupKind, string> = {
    daily: config.schedules.backupDaily,
    weekly: config.schedules.backupWeekly,
    monthly: config.schedules.backupMonthly,
  };
  for (const [kind, expression] of Object.entries(backupSchedules) as [BackupKind, string][]) {
    const maxAge = localInterval(expression) + Math.ceil(config.alarms.missedRunSlackMinutes / 60);
    specs.push({
      id: `newest-${kind}-backup-too-old`,
      description: `The newest ${kind} backup is older than ${maxAge} h (RPO at risk)`,
      topic: "technical",
      metric: { ...jobMetric("verify-backup", "NewestBackupAgeHours", { Kind: kind }), statistic: "Maximum" },
      period: 3600,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: maxAge,
      treatMissingData: "notBreaching",
    });
  }

  // The per-function aggregate (no SecretName): one alarm covers every secret the function rotates; the
  // SecretName series and the log say which one.
  for (const job of ["rotate-app-secret", "rotate-mongodb-password"] as const) {
    specs.push(
      reportedFailure(
        `${job}-failed`,
        `${job}: a secret rotation step failed; the secret keeps its previous value (see the SecretName metric and the log group)`,
        "security",
        job,
        "RotationSucceeded",
      ),
      occurred(
        `${job}-step-failed`,
        `${job}: a rotation step or the application restart after it failed (a failed restart leaves the app on the old value)`,
        "security",
        jobMetric(job, "RotationStepFailed"),
      ),
    );
  }

  const diskBytes = config.atlas.diskSizeGb * 1024 ** 3;
  const storage = config.backupDatabases.flatMap((database) =>
    ["StorageSizeBytes", "IndexSizeBytes"].map((name) => ({
      ...jobMetric("db-stats" satisfies ScheduledJobName, name, { Database: database }),
      stat: "Maximum",
    })),
  );
  specs.push({
    id: "database-storage-high",
    description: `Databases use more than ${Math.round(config.alarms.storageShare * 100)}% of the ${config.atlas.diskSizeGb} GB cluster disk`,
    topic: "technical",
    expression: { expression: storage.map((_, i) => `m${i}`).join(" + "), metrics: storage },
    period: 86400,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "GreaterThanThreshold",
    threshold: Math.round(diskBytes * config.alarms.storageShare),
    treatMissingData: "notBreaching",
  });
  specs.push(...reviewAlarmSpecs(config));
  return specs;
}

/**
 * Days left until the rotation Lambda's Atlas secret expires, computed by CloudWatch from the time of each
 * data point of a series that always has them (the health check's invocations): red from 14 days before the
 * expiry, green again once `pulumi up --replace` renewed the secret (the new date is in the expression).
 */
export function adminSecretExpiryAlarm(healthCheckFunction: string, expiresAtIso: string): AlarmSpec {
  const expiresAt = Date.parse(expiresAtIso);
  if (Number.isNaN(expiresAt))
    throw new Error(`Atlas reported an unreadable secret expiry "${expiresAtIso}"`);
  return {
    id: "atlas-admin-secret-expiring",
    description: `The Atlas service account secret of rotate-mongodb-password expires on ${expiresAtIso} (less than ${ADMIN_SECRET_WARNING_DAYS} days left); renew it as docs/deploy.md says, or every database-password rotation fails with 401`,
    topic: "security",
    expression: {
      expression: `(${Math.floor(expiresAt / 1000)} - EPOCH(m0)) / 86400`,
      metrics: [{ ...lambdaMetric(healthCheckFunction, "Invocations"), stat: "Sum" }],
    },
    period: 3600,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "LessThanThreshold",
    threshold: ADMIN_SECRET_WARNING_DAYS,
    treatMissingData: "notBreaching",
  };
}
