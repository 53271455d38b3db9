import type { AtlasOpsConfig, BackupKind, ScheduleKey } from "./config";

/** The scheduled jobs (Lambda folder names from the shared contract). Rotation Lambdas are not scheduled. */
export type ScheduledJobName =
  | "backup"
  | "verify-backup"
  | "restore-test"
  | "health-check"
  | "db-stats"
  | "daily-report"
  | "security-review"
  | "performance-review";
export type RotationJobName = "rotate-app-secret" | "rotate-mongodb-password";
/** The jobs that may need more than one Lambda invocation: each run is a Step Functions workflow. */
export type WorkflowJobName = "backup" | "verify-backup" | "restore-test";
export const WORKFLOW_JOBS: readonly WorkflowJobName[] = ["backup", "verify-backup", "restore-test"];

export function isWorkflowJob(job: JobName): job is WorkflowJobName {
  return (WORKFLOW_JOBS as readonly string[]).includes(job);
}
export type JobName = ScheduledJobName | RotationJobName;

export interface JobSizing {
  memoryMb: number;
  timeoutSeconds: number;
  ephemeralStorageMb: number;
  /**
   * At most this many invocations at once. 1 for the jobs whose two copies would race on the same objects:
   * the scheduler delivers at least once, so a run can arrive twice; the second workflow's step is then
   * throttled and waits (the workflow's throttle retry, see job-workflow.ts) and finds the first one's
   * committed backup.
   */
  reservedConcurrency?: number;
}

/**
 * Sizes per job: backup and restore stream archives (the backup writes nothing to /tmp, so it keeps the
 * minimum ephemeral storage) but their buffers want memory; the probes are small. The timeout is one
 * invocation's: a workflow job that needs longer continues in the next step.
 */
export const JOB_SIZING: Record<JobName, JobSizing> = {
  backup: { memoryMb: 2048, timeoutSeconds: 900, ephemeralStorageMb: 512, reservedConcurrency: 1 },
  "verify-backup": { memoryMb: 1024, timeoutSeconds: 900, ephemeralStorageMb: 2048 },
  "restore-test": { memoryMb: 2048, timeoutSeconds: 900, ephemeralStorageMb: 4096, reservedConcurrency: 1 },
  "health-check": { memoryMb: 256, timeoutSeconds: 60, ephemeralStorageMb: 512 },
  "db-stats": { memoryMb: 512, timeoutSeconds: 300, ephemeralStorageMb: 512 },
  "daily-report": { memoryMb: 256, timeoutSeconds: 120, ephemeralStorageMb: 512 },
  // CloudTrail allows 2 lookups a second: a busy week of secret reads takes a few minutes to page through.
  "security-review": { memoryMb: 512, timeoutSeconds: 600, ephemeralStorageMb: 512 },
  "performance-review": { memoryMb: 512, timeoutSeconds: 300, ephemeralStorageMb: 512 },
  "rotate-app-secret": { memoryMb: 256, timeoutSeconds: 120, ephemeralStorageMb: 512 },
  "rotate-mongodb-password": { memoryMb: 512, timeoutSeconds: 300, ephemeralStorageMb: 512 },
};

/** One EventBridge Scheduler schedule of a job: its expression, payload and the metric that proves a run. */
export interface JobSchedule {
  /** Unique per stack: "backup-daily", "health-check", ... */
  id: string;
  job: ScheduledJobName;
  scheduleKey: ScheduleKey;
  expression: string;
  /** Scheduler target input; "<aws.scheduler.scheduled-time>" is replaced by Scheduler at run time. */
  input: Record<string, string>;
  /** Job metric emitted with value 1 on success; undefined: the job has none, so Lambda invocations count. */
  successMetric?: string;
}

const SCHEDULED_TIME = "<aws.scheduler.scheduled-time>";

export function jobSchedules(config: AtlasOpsConfig): JobSchedule[] {
  const backup = (kind: BackupKind, key: ScheduleKey): JobSchedule => ({
    id: `backup-${kind}`,
    job: "backup",
    scheduleKey: key,
    expression: config.schedules[key],
    input: { kind, scheduledTime: SCHEDULED_TIME },
    successMetric: "BackupSucceeded",
  });
  const plain = (job: ScheduledJobName, key: ScheduleKey, successMetric?: string): JobSchedule => ({
    id: job,
    job,
    scheduleKey: key,
    expression: config.schedules[key],
    input: { scheduledTime: SCHEDULED_TIME },
    successMetric,
  });
  return [
    backup("daily", "backupDaily"),
    backup("weekly", "backupWeekly"),
    backup("monthly", "backupMonthly"),
    plain("verify-backup", "verifyBackup", "BackupVerified"),
    plain("restore-test", "restoreTest", "RestoreTestSucceeded"),
    plain("health-check", "healthCheck", "HealthCheckUp"),
    plain("db-stats", "dbStats"),
    plain("daily-report", "dailyReport"),
    plain("security-review", "securityReview", "SecurityReviewSucceeded"),
    {
      ...plain("performance-review", "performanceReviewDaily", "PerformanceReviewSucceeded"),
      id: "performance-review-daily",
    },
    {
      ...plain("performance-review", "performanceReviewMonthly", "PerformanceReviewSucceeded"),
      id: "performance-review-monthly",
      input: { review: "monthly", scheduledTime: SCHEDULED_TIME },
    },
  ];
}

/** The metric dimensions every job emits: one definition, shared with the handlers. */
export { jobDimensions } from "../lambdas/core/metrics-catalog";

/** Function and queue names are fixed by app and job, so alarms and IAM can name them before they exist. */
export function jobFunctionName(appName: string, job: JobName): string {
  return `${appName}-${job}`;
}

export function deadLetterQueueName(appName: string, job: JobName): string {
  return `${appName}-${job}-dlq`;
}

export function jobStateMachineName(appName: string, job: WorkflowJobName): string {
  return `${appName}-${job}`;
}

/** A state machine's ARN as Step Functions forms it (its CloudWatch metrics are keyed by it). */
export function stateMachineArn(region: string, accountId: string, name: string): string {
  return `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
}
