/**
 * IAM policy documents as pure functions of plain ARNs, so tests read the exact actions and resources each
 * role gets. Components resolve their ARNs (pulumi.all(...).apply) and JSON.stringify the result.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export function policyDocument(...statements: PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

/** What a state machine's role needs so that Step Functions delivers its execution logs to CloudWatch Logs. */
export const STATE_MACHINE_LOG_DELIVERY = [
  "logs:CreateLogDelivery",
  "logs:GetLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:ListLogDeliveries",
  "logs:PutResourcePolicy",
  "logs:DescribeResourcePolicies",
  "logs:DescribeLogGroups",
];

/** Actions AWS only grants on "*" (no resource-level permissions); the policy pack allows exactly these. */
export const ACTIONS_WITHOUT_RESOURCE_LEVEL = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
  "ec2:DescribeSubnets",
  "ec2:DescribeSecurityGroups",
  "cloudwatch:GetMetricData",
  "cloudwatch:ListMetrics",
  "cloudwatch:PutMetricData",
  "secretsmanager:GetRandomPassword",
  "cloudtrail:LookupEvents",
  // Step Functions' log delivery to CloudWatch Logs (the actions AWS documents for it, on "*" only).
  ...STATE_MACHINE_LOG_DELIVERY,
];

export function lambdaAssumeRolePolicy(): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ],
  });
}

export function schedulerAssumeRolePolicy(accountId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        // Confused-deputy guard: only schedules of this account may assume the role.
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  });
}

/**
 * Step Functions may assume a workflow's role only for a state machine of this account with that name
 * (confused-deputy guard).
 */
export function stepFunctionsAssumeRolePolicy(accountId: string, stateMachineArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "states.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": accountId },
          ArnLike: { "aws:SourceArn": stateMachineArn },
        },
      },
    ],
  });
}

export function writeLogsStatement(logGroupArn: string): PolicyStatement {
  return {
    Sid: "WriteOwnLogs",
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: [`${logGroupArn}:*`],
  };
}

/** What a Lambda in a VPC needs to attach its network interfaces (as AWSLambdaVPCAccessExecutionRole). */
export function vpcAccessStatement(): PolicyStatement {
  return {
    Sid: "AttachToVpc",
    Effect: "Allow",
    Action: [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ],
    Resource: ["*"],
  };
}

export function readSecretsStatement(secretArns: string[]): PolicyStatement {
  return {
    Sid: "ReadOwnSecrets",
    Effect: "Allow",
    Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
    Resource: secretArns,
  };
}

export interface BucketAccess {
  bucketArn: string;
  prefix: string;
  kmsKeyArn: string;
  region: string;
}

function kmsViaS3(access: BucketAccess, actions: string[]): PolicyStatement {
  return {
    Sid: "UseBackupKeyThroughS3",
    Effect: "Allow",
    Action: actions,
    Resource: [access.kmsKeyArn],
    Condition: { StringEquals: { "kms:ViaService": `s3.${access.region}.amazonaws.com` } },
  };
}

function listPrefix(access: BucketAccess): PolicyStatement {
  return {
    Sid: "ListBackups",
    Effect: "Allow",
    Action: ["s3:ListBucket"],
    Resource: [access.bucketArn],
    Condition: { StringLike: { "s3:prefix": [`${access.prefix}*`] } },
  };
}

/**
 * The backup job writes new archives under its prefix and can never delete or overwrite history: no delete
 * actions, and an explicit deny so a later broad grant cannot add them. Decrypt is needed to complete
 * SSE-KMS multipart uploads and to read the sidecars a scheduled run checks first (a retry of a run that
 * already committed writes nothing).
 */
export function backupWriterStatements(access: BucketAccess): PolicyStatement[] {
  return [
    {
      Sid: "WriteBackups",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
      Resource: [`${access.bucketArn}/${access.prefix}*`],
    },
    {
      Sid: "ReadSidecars",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [`${access.bucketArn}/${access.prefix}*`],
    },
    listPrefix(access),
    kmsViaS3(access, ["kms:GenerateDataKey", "kms:Decrypt"]),
    {
      Sid: "NeverDeleteBackups",
      Effect: "Deny",
      Action: [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPolicy",
      ],
      Resource: [access.bucketArn, `${access.bucketArn}/*`],
    },
  ];
}

/** Verification and the restore test read backups and nothing else in the bucket. */
export function backupReaderStatements(access: BucketAccess): PolicyStatement[] {
  return [
    {
      Sid: "ReadBackups",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectTagging"],
      Resource: [`${access.bucketArn}/${access.prefix}*`],
    },
    listPrefix(access),
    kmsViaS3(access, ["kms:Decrypt"]),
  ];
}

/** The four rotation steps read and write versions of exactly the secrets the function rotates. */
export function rotateSecretsStatements(secretArns: string[]): PolicyStatement[] {
  return [
    {
      Sid: "RotateOwnSecrets",
      Effect: "Allow",
      Action: [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ],
      Resource: secretArns,
    },
    { Sid: "GenerateValues", Effect: "Allow", Action: ["secretsmanager:GetRandomPassword"], Resource: ["*"] },
  ];
}

export function restartEcsStatement(serviceArns: string[]): PolicyStatement {
  return {
    Sid: "RestartApp",
    Effect: "Allow",
    Action: ["ecs:UpdateService", "ecs:DescribeServices"],
    Resource: serviceArns,
  };
}

export function ecsServiceArn(region: string, accountId: string, cluster: string, service: string): string {
  return `arn:aws:ecs:${region}:${accountId}:service/${cluster}/${service}`;
}

export function dailyReportStatements(topicArn: string, alarmArnPrefix: string): PolicyStatement[] {
  return [
    // ListMetrics finds the databases and collections db-stats reported (dimension values).
    {
      Sid: "ReadMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
      Resource: ["*"],
    },
    {
      Sid: "ReadAlarms",
      Effect: "Allow",
      Action: ["cloudwatch:DescribeAlarms"],
      Resource: [`${alarmArnPrefix}*`],
    },
    { Sid: "SendReport", Effect: "Allow", Action: ["sns:Publish"], Resource: [topicArn] },
  ];
}

/** Scheduler may invoke exactly one function and drop undeliverable events into its dead-letter queue. */
export function schedulerInvokeStatements(
  functionArn: string,
  deadLetterQueueArn: string,
): PolicyStatement[] {
  return [
    { Sid: "InvokeJob", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn] },
    { Sid: "DeadLetter", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterQueueArn] },
  ];
}

/** Scheduler may start exactly one job's workflow and drop undeliverable events into its dead-letter queue. */
export function schedulerStartWorkflowStatements(
  stateMachineArn: string,
  deadLetterQueueArn: string,
): PolicyStatement[] {
  return [
    {
      Sid: "StartJobWorkflow",
      Effect: "Allow",
      Action: ["states:StartExecution"],
      Resource: [stateMachineArn],
    },
    { Sid: "DeadLetter", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterQueueArn] },
  ];
}

/**
 * A job's workflow invokes that one Lambda (each step and the abandon call), sends a failed run to that
 * job's dead-letter queue, and delivers its own execution logs.
 */
export function workflowStatements(functionArn: string, deadLetterQueueArn: string): PolicyStatement[] {
  return [
    { Sid: "RunJobSteps", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [functionArn] },
    { Sid: "DeadLetter", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [deadLetterQueueArn] },
    {
      Sid: "DeliverExecutionLogs",
      Effect: "Allow",
      Action: [...STATE_MACHINE_LOG_DELIVERY],
      Resource: ["*"],
    },
  ];
}
