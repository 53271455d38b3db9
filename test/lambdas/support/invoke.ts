import type { Context } from "aws-lambda";
import { resolve } from "node:path";
import { vi } from "vitest";

/**
 * Invoking a handler as Lambda does: the module is loaded fresh with the function's environment (cold
 * start), then called with an event and a context; everything it prints to stdout (structured logs and EMF
 * metrics) is captured and parsed.
 */

export type Env = Record<string, string | undefined>;

/** Sets `env` on process.env and returns a function that puts the previous values back. */
export function applyEnv(env: Env): () => void {
  const previous: Env = {};
  for (const [key, value] of Object.entries(env)) {
    previous[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

export function lambdaContext(functionName: string, remainingMs = 60_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2025/01/01/[$LATEST]test",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export type Handler = (event: unknown, context?: Context) => Promise<unknown>;

const repositoryRoot = resolve(__dirname, "../../..");

/**
 * Loads a handler module (path from the repository root, e.g. "lambdas/health-check/handler") as a new
 * container would: a fresh module registry, with `env` in place during the cold start.
 */
export async function coldStart(modulePath: string, env: Env): Promise<Handler> {
  const restore = applyEnv(env);
  vi.resetModules();
  try {
    const output = await captureOutput(
      () => import(resolve(repositoryRoot, modulePath)) as Promise<{ handler: Handler }>,
    );
    return output.result.handler;
  } finally {
    restore();
  }
}

export interface Captured<T> {
  result: T;
  lines: string[];
}

/**
 * Runs `work` capturing what it writes to stdout and stderr, line by line (Powertools writes logs and EMF to
 * stdout, errors to stderr; Lambda sends both to CloudWatch Logs).
 */
export async function captureOutput<T>(work: () => Promise<T>): Promise<Captured<T>> {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  const pending = ["", ""];
  streams.forEach((stream, index) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      pending[index] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      const parts = pending[index]!.split("\n");
      pending[index] = parts.pop() ?? "";
      lines.push(...parts.filter((line) => line.length > 0));
      const callback = rest.find((item) => typeof item === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  });
  try {
    const result = await work();
    return { result, lines };
  } finally {
    streams.forEach((stream, index) => {
      stream.write = originals[index]!;
      if (pending[index]) lines.push(pending[index]!);
    });
  }
}

export interface Invocation {
  result?: unknown;
  error?: Error;
  lines: string[];
  metrics: EmfMetric[];
  logs: Record<string, unknown>[];
}

/** Invokes the handler once, capturing its output; a thrown error is returned, not rethrown. */
export async function invoke(
  handler: Handler,
  event: unknown,
  functionName = "test-function",
  /** What the context's getRemainingTimeInMillis() answers (a step of a long job told its time is up). */
  remainingMs?: number,
): Promise<Invocation> {
  const { result, lines } = await captureOutput(async () => {
    try {
      return { value: await handler(event, lambdaContext(functionName, remainingMs)) };
    } catch (error) {
      return { error: error as Error };
    }
  });
  return {
    result: result.value,
    error: result.error,
    lines,
    metrics: parseEmf(lines),
    logs: parseLogs(lines),
  };
}

export interface EmfMetric {
  namespace: string;
  name: string;
  unit?: string;
  value: number | number[];
  dimensions: Record<string, string>;
}

/** Every metric in the EMF lines: namespace, name, value and the dimensions declared for it. */
export function parseEmf(lines: string[]): EmfMetric[] {
  const metrics: EmfMetric[] = [];
  for (const line of lines) {
    const record = parseJson(line);
    const aws = record?._aws as
      | {
          CloudWatchMetrics?: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string; Unit?: string }[];
          }[];
        }
      | undefined;
    if (!record || !aws?.CloudWatchMetrics) continue;
    for (const directive of aws.CloudWatchMetrics) {
      const dimensionNames = directive.Dimensions.flat();
      const dimensions = Object.fromEntries(dimensionNames.map((name) => [name, String(record[name])]));
      for (const metric of directive.Metrics) {
        metrics.push({
          namespace: directive.Namespace,
          name: metric.Name,
          unit: metric.Unit,
          value: record[metric.Name] as number | number[],
          dimensions,
        });
      }
    }
  }
  return metrics;
}

function parseLogs(lines: string[]): Record<string, unknown>[] {
  return lines.map(parseJson).filter((record): record is Record<string, unknown> => !!record && !record._aws);
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The single value of the metric `name` (optionally with extra dimensions); fails if absent or repeated. */
export function metricValue(
  invocation: Invocation,
  name: string,
  dimensions: Record<string, string> = {},
): number {
  const found = invocation.metrics.filter(
    (metric) =>
      metric.name === name &&
      Object.entries(dimensions).every(([key, value]) => metric.dimensions[key] === value),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${name} metric ${JSON.stringify(dimensions)}, found ${found.length}`);
  }
  const value = found[0]!.value;
  if (Array.isArray(value)) throw new Error(`metric ${name} has several values: ${value.join(", ")}`);
  return value;
}
