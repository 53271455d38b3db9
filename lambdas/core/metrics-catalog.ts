/**
 * Every metric each job emits and the dimension sets it is emitted with, beyond the { service, App, Job } every
 * job has (lambdas/adapters/observability.ts). CloudWatch matches an alarm or a graph only on the exact
 * dimension set, so infra builds its metric references through `metricDimensions`, which refuses a
 * combination no handler emits; test/infra/contract.test.ts checks the handlers' real EMF output against it.
 */
export const JOB_METRICS = {
  backup: {
    BackupSucceeded: [[]],
    BackupBytes: [[]],
    BackupDocuments: [[]],
    BackupDurationMs: [[]],
    UnreadableSidecars: [[]],
  },
  "verify-backup": {
    BackupVerified: [[]],
    NewestBackupAgeHours: [["Kind"]],
    UnreadableSidecars: [[]],
  },
  "restore-test": {
    RestoreTestSucceeded: [[]],
    RestoreDurationMs: [[]],
    RestoredBackupAgeHours: [[]],
    RestoredDocuments: [[]],
    RestoredBytes: [[]],
  },
  "health-check": {
    HealthCheckUp: [[]],
    HealthCheckLatencyMs: [[]],
    TlsCertDaysLeft: [[]],
  },
  "db-stats": {
    DataSizeBytes: [["Database"]],
    StorageSizeBytes: [["Database"]],
    IndexSizeBytes: [["Database"]],
    Documents: [["Database"]],
    Collections: [["Database"]],
    NewDocuments: [["Database", "Collection"]],
    // 1 when the unused-index check could not run on the database ($indexStats refused), else 0.
    IndexUsageSkipped: [["Database"]],
  },
  "daily-report": {
    SentryEvents: [[]],
    SentryNewIssues: [[]],
    SentryUnresolvedIssues: [[]],
  },
  "security-review": {
    SecurityReviewSucceeded: [[]],
    FailedLogins: [[]],
    DatabaseUserChanges: [[]],
    AccessListOpened: [[]],
    ApiCredentialsCreated: [[]],
    UnexpectedSecretReads: [[]],
    BackupBucketChanges: [[]],
    SecurityFindings: [[]],
  },
  "performance-review": {
    PerformanceReviewSucceeded: [[]],
    AtlasCpuPercent: [[]],
    AtlasMemoryResidentMb: [[]],
    AtlasConnections: [[]],
    AtlasQueriesPerSecond: [[]],
    AtlasInsertsPerSecond: [[]],
    AtlasUpdatesPerSecond: [[]],
    AtlasDeletesPerSecond: [[]],
    AtlasQueryTargeting: [[]],
    AtlasDiskIops: [[]],
    AtlasDiskReadLatencyMs: [[]],
    AtlasDiskWriteLatencyMs: [[]],
    SuggestedIndexes: [[]],
    SlowQueries: [[]],
    UnusedIndexes: [[]],
  },
  // Per secret, and once per function without SecretName so one alarm covers every secret it rotates.
  "rotate-app-secret": {
    RotationSucceeded: [[], ["SecretName"]],
    RotationStepFailed: [[], ["SecretName"]],
  },
  "rotate-mongodb-password": {
    RotationSucceeded: [[], ["SecretName"]],
    RotationStepFailed: [[], ["SecretName"]],
  },
} as const satisfies Record<string, Record<string, readonly (readonly string[])[]>>;

export type MetricJob = keyof typeof JOB_METRICS;
export type JobMetricName<J extends MetricJob> = keyof (typeof JOB_METRICS)[J] & string;

/** The dimensions every job's metrics carry; Powertools adds `service`. */
export function jobDimensions(appName: string, job: MetricJob): Record<string, string> {
  return { service: "atlas-ops", App: appName, Job: job };
}

/**
 * The full dimension set of `metric` of `job` with `extra` dimensions; throws when the job never emits the
 * metric with exactly those extra dimension names (such a reference would never match in CloudWatch).
 */
export function metricDimensions(
  appName: string,
  job: MetricJob,
  metric: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const sets = (JOB_METRICS[job] as Record<string, readonly (readonly string[])[]>)[metric];
  if (!sets) throw new Error(`job ${job} emits no metric ${metric}`);
  const wanted = Object.keys(extra).sort().join(",");
  if (!sets.some((set) => [...set].sort().join(",") === wanted)) {
    const emitted = sets.map((set) => `{${set.join(", ")}}`).join(" or ");
    throw new Error(
      `job ${job} emits ${metric} with extra dimensions ${emitted}, not {${Object.keys(extra).join(", ")}}`,
    );
  }
  return { ...jobDimensions(appName, job), ...extra };
}
