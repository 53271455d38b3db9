import type { Context } from "aws-lambda";
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from "aws-local-stepfunctions";
import { WORKFLOW_STATES } from "../../infra/job-workflow";

/** What the driver plugs into the workflow's Lambda task states: the real handler, with a context. */
export type JobStep = (event: unknown, context: Context) => Promise<unknown>;

export interface WorkflowRunOptions {
  /**
   * The time left that each invocation's context reports when it starts (the handler's deadline), or a
   * function of the invocation's number (1 for the first).
   */
  remainingMs: number | ((invocation: number) => number);
  /**
   * Called before each invocation of the "Run step" state, with its number (retries count) and event. What it
   * throws fails that invocation as Lambda would report it: a `StepCrash` as `Lambda.Unknown` (a killed or
   * timed-out function), any other error under its own name, so an error named
   * `Lambda.TooManyRequestsException` stands for the Lambda service refusing the invocation (throttled).
   */
  beforeStep?: (invocation: number, event: unknown) => Promise<void> | void;
  /** Where the "Dead letter" state's message goes (a real SQS queue in the tests), with the queue URL. */
  deadLetter: (body: unknown, queueUrl: string) => Promise<void>;
  /** The driver stops a run that keeps asking for more steps after this many invocations (default 1000). */
  maxInvocations?: number;
}

export interface WorkflowRun {
  status: "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
  output?: unknown;
  /** The execution's error and cause when it did not succeed (e.g. "JobFailed"). */
  error?: string;
  cause?: string;
  /** Every event the "Run step" state was invoked with, in order (retries included). */
  events: unknown[];
  /** Every event the "Abandon" state invoked the job with (`{ abandon: ... }`). */
  abandoned: unknown[];
  /** Every message body the "Dead letter" state sent. */
  deadLetters: unknown[];
}

/** Thrown by a test (in `beforeStep` or its step) to stand for an invocation that died without an answer. */
export class StepCrash extends Error {
  constructor(message = "the function was killed before it answered") {
    super(message);
    this.name = "StepCrash";
  }
}

const EXECUTION_NAME = "workflow-driver";

/**
 * Runs a job workflow's definition (the one Pulumi deploys, not a copy: pass `deployedWorkflowDefinition`'s
 * string) in process with aws-local-stepfunctions: Choice, Retry and Catch follow the definition, each Lambda
 * task state calls the real handler with a Lambda-like context, a failed invocation is reported to the
 * workflow as Lambda reports it (error name = the thrown error's name, cause = the Lambda error JSON), and the
 * SQS task calls `deadLetter`. Retry pauses are skipped; every other rule is the definition's.
 */
export async function runJobWorkflow(
  definition: string | Record<string, unknown>,
  step: JobStep,
  input: unknown,
  options: WorkflowRunOptions,
): Promise<WorkflowRun> {
  const parsed = (typeof definition === "string" ? JSON.parse(definition) : definition) as {
    States: Record<string, { Resource?: string }>;
  };
  const machine = new StateMachine(parsed as never, {
    validationOptions: { checkArn: true, checkPaths: true },
  });
  const events: unknown[] = [];
  const abandoned: unknown[] = [];
  const deadLetters: unknown[] = [];
  let invocations = 0;
  const context = (state: string): Context => {
    invocations += 1;
    const left =
      typeof options.remainingMs === "function" ? options.remainingMs(invocations) : options.remainingMs;
    const deadline = Date.now() + left;
    const functionArn = parsed.States[state]?.Resource ?? "arn:aws:lambda:::function:unknown";
    const functionName = functionArn.split(":").pop() ?? "unknown";
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: "$LATEST",
      invokedFunctionArn: functionArn,
      memoryLimitInMB: "2048",
      awsRequestId: `${EXECUTION_NAME}-${invocations}`,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `${EXECUTION_NAME}/[$LATEST]${invocations}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  };
  const maxInvocations = options.maxInvocations ?? 1000;
  const states = Object.keys(parsed.States);
  const execution = machine.run(input as never, {
    context: {
      Execution: {
        Id: `arn:aws:states:eu-central-1:123456789012:execution:job:${EXECUTION_NAME}`,
        Name: EXECUTION_NAME,
      },
    } as never,
    overrides: {
      taskResourceLocalHandlers: {
        [WORKFLOW_STATES.step]: async (event: unknown) => {
          events.push(event);
          if (events.length > maxInvocations) {
            execution.abort();
            return null as never;
          }
          return asLambda(async () => {
            await options.beforeStep?.(events.length, event);
            return step(event, context(WORKFLOW_STATES.step));
          });
        },
        [WORKFLOW_STATES.abandon]: async (event: unknown) => {
          abandoned.push(event);
          return asLambda(() => step(event, context(WORKFLOW_STATES.abandon)));
        },
        [WORKFLOW_STATES.deadLetter]: async (parameters: unknown) => {
          const { MessageBody, QueueUrl } = parameters as { MessageBody: unknown; QueueUrl: string };
          deadLetters.push(MessageBody);
          await options.deadLetter(MessageBody, QueueUrl);
          return { MessageId: `message-${deadLetters.length}` } as never;
        },
      },
      retryIntervalOverrides: Object.fromEntries(states.map((name) => [name, 0])),
    },
  });
  const run = { events, abandoned, deadLetters };
  try {
    const output = await execution.result;
    return { status: "SUCCEEDED", output, ...run };
  } catch (error) {
    if (error instanceof ExecutionTimeoutError)
      return { status: "TIMED_OUT", error: "States.Timeout", ...run };
    if (error instanceof ExecutionAbortedError) {
      return { status: "ABORTED", cause: `the driver stopped after ${maxInvocations} invocations`, ...run };
    }
    const failure =
      error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
    return { status: "FAILED", error: failure.name, cause: failure.message, ...run };
  }
}

/**
 * A handler's outcome as Step Functions sees a Lambda task's: the result, or an error whose name is Lambda's
 * errorType and whose cause is the Lambda error payload as JSON. Only JSON travels between states.
 */
async function asLambda(invoke: () => Promise<unknown>): Promise<never> {
  let result: unknown;
  try {
    result = await invoke();
  } catch (error) {
    const thrown = error instanceof Error ? error : new Error(String(error));
    const crashed = thrown instanceof StepCrash;
    const failure = new Error(
      crashed
        ? JSON.stringify({ errorMessage: thrown.message })
        : JSON.stringify({
            errorType: thrown.name,
            errorMessage: thrown.message,
            trace: (thrown.stack ?? "").split("\n"),
          }),
    );
    failure.name = crashed ? "Lambda.Unknown" : thrown.name;
    throw failure;
  }
  return (result === undefined ? null : JSON.parse(JSON.stringify(result))) as never;
}
