import type { Context } from "aws-lambda";
import {
  loadAtColdStart,
  readCommonConfig,
  readEnv,
  type CommonConfig,
  type EnvReader,
} from "../core/config/env";
import { redactSecrets } from "../core/mongo/uri";
import { createJobObservability, MetricUnit, type JobObservability } from "./observability";
import { parseSentryDsn, reportToSentry, type SentryDsn } from "./sentry";

/** What a job gets besides its event and configuration. */
export interface JobTools extends JobObservability {
  /** Milliseconds left in this invocation (Lambda's deadline); Infinity when not run by Lambda (the CLI). */
  remainingMs(): number;
}

/**
 * A workflow that gave up on a run invokes the job once more with this event: `abandon` is the event of
 * the step that kept failing, with the workflow's `failure` (`Error`, `Cause`) added.
 */
export interface AbandonEvent {
  abandon: Record<string, unknown> & { failure?: { Error?: string; Cause?: string } };
}

export interface AbandonOutcome {
  abandoned: true;
}

/**
 * The shape every maintenance Lambda shares: configuration validated at cold start, logger and metrics
 * created once, then per invocation: run the job, record its outcome metric (1 when the run is complete, 0 on
 * any failure, including a bad configuration), flush the metrics, and on failure log why, report to Sentry
 * when configured, and throw so Lambda's error metric and the workflow's or Lambda's retries see it.
 *
 * A job that continues over several invocations (docs/archive-format.md, the continuation contract) returns
 * `done: false` until its last step: such a step records no outcome, so the alarms see one 1 per run.
 */
export interface JobSpec<Event, Config, Result> {
  job: string;
  loadConfig: (env: EnvReader) => Config;
  run: (event: Event, config: Config & CommonConfig, tools: JobTools) => Promise<Result>;
  /**
   * Cleans up after a run the workflow gave up on (e.g. aborts its multipart upload), given the event of the
   * step that kept failing (without the workflow's `failure`). Must be safe to call twice. A job without it
   * has nothing to clean up.
   */
  abandon?: (event: Event, config: Config & CommonConfig, tools: JobTools) => Promise<void>;
  /** The job's 1/0 metric (e.g. HealthCheckUp); the runner records it so no path forgets it. */
  outcomeMetric?: string;
  /**
   * Records a failure whose metrics need the event (rotation: per SecretName); called on every failure, a bad
   * configuration included, before the metrics are flushed.
   */
  onFailure?: (event: Event, error: Error, tools: JobObservability) => void;
}

export interface JobHandler<Event, Result> {
  (event: AbandonEvent, context?: Context): Promise<AbandonOutcome>;
  (event: Event, context?: Context): Promise<Result>;
}

export function createJobHandler<Event, Config, Result>(
  spec: JobSpec<Event, Config, Result>,
): JobHandler<Event, Result> {
  const tools = createJobObservability(spec.job);
  const { logger, metrics } = tools;
  const config = loadAtColdStart(() => {
    const env = readEnv(process.env);
    return { ...readCommonConfig(env), ...spec.loadConfig(env), sentry: readSentry(env) };
  });
  try {
    config();
  } catch (error) {
    logger.error("invalid configuration", { error: describe(error) });
  }

  const handler = async (
    event: Event | AbandonEvent,
    context?: Context,
  ): Promise<Result | AbandonOutcome> => {
    if (context) logger.addContext(context);
    const invocationTools: JobTools = {
      ...tools,
      remainingMs: () => (context ? context.getRemainingTimeInMillis() : Infinity),
    };
    if (isAbandonEvent(event)) return abandonRun(event, invocationTools);
    let loaded: ReturnType<typeof config> | undefined;
    try {
      loaded = config();
      const result = await spec.run(event, loaded, invocationTools);
      if (spec.outcomeMetric && isFinal(result)) metrics.addMetric(spec.outcomeMetric, MetricUnit.Count, 1);
      return result;
    } catch (error) {
      if (spec.outcomeMetric) metrics.addMetric(spec.outcomeMetric, MetricUnit.Count, 0);
      const safe = safeError(error);
      spec.onFailure?.(event, safe, tools);
      logger.error(`${spec.job} failed`, { error: describe(safe) });
      if (loaded?.sentry) {
        await reportToSentry(loaded.sentry, { error: safe, tags: { job: spec.job, app: loaded.appName } });
      }
      throw safe;
    } finally {
      metrics.publishStoredMetrics();
    }
  };

  /** No outcome metric: the failed steps before it recorded their 0 already. */
  async function abandonRun(event: AbandonEvent, invocationTools: JobTools): Promise<AbandonOutcome> {
    const { failure, ...stepEvent } = event.abandon;
    const why = { error: failure?.Error, cause: failure?.Cause };
    if (!spec.abandon) {
      logger.warn(`${spec.job} run abandoned by its workflow; nothing to clean up`, why);
      return { abandoned: true };
    }
    try {
      await spec.abandon(stepEvent as Event, config(), invocationTools);
      logger.warn(`${spec.job} run abandoned by its workflow; cleaned up`, why);
      return { abandoned: true };
    } catch (error) {
      logger.error(`${spec.job} could not clean up the abandoned run`, { ...why, error: describe(error) });
      throw safeError(error);
    } finally {
      metrics.publishStoredMetrics();
    }
  }

  return handler as JobHandler<Event, Result>;
}

function isAbandonEvent(event: unknown): event is AbandonEvent {
  const abandon = (event as { abandon?: unknown } | null)?.abandon;
  return typeof abandon === "object" && abandon !== null && !Array.isArray(abandon);
}

/** A result ends its run unless it says `done: false` (the continuation contract). */
function isFinal(result: unknown): boolean {
  return (result as { done?: unknown } | null)?.done !== false;
}

function readSentry(env: EnvReader): SentryDsn | undefined {
  const dsn = env.optional("SENTRY_DSN");
  return dsn ? parseSentryDsn(dsn) : undefined;
}

/** The error as thrown, unless its text carries a connection-string password: then a redacted copy. */
function safeError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(redactSecrets(String(error)));
  const message = redactSecrets(error.message);
  if (message === error.message && !(error.stack && redactSecrets(error.stack) !== error.stack)) return error;
  const copy = new Error(message);
  copy.name = error.name;
  return copy;
}

function describe(error: unknown): { name: string; message: string; cause?: string } {
  const safe = safeError(error);
  const cause = safe.cause instanceof Error ? redactSecrets(safe.cause.message) : undefined;
  return { name: safe.name, message: safe.message, ...(cause && cause !== safe.message ? { cause } : {}) };
}
