import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  policyDocument,
  schedulerAssumeRolePolicy,
  schedulerInvokeStatements,
  schedulerStartWorkflowStatements,
} from "./iam";
import { JobFunction, type JobFunctionArgs } from "./job-function";
import { JobWorkflow } from "./job-workflow";
import {
  deadLetterQueueName,
  isWorkflowJob,
  JOB_SIZING,
  type JobSchedule,
  type ScheduledJobName,
} from "./jobs";

/**
 * Retries of a failed run: a missed health probe is replaced by the next one anyway. For a workflow job
 * these are the workflow's retries of a failed step (same event); Lambda itself then retries no
 * asynchronous event, so a step never runs twice behind the workflow's back.
 */
export const RUN_RETRIES: Record<ScheduledJobName, number> = {
  backup: 2,
  "verify-backup": 1,
  "restore-test": 1,
  "health-check": 0,
  "db-stats": 1,
  "daily-report": 1,
  "security-review": 1,
  "performance-review": 1,
};

export interface ScheduledJobArgs extends Omit<JobFunctionArgs, "deadLetterQueueArn" | "job"> {
  job: ScheduledJobName;
  schedules: JobSchedule[];
  accountId: pulumi.Input<string>;
}

/**
 * A job Lambda run by EventBridge Scheduler in the configured time zone: invoked directly, or, for the jobs
 * that may need several invocations (backup, verify-backup, restore-test), through its Step Functions
 * workflow, which the schedule starts. Events Scheduler cannot deliver, invocations that still fail after
 * Lambda's retries and workflows that failed land in one dead-letter queue per job (an alarm watches it).
 */
export class ScheduledJob extends pulumi.ComponentResource {
  public readonly functionArn: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;
  public readonly deadLetterQueueName: pulumi.Output<string>;
  public readonly deadLetterQueueArn: pulumi.Output<string>;
  public readonly schedules: JobSchedule[];
  /** The workflow the schedules start (workflow jobs only). */
  public readonly workflow?: JobWorkflow;

  constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:jobs:ScheduledJob", name, {}, opts);
    const parent = { parent: this };
    const { config, job } = args;

    const deadLetters = new aws.sqs.Queue(
      `${name}-dlq`,
      {
        name: deadLetterQueueName(config.appName, job),
        messageRetentionSeconds: 14 * 24 * 3600,
        sqsManagedSseEnabled: true,
      },
      parent,
    );
    const fn = new JobFunction(name, { ...args, deadLetterQueueArn: deadLetters.arn }, parent);
    const workflow = isWorkflowJob(job)
      ? new JobWorkflow(
          name,
          {
            job,
            config,
            functionArn: fn.functionArn,
            lambdaTimeoutSeconds: JOB_SIZING[job].timeoutSeconds,
            stepRetries: RUN_RETRIES[job],
            deadLetterQueueArn: deadLetters.arn,
            deadLetterQueueUrl: deadLetters.url,
            accountId: args.accountId,
          },
          parent,
        )
      : undefined;
    // The workflow invokes synchronously and retries itself; only a stray asynchronous invocation (by hand)
    // would meet this config, and it must not repeat a step.
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-async`,
      {
        functionName: fn.functionName,
        maximumRetryAttempts: workflow ? 0 : RUN_RETRIES[job],
        maximumEventAgeInSeconds: 6 * 3600,
      },
      parent,
    );
    const target = workflow ? workflow.stateMachineArn : fn.functionArn;

    const schedulerRole = new aws.iam.Role(
      `${name}-scheduler`,
      {
        assumeRolePolicy: pulumi.output(args.accountId).apply(schedulerAssumeRolePolicy),
      },
      parent,
    );
    const schedulerPolicy = new aws.iam.RolePolicy(
      `${name}-scheduler`,
      {
        role: schedulerRole.id,
        policy: pulumi
          .all([target, deadLetters.arn])
          .apply(([targetArn, dlq]) =>
            JSON.stringify(
              policyDocument(
                ...(workflow
                  ? schedulerStartWorkflowStatements(targetArn, dlq)
                  : schedulerInvokeStatements(targetArn, dlq)),
              ),
            ),
          ),
      },
      parent,
    );

    for (const schedule of args.schedules) {
      new aws.scheduler.Schedule(
        `${name}-${schedule.id}`,
        {
          name: `${config.appName}-${schedule.id}`,
          description: `atlas-ops ${schedule.id} (${schedule.scheduleKey})`,
          scheduleExpression: schedule.expression,
          scheduleExpressionTimezone: config.timeZone,
          flexibleTimeWindow: { mode: "OFF" },
          // For a state machine, Scheduler calls StartExecution with the input as the execution's input.
          target: {
            arn: target,
            roleArn: schedulerRole.arn,
            input: JSON.stringify(schedule.input),
            retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
            deadLetterConfig: { arn: deadLetters.arn },
          },
        },
        { parent: this, dependsOn: [schedulerPolicy] },
      );
    }

    this.functionArn = fn.functionArn;
    this.functionName = fn.functionName;
    this.roleArn = fn.roleArn;
    this.deadLetterQueueName = deadLetters.name;
    this.deadLetterQueueArn = deadLetters.arn;
    this.schedules = args.schedules;
    this.workflow = workflow;
    this.registerOutputs({ functionArn: this.functionArn, deadLetterQueueArn: this.deadLetterQueueArn });
  }
}
