import { ConfigError, type EnvReader } from "../core/config/env";
import { formatTime } from "../core/report/daily-report";
import type { SentryProject } from "../core/sentry/sentry-issues";

export interface DailyReportConfig {
  topicArn: string;
  timeZone: string;
  metricsNamespace: string;
  // Not `sentry`: the job runner keeps its own SENTRY_DSN reporting under that name.
  sentryDigest?: SentryDigestConfig;
}

/** The application's Sentry project, read for the report (all three variables, or none). */
export interface SentryDigestConfig {
  project: SentryProject;
  tokenSecretId: string;
  spikeEvents: number;
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
  return {
    topicArn,
    timeZone,
    metricsNamespace: env.optional("METRICS_NAMESPACE", "AtlasOps"),
    sentryDigest: loadSentryDigestConfig(env),
  };
}

function loadSentryDigestConfig(env: EnvReader): SentryDigestConfig | undefined {
  const names = ["SENTRY_ORG", "SENTRY_PROJECT", "SENTRY_TOKEN_SECRET_ID"] as const;
  const set = names.filter((name) => env.optional(name) !== undefined);
  if (set.length === 0) return undefined;
  const missing = names.find((name) => env.optional(name) === undefined);
  if (missing) throw new ConfigError(missing, `is required with ${set.join(" and ")} (the Sentry digest)`);
  return {
    project: {
      baseUrl: env.url("SENTRY_API_URL", { required: false })?.toString() ?? "https://sentry.io",
      organization: env.required("SENTRY_ORG"),
      project: env.required("SENTRY_PROJECT"),
    },
    tokenSecretId: env.required("SENTRY_TOKEN_SECRET_ID"),
    spikeEvents: env.integer("SENTRY_SPIKE_EVENTS", 100, { min: 0 }),
  };
}
