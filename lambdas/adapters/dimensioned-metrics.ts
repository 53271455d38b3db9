import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { MetricUnit } from "./observability";

export type Figure = [name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number];

/**
 * Emits figures with extra dimensions (e.g. Database) on top of the job's { service, App, Job }. A Powertools
 * single metric clears its dimensions after each metric it prints, so they are set again before each one;
 * `addDimensions` is avoided because it would also publish the figure without the extra dimensions.
 */
export function emitWithDimensions(
  metrics: Metrics,
  dimensions: Record<string, string>,
  figures: Figure[],
): void {
  const single = metrics.singleMetric();
  for (const [name, unit, value] of figures) {
    for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
    single.addMetric(name, unit, value);
  }
}
