import { execFile } from "node:child_process";
import { promisify } from "node:util";

/** One child process measured by /usr/bin/time -v: the kernel's peak RSS and CPU, including its children. */
export interface Measurement {
  wallS: number;
  /** User + system CPU seconds. */
  cpuS: number;
  peakRssMb: number;
  stdout: string;
}

const run = promisify(execFile);

export async function measure(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const { stdout, stderr } = await run("/usr/bin/time", ["-v", command, ...args], {
    cwd,
    env,
    maxBuffer: 64 << 20,
  }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`${command} ${args.join(" ")} failed: ${error.stderr?.slice(-2000) ?? error.message}`);
  });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const field = (name: string): number => {
    const match = new RegExp(`${name.replace(/[()]/g, "\\$&")}: ([0-9.]+)`).exec(stderr);
    if (!match) throw new Error(`no "${name}" in /usr/bin/time output of ${command}`);
    return Number(match[1]);
  };
  return {
    wallS,
    cpuS: field("User time (seconds)") + field("System time (seconds)"),
    peakRssMb: field("Maximum resident set size (kbytes)") / 1024,
    stdout,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A tool as the bench runs it: `run(i)` does run number i and returns its measurement. */
export interface BenchTool {
  name: string;
  run(index: number): Promise<Measurement>;
  /** Called after each run, outside the timing (checks the result, cleans up). */
  after?(index: number, result: Measurement): Promise<void>;
}

export interface ToolFigures {
  name: string;
  runs: Measurement[];
  wallS: number;
  cpuS: number;
  peakRssMb: number;
}

/**
 * Runs the tools interleaved, A B A B ..., `runs` times each, so a machine whose load drifts moves every tool
 * alike; returns the medians of each.
 */
export async function interleaved(tools: BenchTool[], runs: number): Promise<ToolFigures[]> {
  const results = tools.map(() => [] as Measurement[]);
  for (let index = 0; index < runs; index += 1) {
    for (const [t, tool] of tools.entries()) {
      const result = await tool.run(index);
      await tool.after?.(index, result);
      results[t]!.push(result);
      process.stderr.write(
        `  ${tool.name} run ${index + 1}/${runs}: ${result.wallS.toFixed(2)} s, ${result.cpuS.toFixed(2)} s CPU, ` +
          `${result.peakRssMb.toFixed(0)} MB\n`,
      );
    }
  }
  return tools.map((tool, t) => ({
    name: tool.name,
    runs: results[t]!,
    wallS: median(results[t]!.map((r) => r.wallS)),
    cpuS: median(results[t]!.map((r) => r.cpuS)),
    peakRssMb: median(results[t]!.map((r) => r.peakRssMb)),
  }));
}
