import { resolve } from "node:path";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WORKFLOW_JOBS, type WorkflowJobName } from "../../infra/jobs";
import { RUN_RETRIES } from "../../infra/scheduled-job";
import { deployedWorkflowDefinition } from "../support/deployed-workflow";
import { uniqueName } from "../support/env";
import { runJobWorkflow, StepCrash, type WorkflowRunOptions } from "../support/workflow-driver";
import { applyEnv, captureOutput } from "./support/invoke";
import type * as SteppedJob from "./support/stepped-job";

/**
 * The deployed backup workflow (its definition from the Pulumi program) driving a small job that follows the
 * continuation contract through the real job handler; the "Dead letter" state sends to a real SQS queue.
 */
const sqs = new SQSClient({});
const definitions = {} as Record<WorkflowJobName, string>;
let definition: string;
let queueUrl: string;

beforeAll(async () => {
  for (const job of WORKFLOW_JOBS) definitions[job] = await deployedWorkflowDefinition(job);
  definition = definitions.backup;
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("workflow-dlq") }))).QueueUrl!;
});
afterAll(async () => {
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

async function loadSteppedJob(): Promise<typeof SteppedJob> {
  const restore = applyEnv({ APP_NAME: "shop", STEPPED_MARGIN_MS: "100" });
  vi.resetModules();
  try {
    return (await captureOutput(() => import(resolve(__dirname, "support/stepped-job")))).result;
  } finally {
    restore();
  }
}

/** Runs the workflow with the stepped job, its output captured (the handler logs to stdout). */
async function drive(
  input: SteppedJob.SteppedEvent,
  options: Partial<WorkflowRunOptions> = {},
  workflow = definition,
) {
  const job = await loadSteppedJob();
  const deadLetterUrls: string[] = [];
  const { result } = await captureOutput(() =>
    runJobWorkflow(workflow, (event, context) => job.handler(event as never, context), input, {
      remainingMs: 250,
      // The deployed definition names the stack's queue; the message goes to this test's queue instead.
      deadLetter: async (body, url) => {
        deadLetterUrls.push(url);
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
      },
      ...options,
    }),
  );
  return { run: result, job, deadLetterUrls };
}

/** The messages in the test's dead-letter queue, removed from it (so no later test sees them again). */
async function receiveDeadLetters(): Promise<unknown[]> {
  const output = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  const messages = output.Messages ?? [];
  for (const message of messages) {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
  return messages.map((message) => JSON.parse(message.Body!) as unknown);
}

describe("the deployed job workflow, driven locally", () => {
  it("runs steps until the job reports done, each step's event being the previous result unchanged", async () => {
    const { run, job } = await drive({ total: 30 });

    expect(run.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ counted: 30, done: true });
    expect(run.events.length).toBeGreaterThan(2);
    expect(run.events[0]).toEqual({ total: 30 });
    const results = job.invocations.map((call) => call.event);
    expect(results).toEqual(run.events);
    for (let i = 1; i < run.events.length; i++) {
      expect(run.events[i]).toMatchObject({ total: 30, done: false });
      expect((run.events[i] as { position: number }).position).toBeGreaterThan(
        (run.events[i - 1] as { position?: number }).position ?? 0,
      );
    }
    // Each invocation had its own deadline.
    expect(job.invocations.every((call) => call.remainingMs > 200)).toBe(true);
    expect(run.abandoned).toEqual([]);
  });

  it("finishes in one step when the job's result has no `done`", async () => {
    const { run } = await drive({ total: 30, oneShot: true });
    expect(run.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ counted: 30 });
    expect(run.events).toHaveLength(1);
  });

  it("runs a step that failed or crashed again with the same event", async () => {
    let crashed = false;
    const { run } = await drive(
      { total: 30, failAt: { position: 0, times: 1 } },
      {
        beforeStep: (invocation) => {
          // The second step's first try dies without an answer (Lambda.Unknown).
          if (invocation === 3 && !crashed) {
            crashed = true;
            throw new StepCrash();
          }
        },
      },
    );
    expect(run.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ counted: 30, done: true });
    expect(run.events[1]).toEqual(run.events[0]);
    expect(run.events[3]).toEqual(run.events[2]);
    expect(run.abandoned).toEqual([]);
  });

  it("waits out a throttled invocation (another run holds the reserved concurrency) however often it comes", async () => {
    const throttled = Object.assign(new Error("Rate Exceeded."), { name: "Lambda.TooManyRequestsException" });
    const { run } = await drive(
      { total: 30 },
      {
        beforeStep: (invocation) => {
          if (invocation <= 20) throw throttled;
        },
      },
    );
    expect(run.status).toBe("SUCCEEDED");
    expect(run.events.slice(0, 21).every((event) => JSON.stringify(event) === '{"total":30}')).toBe(true);
  });

  it("abandons a run whose step keeps failing, dead-letters its last event and fails", async () => {
    const { run, job, deadLetterUrls } = await drive({ total: 30, failAt: { position: 0, times: 99 } });

    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("JobFailed");
    // The first try and the backup job's two retries, all with the schedule's event.
    expect(run.events).toEqual([
      { total: 30, failAt: { position: 0, times: 99 } },
      run.events[0],
      run.events[0],
    ]);
    expect(run.abandoned).toHaveLength(1);
    const abandon = (run.abandoned[0] as { abandon: Record<string, unknown> }).abandon;
    expect(abandon).toMatchObject({ ...(run.events[0] as object), failure: { Error: "Error" } });
    expect(JSON.parse((abandon.failure as { Cause: string }).Cause)).toMatchObject({
      errorType: "Error",
      errorMessage: "item 0 could not be counted",
    });
    // The job's abandon got the step's event without the workflow's failure.
    expect(job.invocations.filter((call) => call.kind === "abandon").map((call) => call.event)).toEqual([
      run.events[0],
    ]);

    const letters = await receiveDeadLetters();
    expect(letters).toEqual([
      {
        job: "backup",
        execution: expect.stringMatching(/^arn:aws:states:.*:execution:/),
        input: run.events[0],
        event: abandon,
      },
    ]);
    expect(run.deadLetters).toEqual(letters);
    // The stack's own backup dead-letter queue (its URL as the Pulumi mocks answer it).
    expect(deadLetterUrls).toEqual(["https://sqs/opendev-backup-dlq"]);
  });

  it("still dead-letters and fails when the job cannot clean up", async () => {
    const { run } = await drive({ total: 30, failAt: { position: 0, times: 99 }, abandonFails: true });
    expect(run.status).toBe("FAILED");
    // One retry of the abandon call, then on.
    expect(run.abandoned).toHaveLength(2);
    const [letter] = (await receiveDeadLetters()) as { event: { abandonFailure?: { Cause: string } } }[];
    expect(JSON.parse(letter!.event.abandonFailure!.Cause)).toMatchObject({
      errorMessage: "could not clean up",
    });
  });

  it.each(WORKFLOW_JOBS)(
    "runs %s's deployed workflow the same way, with that job's retries",
    async (name) => {
      const done = await drive({ total: 30 }, {}, definitions[name]);
      expect(done.run.status).toBe("SUCCEEDED");
      expect(done.run.events.length).toBeGreaterThan(2);

      const failed = await drive({ total: 30, failAt: { position: 0, times: 99 } }, {}, definitions[name]);
      expect(failed.run.status).toBe("FAILED");
      expect(failed.run.events).toHaveLength(1 + RUN_RETRIES[name]);
      expect(failed.deadLetterUrls).toEqual([`https://sqs/opendev-${name}-dlq`]);
      expect(await receiveDeadLetters()).toMatchObject([{ job: name }]);
    },
  );
});
