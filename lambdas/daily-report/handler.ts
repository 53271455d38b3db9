import { PublishCommand } from "@aws-sdk/client-sns";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { SNSClient } from "@aws-sdk/client-sns";
import { createJobHandler } from "../adapters/job-handler";
import { MetricsReader, readReportFigures } from "../adapters/metrics-reader";
import { formatDailyReport, type DailyReport } from "../core/report/daily-report";
import { loadDailyReportConfig, type DailyReportConfig } from "./config";

const cloudWatch = new CloudWatchClient({});
const sns = new SNSClient({});

/** Every morning: the last day's backups, checks and figures, read back from CloudWatch, sent to SNS. */
export const handler = createJobHandler<unknown, DailyReportConfig, DailyReport>({
  job: "daily-report",
  loadConfig: loadDailyReportConfig,
  async run(_event, config, { logger }) {
    const reader = new MetricsReader(cloudWatch, config.metricsNamespace, config.appName);
    const figures = await readReportFigures(reader, config.appName, new Date());
    const report = formatDailyReport(figures, config.timeZone);
    try {
      await sns.send(
        new PublishCommand({ TopicArn: config.topicArn, Subject: report.subject, Message: report.message }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? "Error";
      throw new Error(
        `publishing the report to ${config.topicArn} failed: ${name}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    logger.info("report sent", { subject: report.subject, problems: report.problems });
    return report;
  },
});
