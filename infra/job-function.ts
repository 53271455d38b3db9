import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AtlasOpsConfig } from "./config";
import {
  lambdaAssumeRolePolicy,
  policyDocument,
  type PolicyStatement,
  vpcAccessStatement,
  writeLogsStatement,
} from "./iam";
import { JOB_SIZING, jobFunctionName, type JobName } from "./jobs";
import { lambdaCode } from "./lambda-code";

export interface JobNetwork {
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
}

export interface JobFunctionArgs {
  job: JobName;
  config: AtlasOpsConfig;
  environment: Record<string, pulumi.Input<string>>;
  /** The job's own permissions besides writing its logs (and attaching to the VPC). */
  statements: pulumi.Input<PolicyStatement[]>;
  network?: JobNetwork;
  /** Where Lambda puts events of failed asynchronous invocations. */
  deadLetterQueueArn?: pulumi.Input<string>;
}

/**
 * One Lambda with its log group (retention from config) and its own role: the role can write this log group
 * and whatever `statements` grant, nothing else.
 */
export class JobFunction extends pulumi.ComponentResource {
  public readonly function: aws.lambda.Function;
  public readonly functionArn: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: JobFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:jobs:JobFunction", name, {}, opts);
    const { job, config } = args;
    const parent = { parent: this };
    const functionName = jobFunctionName(config.appName, job);
    const sizing = JOB_SIZING[job];

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `/aws/lambda/${functionName}`,
        retentionInDays: config.logRetentionDays,
      },
      parent,
    );
    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: lambdaAssumeRolePolicy() }, parent);
    const deadLetter = args.deadLetterQueueArn
      ? pulumi
          .output(args.deadLetterQueueArn)
          .apply((arn): PolicyStatement[] => [
            { Sid: "DeadLetter", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arn] },
          ])
      : [];
    const policy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([logGroup.arn, args.statements, deadLetter])
          .apply(([logGroupArn, statements, dlq]) =>
            JSON.stringify(
              policyDocument(
                writeLogsStatement(logGroupArn),
                ...(args.network ? [vpcAccessStatement()] : []),
                ...statements,
                ...dlq,
              ),
            ),
          ),
      },
      parent,
    );

    this.function = new aws.lambda.Function(
      `${name}-function`,
      {
        name: functionName,
        description: `atlas-ops ${job} for ${config.appName}`,
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
        code: lambdaCode(job),
        role: role.arn,
        memorySize: sizing.memoryMb,
        timeout: sizing.timeoutSeconds,
        ephemeralStorage: { size: sizing.ephemeralStorageMb },
        reservedConcurrentExecutions: sizing.reservedConcurrency,
        loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
        environment: {
          variables: {
            APP_NAME: config.appName,
            METRICS_NAMESPACE: "AtlasOps",
            LOG_LEVEL: "INFO",
            ...args.environment,
          },
        },
        vpcConfig: args.network
          ? { subnetIds: args.network.subnetIds, securityGroupIds: [args.network.securityGroupId] }
          : undefined,
        deadLetterConfig: args.deadLetterQueueArn ? { targetArn: args.deadLetterQueueArn } : undefined,
      },
      { parent: this, dependsOn: [policy, logGroup] },
    );

    this.functionArn = this.function.arn;
    this.functionName = this.function.name;
    this.roleArn = role.arn;
    this.registerOutputs({ functionArn: this.functionArn, functionName: this.functionName });
  }
}
