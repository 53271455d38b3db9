import type { AlarmSpec } from "./alarms";
import type { JobName } from "./jobs";

/**
 * A job's workflow ended badly: failed (after its retries, abandon and dead letter), timed out (24 hours, no
 * abandon call) or was stopped by hand. The job's own failure alarms see the failed steps; these see the run.
 */
export function workflowAlarmSpecs(job: JobName, stateMachineArn: string): AlarmSpec[] {
  const outcomes = [
    [
      "failed",
      "ExecutionsFailed",
      "failed after its retries: the job was told to abandon the run and its last event is in the dead-letter queue",
    ],
    [
      "timed-out",
      "ExecutionsTimedOut",
      "ran longer than its 24-hour limit and was stopped without cleaning up (S3 aborts its open upload after a day)",
    ],
    ["aborted", "ExecutionsAborted", "was stopped by hand (StopExecution) before it finished"],
  ] as const;
  return outcomes.map(([id, metricName, what]) => ({
    id: `${job}-workflow-${id}`,
    description: `A ${job} run ${what}; see the execution in the Step Functions console`,
    topic: "technical" as const,
    metric: {
      namespace: "AWS/States",
      metricName,
      dimensions: { StateMachineArn: stateMachineArn },
      statistic: "Sum",
    },
    period: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold" as const,
    threshold: 1,
    treatMissingData: "notBreaching" as const,
  }));
}
