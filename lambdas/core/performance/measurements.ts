import type { AtlasMeasurement } from "../atlas/atlas-reads";

/**
 * The guide's "Performance Monitoring" key metrics (CPU, memory, connections, operations, query targeting,
 * disk IOPS and latency) as the Atlas measurement names they come from and the CloudWatch metric each
 * becomes. Units follow the Atlas measurements (percent, megabytes, per second, milliseconds).
 */
export type CloudWatchUnit = "Percent" | "Megabytes" | "Count" | "Count/Second" | "Milliseconds" | "None";

export interface MeasurementMapping {
  atlas: string;
  metric: string;
  unit: CloudWatchUnit;
}

export const PROCESS_MEASUREMENTS: readonly MeasurementMapping[] = [
  { atlas: "PROCESS_NORMALIZED_CPU_USER", metric: "AtlasCpuPercent", unit: "Percent" },
  { atlas: "MEMORY_RESIDENT", metric: "AtlasMemoryResidentMb", unit: "Megabytes" },
  { atlas: "CONNECTIONS", metric: "AtlasConnections", unit: "Count" },
  { atlas: "OPCOUNTER_QUERY", metric: "AtlasQueriesPerSecond", unit: "Count/Second" },
  { atlas: "OPCOUNTER_INSERT", metric: "AtlasInsertsPerSecond", unit: "Count/Second" },
  { atlas: "OPCOUNTER_UPDATE", metric: "AtlasUpdatesPerSecond", unit: "Count/Second" },
  { atlas: "OPCOUNTER_DELETE", metric: "AtlasDeletesPerSecond", unit: "Count/Second" },
  { atlas: "QUERY_TARGETING_SCANNED_OBJECTS_PER_RETURNED", metric: "AtlasQueryTargeting", unit: "None" },
];

/** Disk measurements come from the data partition's own endpoint. */
export const DISK_MEASUREMENTS: readonly MeasurementMapping[] = [
  { atlas: "DISK_PARTITION_IOPS_TOTAL", metric: "AtlasDiskIops", unit: "Count/Second" },
  { atlas: "DISK_PARTITION_LATENCY_READ", metric: "AtlasDiskReadLatencyMs", unit: "Milliseconds" },
  { atlas: "DISK_PARTITION_LATENCY_WRITE", metric: "AtlasDiskWriteLatencyMs", unit: "Milliseconds" },
];

export interface MeasuredFigure {
  metric: string;
  unit: CloudWatchUnit;
  /** The hourly values of the period, nulls (no data that hour) dropped. */
  values: number[];
}

/** Pairs each mapped measurement with its hourly values; a measurement Atlas did not return is absent. */
export function measuredFigures(
  measurements: AtlasMeasurement[],
  mappings: readonly MeasurementMapping[],
): MeasuredFigure[] {
  const figures: MeasuredFigure[] = [];
  for (const mapping of mappings) {
    const found = measurements.find((measurement) => measurement.name === mapping.atlas);
    const values = (found?.dataPoints ?? [])
      .map((point) => point.value)
      .filter((value): value is number => typeof value === "number" && Number.isFinite(value));
    if (values.length) figures.push({ metric: mapping.metric, unit: mapping.unit, values });
  }
  return figures;
}
