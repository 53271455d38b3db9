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

/**
 * The shape every maintenance Lambda shares: configuration validated at cold start, logger and metrics
 * created once, then per invocation: run the job, record its outcome metric (1 on success, 0 on any failure,
 * including a bad configuration), flush the metrics, and on failure log why, report to Sentry when
 * configured, and throw so Lambda's error metric, retries and on-failure destination see it.
 */
export interface JobSpec<Event, Config, Result> {
  job: string;
  loadConfig: (env: EnvReader) => Config;
  run: (event: Event, config: Config & CommonConfig, tools: JobObservability) => Promise<Result>;
  /** The job's 1/0 metric (e.g. HealthCheckUp); the runner records it so no path forgets it. */
  outcomeMetric?: string;
  /**
   * Records a failure whose metrics need the event (rotation: per SecretName); called on every failure, a bad
   * configuration included, before the metrics are flushed.
   */
  onFailure?: (event: Event, error: Error, tools: JobObservability) => void;
}

export type JobHandler<Event, Result> = (event: Event, context?: Context) => Promise<Result>;

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

  return async (event: Event, context?: Context): Promise<Result> => {
    if (context) logger.addContext(context);
    let loaded: ReturnType<typeof config> | undefined;
    try {
      loaded = config();
      const result = await spec.run(event, loaded, tools);
      if (spec.outcomeMetric) metrics.addMetric(spec.outcomeMetric, MetricUnit.Count, 1);
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
