import {
  CloudWatchClient,
  PutMetricDataCommand,
  type MetricDatum,
  type StandardUnit,
} from "@aws-sdk/client-cloudwatch";

/**
 * The local stand-in for what CloudWatch Logs does in AWS: there, a Lambda's log lines in Embedded Metric
 * Format (EMF) become metrics by themselves. Locally nothing reads the handlers' output, so the drill parses
 * their EMF lines and puts the same data points into the local CloudWatch (moto) with PutMetricData, where
 * the daily report reads them back as it would in AWS.
 */

interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: { Name: string; Unit?: string }[];
}

// The SDK gzips PutMetricData bodies over 10 kB; moto 5.2 then fails ("Not a gzipped file", HTTP 500).
const cloudWatch = new CloudWatchClient({ disableRequestCompression: true });

/** The data points in EMF lines, grouped by namespace (other lines are ignored). */
export function emfDataPoints(lines: string[]): Map<string, MetricDatum[]> {
  const byNamespace = new Map<string, MetricDatum[]>();
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const aws = record._aws as { Timestamp?: number; CloudWatchMetrics?: EmfDirective[] } | undefined;
    if (!aws?.CloudWatchMetrics) continue;
    const timestamp = new Date(aws.Timestamp ?? Date.now());
    for (const directive of aws.CloudWatchMetrics) {
      // Each dimension set is its own metric in CloudWatch.
      for (const set of directive.Dimensions.length ? directive.Dimensions : [[]]) {
        const dimensions = set.map((name) => ({ Name: name, Value: String(record[name]) }));
        for (const metric of directive.Metrics) {
          const raw = record[metric.Name];
          const values = (Array.isArray(raw) ? raw : [raw]).filter(
            (value): value is number => typeof value === "number" && Number.isFinite(value),
          );
          const points = byNamespace.get(directive.Namespace) ?? [];
          for (const value of values) {
            points.push({
              MetricName: metric.Name,
              Dimensions: dimensions,
              Timestamp: timestamp,
              Value: value,
              Unit: metric.Unit as StandardUnit | undefined,
            });
          }
          byNamespace.set(directive.Namespace, points);
        }
      }
    }
  }
  return byNamespace;
}

/** Puts the EMF data points of `lines` into CloudWatch; returns how many. */
export async function bridgeEmfToCloudWatch(lines: string[]): Promise<number> {
  let total = 0;
  for (const [namespace, points] of emfDataPoints(lines)) {
    // PutMetricData takes at most 1000 data points per call.
    for (let start = 0; start < points.length; start += 1000) {
      const batch = points.slice(start, start + 1000);
      try {
        await cloudWatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }));
      } catch (error) {
        throw new Error(
          `putting ${batch.length} metric(s) into ${namespace} failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      total += batch.length;
    }
  }
  return total;
}
