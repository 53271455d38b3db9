import { resolve } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { startServer, type TestServer } from "./support/http-server";
import { applyEnv, captureOutput, coldStart, invoke, lambdaContext, metricValue } from "./support/invoke";
import type * as SteppedJob from "./support/stepped-job";

/** The stepped job as a new container loads it (fresh module state, its environment in place). */
async function loadSteppedJob(env: Record<string, string> = {}): Promise<typeof SteppedJob> {
  const restore = applyEnv({ APP_NAME: "shop", ...env });
  vi.resetModules();
  try {
    return (await captureOutput(() => import(resolve(__dirname, "support/stepped-job")))).result;
  } finally {
    restore();
  }
}

const outcomes = (run: Awaited<ReturnType<typeof invoke>>) =>
  run.metrics.filter((metric) => metric.name === "SteppedJobSucceeded").map((metric) => metric.value);

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe("the job handler's continuation plumbing", () => {
  it("gives the job the time left in its invocation, and Infinity outside Lambda", async () => {
    const job = await loadSteppedJob();
    // lambdaContext reports 60 s left.
    await invoke(job.handler as never, { total: 1 });
    await captureOutput(() => job.handler({ total: 1 }));
    expect(job.invocations.map((call) => call.remainingMs)).toEqual([60_000, Infinity]);
  });

  it("stops a step when its deadline nears and continues from the returned event", async () => {
    const job = await loadSteppedJob({ STEPPED_MARGIN_MS: "100" });
    const context = { ...lambdaContext("shop-stepped-job"), getRemainingTimeInMillis: deadlineIn(200) };
    const first = (await captureOutput(() => job.handler({ total: 20 }, context))).result;
    expect(first).toMatchObject({ total: 20, done: false });
    const position = (first as { position: number }).position;
    expect(position).toBeGreaterThan(0);
    expect(position).toBeLessThan(20);
  });

  it("records the outcome 1 only for a run's last step, nothing for a done:false step, 0 for a failure", async () => {
    const job = await loadSteppedJob();
    const short = { ...lambdaContext("shop-stepped-job"), getRemainingTimeInMillis: () => 0 };
    const step = await invoke(((event: unknown) => job.handler(event as never, short)) as never, {
      total: 3,
    });
    expect(step.result).toEqual({ total: 3, position: 1, done: false });
    expect(outcomes(step)).toEqual([]);

    const last = await invoke(job.handler as never, { total: 3, position: 2, done: false });
    expect(last.result).toEqual({ counted: 3, done: true });
    expect(metricValue(last, "SteppedJobSucceeded")).toBe(1);

    const oneShot = await invoke(job.handler as never, { total: 3, oneShot: true });
    expect(oneShot.result).toEqual({ counted: 3 });
    expect(metricValue(oneShot, "SteppedJobSucceeded")).toBe(1);

    const failed = await invoke(job.handler as never, { total: 3, failAt: { position: 0, times: 1 } });
    expect(failed.error?.message).toBe("item 0 could not be counted");
    expect(metricValue(failed, "SteppedJobSucceeded")).toBe(0);
  });

  it("hands an abandoned run's last event, without the workflow's failure, to the job's abandon", async () => {
    const job = await loadSteppedJob();
    const last = { total: 5, position: 2, done: false };
    const failure = { Error: "Error", Cause: '{"errorMessage":"item 2 could not be counted"}' };
    const run = await invoke(job.handler as never, { abandon: { ...last, failure } });

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ abandoned: true });
    expect(job.invocations).toEqual([{ kind: "abandon", event: last, remainingMs: 60_000 }]);
    // The failed steps recorded their 0 already; cleaning up is no run of its own.
    expect(outcomes(run)).toEqual([]);
    expect(run.logs.find((line) => line.level === "WARN")).toMatchObject({
      message: "stepped-job run abandoned by its workflow; cleaned up",
      error: "Error",
      cause: failure.Cause,
    });
  });

  it("fails the abandon call when the clean-up fails, so the workflow and the Errors metric see it", async () => {
    const job = await loadSteppedJob();
    const run = await invoke(job.handler as never, { abandon: { total: 5, abandonFails: true } });
    expect(run.error?.message).toBe("could not clean up");
    expect(run.logs.find((line) => line.level === "ERROR")?.message).toBe(
      "stepped-job could not clean up the abandoned run",
    );
    expect(outcomes(run)).toEqual([]);
  });

  it("only logs an abandon for a job without one: the health check neither probes nor reports", async () => {
    const server = await startServer((_request, response) => response.end("ok"));
    servers.push(server);
    const handler = await coldStart("lambdas/health-check/handler", {
      APP_NAME: "shop",
      HEALTH_CHECK_URL: `${server.url}/api/health`,
      HEALTH_CHECK_EXPECT: undefined,
    });
    const run = await invoke(handler, { abandon: { source: "aws.scheduler", failure: { Error: "Error" } } });

    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ abandoned: true });
    expect(server.requests).toEqual([]);
    expect(run.metrics.map((metric) => metric.name)).toEqual([]);
    expect(run.logs.find((line) => line.level === "WARN")?.message).toBe(
      "health-check run abandoned by its workflow; nothing to clean up",
    );
  });
});

function deadlineIn(ms: number): () => number {
  const deadline = Date.now() + ms;
  return () => Math.max(0, deadline - Date.now());
}
