import type { AtlasOpsConfig } from "./config";
import { jobMetric, widget, type Widget } from "./dashboard";

/** The Atlas measurements performance-review brings in once a day (hourly values, so daily statistics). */
export function atlasLoadWidgets(app: string, region: string): Widget[] {
  const atlas = (name: string, options: Record<string, unknown> = {}) =>
    jobMetric(app, "performance-review", name, {}, { stat: "Average", ...options });
  const daily = { period: 86400 };
  return [
    widget(
      "Atlas primary: CPU % and resident memory (MB)",
      [
        atlas("AtlasCpuPercent"),
        atlas("AtlasCpuPercent", { stat: "Maximum", label: "CPU max" }),
        atlas("AtlasMemoryResidentMb", { yAxis: "right" }),
      ],
      region,
      daily,
    ),
    widget(
      "Atlas primary: connections and operations per second",
      [
        atlas("AtlasConnections", { stat: "Maximum" }),
        atlas("AtlasQueriesPerSecond", { yAxis: "right" }),
        atlas("AtlasInsertsPerSecond", { yAxis: "right" }),
        atlas("AtlasUpdatesPerSecond", { yAxis: "right" }),
        atlas("AtlasDeletesPerSecond", { yAxis: "right" }),
      ],
      region,
      daily,
    ),
    widget(
      "Atlas primary: query targeting (scanned per returned) and disk",
      [
        atlas("AtlasQueryTargeting", { stat: "Maximum" }),
        atlas("AtlasDiskIops", { yAxis: "right" }),
        atlas("AtlasDiskReadLatencyMs", { yAxis: "right" }),
        atlas("AtlasDiskWriteLatencyMs", { yAxis: "right" }),
      ],
      region,
      daily,
    ),
  ];
}

/** Weekly security findings and, when configured, the application's Sentry events. */
export function reviewWidgets(config: AtlasOpsConfig): Widget[] {
  const app = config.appName;
  const security = [
    "FailedLogins",
    "DatabaseUserChanges",
    "AccessListOpened",
    "ApiCredentialsCreated",
    "UnexpectedSecretReads",
    "BackupBucketChanges",
  ].map((name) => jobMetric(app, "security-review", name, {}, { stat: "Maximum" }));
  const widgets = [
    widget("Security review (weekly findings)", security, config.awsRegion, { period: 604800, view: "bar" }),
  ];
  if (config.reviews.sentry) {
    widgets.push(
      widget(
        "Application errors (Sentry, 24 h)",
        [
          jobMetric(app, "daily-report", "SentryEvents", {}, { stat: "Maximum" }),
          jobMetric(app, "daily-report", "SentryNewIssues", {}, { stat: "Maximum", yAxis: "right" }),
        ],
        config.awsRegion,
        { period: 86400 },
      ),
    );
  }
  return widgets;
}
