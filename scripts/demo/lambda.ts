import type { Context } from "aws-lambda";
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { resolve } from "node:path";
import { bridgeEmfToCloudWatch } from "./emf-bridge";

/**
 * Runs the real Lambda handlers in this process the way Lambda would: the module is loaded with the
 * function's environment (the handlers validate it at cold start), then invoked with the schedule's event
 * and a Lambda-like context. Everything a handler prints (Powertools logs and EMF metric lines) goes to the
 * drill's log file instead of the screen, and its EMF lines are turned into CloudWatch metrics.
 */

export type Env = Record<string, string | undefined>;
type Handler = (event: unknown, context?: Context) => Promise<unknown>;

export interface Invocation<T> {
  result?: T;
  error?: Error;
  lines: string[];
  /** Data points put into CloudWatch from the EMF lines. */
  metrics: number;
}

const repositoryRoot = resolve(__dirname, "../..");

export class LocalLambda {
  private constructor(
    readonly functionName: string,
    private readonly handler: Handler,
    private readonly env: Env,
    private readonly logFile: string,
  ) {}

  /** `job` is the folder under lambdas/ (backup, health-check, ...). */
  static async load(job: string, env: Env, logFile: string): Promise<LocalLambda> {
    const functionName = `atlas-ops-${job}`;
    const { result } = await withEnv(env, () =>
      capture(logFile, functionName, async () => {
        const module = (await import(resolve(repositoryRoot, "lambdas", job, "handler"))) as {
          handler?: Handler;
        };
        if (typeof module.handler !== "function")
          throw new Error(`lambdas/${job}/handler exports no handler`);
        return module.handler;
      }),
    );
    return new LocalLambda(functionName, result, env, logFile);
  }

  /** Invokes once; a thrown error is returned, not rethrown (an expected failure is a result too). */
  async invoke<T>(event: unknown): Promise<Invocation<T>> {
    const { result, lines } = await withEnv(this.env, () =>
      capture(this.logFile, this.functionName, async () => {
        try {
          return { value: (await this.handler(event, lambdaContext(this.functionName))) as T };
        } catch (error) {
          return { error: error instanceof Error ? error : new Error(String(error)) };
        }
      }),
    );
    const metrics = await bridgeEmfToCloudWatch(lines);
    return { result: result.value, error: result.error, lines, metrics };
  }

  /** Invokes and fails with the handler's own error when it throws. */
  async succeed<T>(event: unknown): Promise<T> {
    const run = await this.invoke<T>(event);
    if (run.error) throw new Error(`${this.functionName} failed: ${run.error.message}`);
    return run.result as T;
  }
}

function lambdaContext(functionName: string): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll("-", "/")}/[$LATEST]local-drill`,
    getRemainingTimeInMillis: () => Math.max(0, 900_000 - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function withEnv<T>(env: Env, work: () => Promise<T>): Promise<T> {
  const previous: Env = {};
  for (const [key, value] of Object.entries(env)) {
    previous[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await work();
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/**
 * Runs `work` with stdout and stderr diverted line by line into `logFile` (prefixed with the function name),
 * as Lambda sends both streams to CloudWatch Logs.
 */
async function capture<T>(
  logFile: string,
  functionName: string,
  work: () => Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  const pending = ["", ""];
  const flush = (index: number, final: boolean): void => {
    const parts = pending[index]!.split("\n");
    pending[index] = final ? "" : (parts.pop() ?? "");
    lines.push(...parts.filter((line) => line.length > 0));
  };
  streams.forEach((stream, index) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      pending[index] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      flush(index, false);
      const callback = rest.find((item) => typeof item === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  });
  try {
    return { result: await work(), lines };
  } finally {
    streams.forEach((stream, index) => {
      stream.write = originals[index]!;
      flush(index, true);
    });
    if (lines.length) appendFileSync(logFile, lines.map((line) => `${functionName} ${line}\n`).join(""));
  }
}
