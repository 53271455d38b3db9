import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AtlasOpsConfig } from "./config";
import { policyDocument, stepFunctionsAssumeRolePolicy, workflowStatements } from "./iam";
import { jobStateMachineName, stateMachineArn, type WorkflowJobName } from "./jobs";

/** Transient errors of the Lambda service itself (not of the job), retried quickly as AWS recommends. */
const LAMBDA_SERVICE_ERRORS = [
  "Lambda.ClientExecutionTimeoutException",
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
];

/**
 * backup and restore-test have a reserved concurrency of 1, so while one run's step executes, a second
 * run's invocation is refused with Lambda.TooManyRequestsException. The second run waits instead of
 * failing: 30 s doubling up to 5 minutes, 100 times (about 8 hours), longer than any run takes.
 */
export const THROTTLE_RETRY = {
  ErrorEquals: ["Lambda.TooManyRequestsException"],
  IntervalSeconds: 30,
  BackoffRate: 2,
  MaxDelaySeconds: 300,
  MaxAttempts: 100,
};

/** A whole run ends here even if a job kept asking for more invocations (a day of 15-minute steps and more). */
export const WORKFLOW_TIMEOUT_SECONDS = 24 * 3600;

/** The states a driver must plug a handler into: the job's Lambda twice, and the dead-letter queue. */
export const WORKFLOW_STATES = {
  step: "Run step",
  abandon: "Abandon",
  deadLetter: "Dead letter",
} as const;

export interface JobWorkflowDefinitionArgs {
  job: WorkflowJobName;
  functionArn: string;
  deadLetterQueueUrl: string;
  /** The job Lambda's own timeout: a step that has not answered a minute after it is lost. */
  lambdaTimeoutSeconds: number;
  /** How often a failed step runs again from the same event (1 minute, then doubling) before the run gives up. */
  stepRetries: number;
}

/**
 * The Amazon States Language definition that runs a job Lambda until it reports `done` (the continuation
 * contract of docs/archive-format.md): while a result's `done` is false, that result unchanged is the next
 * invocation's event; a result without `done`, or with `done: true`, ends the run with that output. A step
 * that failed, crashed or timed out runs again with the same event. A run that still fails invokes the job
 * once more with `{ abandon: <last event, with "failure"> }` (so it can abort what it left open, such as a
 * multipart upload), puts that event with the execution's id and input into the job's dead-letter queue, and
 * fails, which the workflow's alarm sees.
 */
export function jobWorkflowDefinition(args: JobWorkflowDefinitionArgs): Record<string, unknown> {
  const serviceRetry = {
    ErrorEquals: LAMBDA_SERVICE_ERRORS,
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
  };
  const lambdaTask = {
    Type: "Task",
    Resource: args.functionArn,
    TimeoutSeconds: args.lambdaTimeoutSeconds + 60,
  };
  const { step, abandon, deadLetter } = WORKFLOW_STATES;
  return {
    Comment: `atlas-ops ${args.job}: one Lambda invocation per step until the job reports done`,
    StartAt: step,
    TimeoutSeconds: WORKFLOW_TIMEOUT_SECONDS,
    States: {
      [step]: {
        ...lambdaTask,
        Retry: [
          THROTTLE_RETRY,
          serviceRetry,
          // A failed, crashed (Lambda.Unknown) or timed-out step runs again from the same event.
          { ErrorEquals: ["States.ALL"], IntervalSeconds: 60, MaxAttempts: args.stepRetries, BackoffRate: 2 },
        ],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: abandon }],
        Next: "Done?",
      },
      "Done?": {
        Type: "Choice",
        Choices: [
          {
            And: [
              { Variable: "$.done", IsPresent: true },
              { Variable: "$.done", BooleanEquals: false },
            ],
            Next: step,
          },
        ],
        Default: "Done",
      },
      Done: { Type: "Succeed" },
      [abandon]: {
        ...lambdaTask,
        Parameters: { "abandon.$": "$" },
        ResultPath: null,
        Retry: [
          THROTTLE_RETRY,
          serviceRetry,
          { ErrorEquals: ["States.ALL"], IntervalSeconds: 30, MaxAttempts: 1, BackoffRate: 2 },
        ],
        // Even if the job could not clean up, the run is dead-lettered (S3 aborts a stale upload after a day).
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.abandonFailure", Next: deadLetter }],
        Next: deadLetter,
      },
      [deadLetter]: {
        Type: "Task",
        Resource: "arn:aws:states:::sqs:sendMessage",
        Parameters: {
          QueueUrl: args.deadLetterQueueUrl,
          MessageBody: {
            job: args.job,
            "execution.$": "$$.Execution.Id",
            "input.$": "$$.Execution.Input",
            "event.$": "$",
          },
        },
        ResultPath: null,
        Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: null, Next: "Failed" }],
        Next: "Failed",
      },
      Failed: {
        Type: "Fail",
        Error: "JobFailed",
        Cause: `${args.job} failed after its retries; its last event and error are in the dead-letter queue and the job's logs`,
      },
    },
  };
}

