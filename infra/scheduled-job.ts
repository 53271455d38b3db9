import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyDocument, schedulerAssumeRolePolicy, schedulerInvokeStatements } from "./iam";
import { JobFunction, type JobFunctionArgs } from "./job-function";
import { deadLetterQueueName, type JobSchedule, type ScheduledJobName } from "./jobs";

/** Retries of a failed asynchronous invocation: a missed health probe is replaced by the next one anyway. */
export const ASYNC_RETRIES: Record<ScheduledJobName, number> = {
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
 * A job Lambda run by EventBridge Scheduler in the configured time zone. Events Scheduler cannot deliver, and
 * invocations that still fail after Lambda's retries, land in one dead-letter queue per job (an alarm watches
 * it).
 */
export class ScheduledJob extends pulumi.ComponentResource {
  public readonly functionArn: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;
  public readonly deadLetterQueueName: pulumi.Output<string>;
  public readonly deadLetterQueueArn: pulumi.Output<string>;
  public readonly schedules: JobSchedule[];

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
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-async`,
      {
        functionName: fn.functionName,
        maximumRetryAttempts: ASYNC_RETRIES[job],
        maximumEventAgeInSeconds: 6 * 3600,
      },
      parent,
    );

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
          .all([fn.functionArn, deadLetters.arn])
          .apply(([functionArn, dlq]) =>
            JSON.stringify(policyDocument(...schedulerInvokeStatements(functionArn, dlq))),
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
          target: {
            arn: fn.functionArn,
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
    this.registerOutputs({ functionArn: this.functionArn, deadLetterQueueArn: this.deadLetterQueueArn });
  }
}
