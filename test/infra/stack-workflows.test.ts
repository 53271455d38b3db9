import { beforeAll, describe, expect, it } from "vitest";
import { named, ofType, type RecordedResource } from "./mocks";
import { runStack, type StackRun } from "./stack-run";

let run: StackRun;
let resources: RecordedResource[];
beforeAll(async () => {
  run = await runStack();
  resources = run.resources;
});

const functionNamed = (name: string) =>
  ofType(resources, "aws:lambda/function:Function").find((f) => f.inputs.name === name) as RecordedResource;

describe("schedules of the workflow jobs", () => {
  it("starts the backup, verify and restore-test workflows with the Lambda's input, retries and the job's dead-letter queue", () => {
    const schedules = ofType(resources, "aws:scheduler/schedule:Schedule");
    const byName = (name: string) => schedules.find((s) => s.inputs.name === name)!.inputs.target;
    const machine = (name: string) =>
      ofType(resources, "aws:sfn/stateMachine:StateMachine").find((m) => m.inputs.name === name)!;
    const queue = (name: string) =>
      ofType(resources, "aws:sqs/queue:Queue").find((q) => q.inputs.name === name)!;
    for (const [schedule, job, input] of [
      ["opendev-backup-daily", "backup", { kind: "daily", scheduledTime: "<aws.scheduler.scheduled-time>" }],
      [
        "opendev-backup-weekly",
        "backup",
        { kind: "weekly", scheduledTime: "<aws.scheduler.scheduled-time>" },
      ],
      [
        "opendev-backup-monthly",
        "backup",
        { kind: "monthly", scheduledTime: "<aws.scheduler.scheduled-time>" },
      ],
      ["opendev-verify-backup", "verify-backup", { scheduledTime: "<aws.scheduler.scheduled-time>" }],
      ["opendev-restore-test", "restore-test", { scheduledTime: "<aws.scheduler.scheduled-time>" }],
    ] as const) {
      const target = byName(schedule);
      expect(JSON.parse(target.input)).toEqual(input);
      expect(target.arn).toBe(machine(`opendev-${job}`).state.arn);
      expect(target.arn).toMatch(/^arn:aws:states:eu-central-1:123456789012:stateMachine:opendev-/);
      expect(target.retryPolicy).toEqual({ maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 });
      expect(target.deadLetterConfig).toEqual({ arn: queue(`opendev-${job}-dlq`).state.arn });
    }
    const backupDlq = queue("opendev-backup-dlq").state.arn;
    expect(functionNamed("opendev-backup").inputs.deadLetterConfig).toEqual({ targetArn: backupDlq });

    // Scheduler may start exactly that job's workflow, and no longer invoke its Lambda.
    for (const job of ["backup", "verify-backup", "restore-test"]) {
      const schedulerPolicy = JSON.parse(
        named(resources, "aws:iam/rolePolicy:RolePolicy", `${job}-scheduler`).inputs.policy,
      );
      expect(schedulerPolicy.Statement).toEqual([
        {
          Sid: "StartJobWorkflow",
          Effect: "Allow",
          Action: ["states:StartExecution"],
          Resource: [machine(`opendev-${job}`).state.arn],
        },
        {
          Sid: "DeadLetter",
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: [queue(`opendev-${job}-dlq`).state.arn],
        },
      ]);
    }
  });

  it("still invokes the other jobs' Lambdas directly, with Lambda's retries", () => {
    const target = ofType(resources, "aws:scheduler/schedule:Schedule").find(
      (s) => s.inputs.name === "opendev-db-stats",
    )!.inputs.target;
    expect(target.arn).toBe(functionNamed("opendev-db-stats").state.arn);
    const schedulerPolicy = JSON.parse(
      named(resources, "aws:iam/rolePolicy:RolePolicy", "db-stats-scheduler").inputs.policy,
    );
    expect(schedulerPolicy.Statement[0]).toEqual({
      Sid: "InvokeJob",
      Effect: "Allow",
      Action: ["lambda:InvokeFunction"],
      Resource: [target.arn],
    });
    const retries = Object.fromEntries(
      ofType(resources, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").map((c) => [
        c.name.replace(/-async$/, ""),
        c.inputs.maximumRetryAttempts,
      ]),
    );
    // The workflow jobs' steps are invoked synchronously; a stray asynchronous event is never repeated.
    expect(retries).toMatchObject({ backup: 0, "verify-backup": 0, "restore-test": 0, "db-stats": 1 });
  });
});

describe("job workflows", () => {
  const machines = () => ofType(resources, "aws:sfn/stateMachine:StateMachine");

  it("exist for backup, verify-backup and restore-test only: Standard, logging errors to a kept log group", () => {
    expect(
      machines()
        .map((m) => m.inputs.name)
        .sort(),
    ).toEqual(["opendev-backup", "opendev-restore-test", "opendev-verify-backup"]);
    for (const machine of machines()) {
      const logGroup = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").find(
        (g) => g.inputs.name === `/aws/vendedlogs/states/${machine.inputs.name}`,
      )!;
      expect(logGroup.inputs.retentionInDays).toBe(90);
      expect(machine.inputs).toMatchObject({
        type: "STANDARD",
        loggingConfiguration: {
          level: "ERROR",
          includeExecutionData: true,
          logDestination: `${logGroup.state.arn}:*`,
        },
      });
    }
    expect(run.outputs.stateMachineArns).toEqual(
      Object.fromEntries(machines().map((m) => [m.inputs.name.replace(/^opendev-/, ""), m.state.arn])),
    );
  });

  it("run each step with the job's own Lambda, and dead-letter into the job's queue", () => {
    for (const job of ["backup", "verify-backup", "restore-test"]) {
      const machine = machines().find((m) => m.inputs.name === `opendev-${job}`)!;
      const definition = JSON.parse(machine.inputs.definition);
      const fn = functionNamed(`opendev-${job}`).state.arn;
      expect(definition.States["Run step"].Resource).toBe(fn);
      expect(definition.States.Abandon.Resource).toBe(fn);
      expect(definition.States["Dead letter"].Parameters.QueueUrl).toBe(`https://sqs/opendev-${job}-dlq`);
    }
  });

  it("give each workflow a role for its own Lambda, queue and log delivery only, assumable by that machine", () => {
    for (const job of ["backup", "verify-backup", "restore-test"]) {
      const role = named(resources, "aws:iam/role:Role", `${job}-workflow`);
      const trust = JSON.parse(role.inputs.assumeRolePolicy);
      expect(trust.Statement).toEqual([
        {
          Effect: "Allow",
          Principal: { Service: "states.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: {
            StringEquals: { "aws:SourceAccount": "123456789012" },
            ArnLike: {
              "aws:SourceArn": `arn:aws:states:eu-central-1:123456789012:stateMachine:opendev-${job}`,
            },
          },
        },
      ]);
      const policy = JSON.parse(
        named(resources, "aws:iam/rolePolicy:RolePolicy", `${job}-workflow`).inputs.policy,
      );
      const dlq = ofType(resources, "aws:sqs/queue:Queue").find(
        (q) => q.inputs.name === `opendev-${job}-dlq`,
      )!;
      expect(policy.Statement.slice(0, 2)).toEqual([
        {
          Sid: "RunJobSteps",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: [functionNamed(`opendev-${job}`).state.arn],
        },
        { Sid: "DeadLetter", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [dlq.state.arn] },
      ]);
      expect(policy.Statement[2]).toMatchObject({ Sid: "DeliverExecutionLogs", Resource: ["*"] });
      expect(policy.Statement[2].Action.every((a: string) => a.startsWith("logs:"))).toBe(true);
    }
  });
});
