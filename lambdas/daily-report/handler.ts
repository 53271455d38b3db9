import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { SNSClient } from "@aws-sdk/client-sns";
import { createJobHandler } from "../adapters/job-handler";
import { MetricsReader, readReportFigures } from "../adapters/metrics-reader";
import { MetricUnit } from "../adapters/observability";
import { publishSummary } from "../adapters/publish";
import { SecretReader } from "../adapters/secrets";
import { formatDailyReport, type DailyReport, type DailyReportFigures } from "../core/report/daily-report";
import { parseSentryToken } from "../core/sentry/sentry-token";
import { readSentryDigest } from "../core/sentry/sentry-issues";
import { loadDailyReportConfig, type DailyReportConfig, type SentryDigestConfig } from "./config";

const cloudWatch = new CloudWatchClient({});
const sns = new SNSClient({});
const secrets = new SecretReader();

/** Every morning: the last day's backups, checks and figures, read back from CloudWatch, sent to SNS. */
export const handler = createJobHandler<unknown, DailyReportConfig, DailyReport>({
  job: "daily-report",
  loadConfig: loadDailyReportConfig,
  async run(_event, config, { logger, metrics }) {
    const now = new Date();
    const reader = new MetricsReader(cloudWatch, config.metricsNamespace, config.appName);
    const figures = await readReportFigures(reader, config.appName, now);
    if (config.sentryDigest) {
      figures.sentry = await sentryFigures(config.sentryDigest, now);
      const digest = figures.sentry.digest;
      if (digest) {
        metrics.addMetric("SentryEvents", MetricUnit.Count, digest.events);
        metrics.addMetric("SentryNewIssues", MetricUnit.Count, digest.newIssues);
        metrics.addMetric("SentryUnresolvedIssues", MetricUnit.Count, digest.unresolvedIssues);
      } else logger.warn("Sentry digest skipped", { error: figures.sentry.error });
    }
    const report = formatDailyReport(figures, config.timeZone);
    await publishSummary(sns, config.topicArn, report, "the report");
    logger.info("report sent", { subject: report.subject, problems: report.problems });
    return report;
  },
});

/** Sentry's view is one section of the report: a failure to read it is reported there, not fatal. */
async function sentryFigures(
  config: SentryDigestConfig,
  now: Date,
): Promise<NonNullable<DailyReportFigures["sentry"]>> {
  try {
    const token = parseSentryToken(await secrets.read(config.tokenSecretId), config.tokenSecretId);
    return { digest: await readSentryDigest(config.project, token, now), spikeEvents: config.spikeEvents };
  } catch (error) {
    return { error: (error as Error).message, spikeEvents: config.spikeEvents };
  }
}
