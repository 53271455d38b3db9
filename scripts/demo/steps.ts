/**
 * The drill's progress: numbered steps with one short result line each. A step that fails stops the drill
 * with its number, its title and the reason.
 */
export class StepFailed extends Error {
  constructor(
    readonly step: number,
    readonly title: string,
    readonly reason: string,
  ) {
    super(`step ${step} (${title}) failed: ${reason}`);
    this.name = "StepFailed";
  }
}

export class Steps {
  private count = 0;

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  /** Runs `work`, which returns the result line (one line, or several: the first is the step's). */
  async run(title: string, work: () => Promise<string | string[]>): Promise<void> {
    const step = ++this.count;
    const started = Date.now();
    let lines: string[];
    try {
      const result = await work();
      lines = Array.isArray(result) ? result : [result];
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.write(`${String(step).padStart(2)}. ${title}: FAILED: ${reason}`);
      throw new StepFailed(step, title, reason);
    }
    const [first = "done", ...rest] = lines;
    this.write(`${String(step).padStart(2)}. ${title}: ${first} (${seconds(Date.now() - started)})`);
    for (const line of rest) this.write(`      ${line}`);
  }
}

/** A condition the drill proves; false stops the step with `message`. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

export function kilobytes(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${count(Math.round(bytes / 1024))} kB`
    : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
