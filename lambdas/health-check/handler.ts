import { createJobHandler } from "../adapters/job-handler";
import { MetricUnit } from "../adapters/observability";
import { probeHealth, type HealthProbeResult } from "../core/probes/health";
import { loadHealthCheckConfig } from "./config";

/** Scheduled every few minutes: the application's health endpoint, as a user would reach it. */
export const handler = createJobHandler<unknown, ReturnType<typeof loadHealthCheckConfig>, HealthProbeResult>(
  {
    job: "health-check",
    loadConfig: loadHealthCheckConfig,
    outcomeMetric: "HealthCheckUp",
    async run(_event, config, { logger, metrics }) {
      const result = await probeHealth({
        url: config.url,
        timeoutMs: config.timeoutMs,
        expect: config.expect,
      });
      metrics.addMetric("HealthCheckLatencyMs", MetricUnit.Milliseconds, result.latencyMs);
      if (result.tlsCertDaysLeft !== undefined) {
        metrics.addMetric("TlsCertDaysLeft", MetricUnit.Count, result.tlsCertDaysLeft);
      }
      if (result.failure) {
        throw new Error(
          `health check of ${result.url} failed (${result.failure.kind}): ${result.failure.message}`,
        );
      }
      logger.info("healthy", { ...result });
      return result;
    },
  },
);
