import { ConfigError, type EnvReader } from "../core/config/env";
import { formatTime } from "../core/report/daily-report";

export interface DailyReportConfig {
  topicArn: string;
  timeZone: string;
  metricsNamespace: string;
}

export function loadDailyReportConfig(env: EnvReader): DailyReportConfig {
  const topicArn = env.required("REPORT_TOPIC_ARN");
  if (!/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+$/.test(topicArn)) {
    throw new ConfigError("REPORT_TOPIC_ARN", `must be an SNS topic ARN (got "${topicArn}")`);
  }
  const timeZone = env.optional("REPORT_TIME_ZONE", "UTC");
  try {
    formatTime(new Date(), timeZone);
  } catch {
    throw new ConfigError(
      "REPORT_TIME_ZONE",
      `must be an IANA time zone such as Europe/Paris (got "${timeZone}")`,
    );
  }
  return { topicArn, timeZone, metricsNamespace: env.optional("METRICS_NAMESPACE", "AtlasOps") };
}
