import { createJobHandler } from "../../../lambdas/adapters/job-handler";

/**
 * A small job that follows the continuation contract through the real job handler, for the handler and
 * workflow tests: it counts `total` items, 20 ms each, while more than `marginMs` of its invocation is left,
 * and returns the continuation `{ ...event, position, done: false }` until every item is counted. Its module
 * state records what each invocation saw (a test loads it fresh per cold start).
 */
export interface SteppedEvent {
  total: number;
  position?: number;
  /** Throw at this position, `times` times (counted per cold start), before counting on. */
  failAt?: { position: number; times: number; message?: string };
  /** Return a result without `done`, as a job that always finishes in one invocation. */
  oneShot?: boolean;
  /** Make the abandon call fail. */
  abandonFails?: boolean;
  done?: boolean;
}

export interface Invocation {
  kind: "run" | "abandon";
  event: SteppedEvent;
  remainingMs: number;
}

export const invocations: Invocation[] = [];
const failures = new Map<number, number>();
const ITEM_MS = 20;

export const handler = createJobHandler<SteppedEvent, { marginMs: number }, unknown>({
  job: "stepped-job",
  loadConfig: (env) => ({ marginMs: Number(env.optional("STEPPED_MARGIN_MS", "100")) }),
  outcomeMetric: "SteppedJobSucceeded",
  async run(event, config, tools) {
    invocations.push({ kind: "run", event, remainingMs: tools.remainingMs() });
    if (event.oneShot) return { counted: event.total };
    let position = event.position ?? 0;
    const fail = event.failAt;
    if (fail && position === fail.position && (failures.get(position) ?? 0) < fail.times) {
      failures.set(position, (failures.get(position) ?? 0) + 1);
      throw new Error(fail.message ?? `item ${position} could not be counted`);
    }
    // At least one item per invocation, so a run always moves on.
    do {
      await new Promise((resolve) => setTimeout(resolve, ITEM_MS));
      position += 1;
    } while (position < event.total && tools.remainingMs() > config.marginMs + ITEM_MS);
    tools.logger.info("counted", { position, total: event.total });
    return position < event.total ? { ...event, position, done: false } : { counted: position, done: true };
  },
  async abandon(event, _config, tools) {
    invocations.push({ kind: "abandon", event, remainingMs: tools.remainingMs() });
    if (event.abandonFails) throw new Error("could not clean up");
  },
});
