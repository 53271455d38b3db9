import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { isSecretName, redactSecrets } from "../core/mongo/uri";

export { MetricUnit };

/** Every job's metrics live in one namespace with the dimensions { service: "atlas-ops", App, Job }, so alarms
 * and the dashboard address any job the same way (Powertools always adds the `service` dimension). */
export const DEFAULT_METRICS_NAMESPACE = "AtlasOps";
export const METRICS_SERVICE = "atlas-ops";

export interface JobObservability {
  logger: Logger;
  metrics: Metrics;
}

/**
 * Creates the logger and metrics of one job. Call once per module (cold start), not per invocation, as
 * Powertools recommends; the handler calls `metrics.publishStoredMetrics()` (or uses the middleware) per call.
 */
export function createJobObservability(job: string): JobObservability {
  const app = process.env.APP_NAME || "opendev";
  const namespace = process.env.METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE;
  const logger = new Logger({
    serviceName: `atlas-ops-${job}`,
    persistentKeys: { app, job },
    jsonReplacerFn: redactLogValue,
  });
  const metrics = new Metrics({
    namespace,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { App: app, Job: job },
  });
  return { logger, metrics };
}

/**
 * Every string of every log line goes through the one redaction function, and a field named like a secret
 * (`password`, `proxyPassword`, `token`, ...) is never printed, whatever a handler passes to the logger.
 */
export function redactLogValue(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (key !== "" && isSecretName(key)) return "***";
  return redactSecrets(value);
}