export interface JobWorkflowArgs extends Omit<
  JobWorkflowDefinitionArgs,
  "functionArn" | "deadLetterQueueUrl"
> {
  config: AtlasOpsConfig;
  functionArn: pulumi.Input<string>;
  deadLetterQueueArn: pulumi.Input<string>;
  deadLetterQueueUrl: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
}

/**
 * A Standard Step Functions workflow that runs one job Lambda step by step (see `jobWorkflowDefinition`),
 * with its own role and a log group for its failed states, with their event and error (the same the
 * dead-letter message holds), kept as long as the Lambdas' logs. No X-Ray tracing: the Lambdas do not
 * trace, and the execution history already shows every step's timing.
 */
export class JobWorkflow extends pulumi.ComponentResource {
  public readonly stateMachineArn: pulumi.Output<string>;
  public readonly stateMachineName: pulumi.Output<string>;

  constructor(name: string, args: JobWorkflowArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:jobs:JobWorkflow", name, {}, opts);
    const parent = { parent: this };
    const { config, job } = args;
    const machineName = jobStateMachineName(config.appName, job);

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-workflow-logs`,
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy for log delivery short.
      { name: `/aws/vendedlogs/states/${machineName}`, retentionInDays: config.logRetentionDays },
      parent,
    );
    const role = new aws.iam.Role(
      `${name}-workflow`,
      {
        assumeRolePolicy: pulumi
          .output(args.accountId)
          .apply((account) =>
            stepFunctionsAssumeRolePolicy(account, stateMachineArn(config.awsRegion, account, machineName)),
          ),
      },
      parent,
    );
    const policy = new aws.iam.RolePolicy(
      `${name}-workflow`,
      {
        role: role.id,
        policy: pulumi
          .all([args.functionArn, args.deadLetterQueueArn])
          .apply(([fn, dlq]) => JSON.stringify(policyDocument(...workflowStatements(fn, dlq)))),
      },
      parent,
    );
    const machine = new aws.sfn.StateMachine(
      `${name}-workflow`,
      {
        name: machineName,
        type: "STANDARD",
        roleArn: role.arn,
        definition: pulumi
          .all([args.functionArn, args.deadLetterQueueUrl])
          .apply(([functionArn, deadLetterQueueUrl]) =>
            JSON.stringify(
              jobWorkflowDefinition({
                job,
                functionArn,
                deadLetterQueueUrl,
                lambdaTimeoutSeconds: args.lambdaTimeoutSeconds,
                stepRetries: args.stepRetries,
              }),
            ),
          ),
        loggingConfiguration: {
          level: "ERROR",
          includeExecutionData: true,
          logDestination: pulumi.interpolate`${logGroup.arn}:*`,
        },
      },
      { parent: this, dependsOn: [policy] },
    );
    this.stateMachineArn = machine.arn;
    this.stateMachineName = machine.name;
    this.registerOutputs({ stateMachineArn: this.stateMachineArn });
  }
}
