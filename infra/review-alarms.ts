import { metricDimensions, type MetricJob } from "../lambdas/core/metrics-catalog";
import {
  METRICS_NAMESPACE,
  reportedFailureAlarm,
  type AlarmSpec,
  type AlarmTopic,
  type MetricRef,
} from "./alarms";
import type { AtlasOpsConfig } from "./config";

/**
 * The alarms of the chores the maintenance guide left to a person: the reviews' own failures, the security findings (thresholds
 * from the stack config), a Sentry spike, and new orders stopping or falling far below their usual level.
 * The reviews and db-stats emit once per run, so these look at one period that holds the run's value.
 */
export function reviewAlarmSpecs(config: AtlasOpsConfig): AlarmSpec[] {
  const metric = (job: MetricJob, name: string, extra: Record<string, string> = {}): MetricRef => ({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensions: metricDimensions(config.appName, job, name, extra),
  });
  const above = (
    id: string,
    description: string,
    topic: AlarmTopic,
    job: MetricJob,
    name: string,
    threshold: number,
  ): AlarmSpec => ({
    id,
    description,
    topic,
    metric: { ...metric(job, name), statistic: "Maximum" },
    period: 3600,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "GreaterThanThreshold",
    threshold,
    treatMissingData: "notBreaching",
  });
  const failed = (job: MetricJob, name: string, topic: AlarmTopic): AlarmSpec =>
    reportedFailureAlarm(
      `${job}-failed`,
      `${job} could not complete (an Atlas, CloudTrail or CloudWatch read failed); see its log group`,
      topic,
      metric(job, name),
    );
  const { reviews } = config;
  const specs: AlarmSpec[] = [
    failed("security-review", "SecurityReviewSucceeded", "security"),
    failed("performance-review", "PerformanceReviewSucceeded", "technical"),
    above(
      "security-failed-logins",
      `More than ${reviews.failedLoginsAlarm} failed database logins in a week (the security review mail lists user and source IP)`,
      "security",
      "security-review",
      "FailedLogins",
      reviews.failedLoginsAlarm,
    ),
    above(
      "security-database-user-changes",
      `More than ${reviews.userChangesAlarm} database user or role changes in a week (rotation accounts for a few)`,
      "security",
      "security-review",
      "DatabaseUserChanges",
      reviews.userChangesAlarm,
    ),
    above(
      "security-access-list-opened",
      "An Atlas access list entry was added or changed",
      "security",
      "security-review",
      "AccessListOpened",
      0,
    ),
    above(
      "security-api-credentials-created",
      "An Atlas API key was created or given project roles",
      "security",
      "security-review",
      "ApiCredentialsCreated",
      0,
    ),
    above(
      "security-unexpected-secret-reads",
      "A stack secret was read by a principal that is neither a stack role nor a configured reader",
      "security",
      "security-review",
      "UnexpectedSecretReads",
      0,
    ),
    above(
      "security-backup-bucket-changed",
      "The backup bucket's policy, public access block or Object Lock configuration was changed",
      "security",
      "security-review",
      "BackupBucketChanges",
      0,
    ),
  ];
  if (reviews.sentry) {
    specs.push(
      above(
        "sentry-events-spike",
        `The application's Sentry recorded more than ${reviews.sentry.spikeEvents} events in 24 hours`,
        "technical",
        "daily-report",
        "SentryEvents",
        reviews.sentry.spikeEvents,
      ),
    );
  }
  if (reviews.orders) {
    const { database, collection, zeroDays, anomalyBand } = reviews.orders;
    const orders = metric("db-stats", "NewDocuments", { Database: database, Collection: collection });
    specs.push(
      {
        id: "orders-none",
        description: `No new documents in ${database}.${collection} for ${zeroDays} day(s): is checkout broken?`,
        topic: "technical",
        metric: { ...orders, statistic: "Maximum" },
        period: 86400,
        evaluationPeriods: zeroDays,
        datapointsToAlarm: zeroDays,
        comparisonOperator: "LessThanThreshold",
        threshold: 1,
        // No figure at all is db-stats' own missed-run alarm.
        treatMissingData: "missing",
      },
      {
        id: "orders-below-normal",
        description: `New documents in ${database}.${collection} fell below the range CloudWatch anomaly detection expects for that day of the week`,
        topic: "technical",
        anomalyBand: { metric: { ...orders, stat: "Maximum" }, stdDevs: anomalyBand },
        period: 86400,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: "LessThanLowerThreshold",
        threshold: 0,
        treatMissingData: "notBreaching",
      },
    );
  }
  return specs;
}
