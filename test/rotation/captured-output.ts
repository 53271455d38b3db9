/** Everything the code under test writes to stdout/stderr (Powertools logs and EMF metrics), kept in memory. */
export interface CapturedOutput {
  text(): string;
  /** Parsed JSON lines (log records and EMF documents). */
  records(): Array<Record<string, unknown>>;
  stop(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  return {
    text: () => chunks.join(""),
    records: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/** Values of `metric` in the captured EMF documents that carry a SecretName dimension (one per secret). */
export function metricValues(
  output: CapturedOutput,
  metric: string,
): Array<{ secretName: unknown; value: unknown }> {
  return emf(output, metric)
    .filter((record) => "SecretName" in record)
    .map((record) => ({ secretName: record.SecretName, value: record[metric] }));
}

/** Values of `metric` emitted without SecretName: the per-function aggregate the alarms watch. */
export function aggregateValues(output: CapturedOutput, metric: string): unknown[] {
  return emf(output, metric)
    .filter((record) => !("SecretName" in record))
    .map((record) => record[metric]);
}

function emf(output: CapturedOutput, metric: string): Array<Record<string, unknown>> {
  return output.records().filter((record) => metric in record && "_aws" in record);
}
