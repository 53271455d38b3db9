/**
 * One progress line on a terminal (stderr), redrawn at most four times a second: amounts done, and where the
 * total is known (an archive's manifest), the percentage and the time left at the rate so far. Quiet when
 * stderr is not a terminal; commands with `--json` do not create one.
 */
export interface ProgressAmounts {
  bytes: number;
  documents: number;
  /** Free text after the amounts, e.g. "2 collections done". */
  note?: string;
}

const MB = 1024 * 1024;

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The line's text; `totalBytes` undefined when the total is not known. */
export function formatProgress(
  label: string,
  done: ProgressAmounts,
  elapsedMs: number,
  totalBytes?: number,
): string {
  const amounts = `${done.documents} documents, ${(done.bytes / MB).toFixed(1)} MB`;
  const note = done.note ? `, ${done.note}` : "";
  if (!totalBytes || totalBytes <= 0) return `${label}: ${amounts}${note}`;
  const fraction = Math.min(1, done.bytes / totalBytes);
  const percent = `${Math.floor(fraction * 100)}%`;
  const left =
    fraction > 0 && fraction < 1 && elapsedMs > 0
      ? `, about ${duration(((elapsedMs / 1000) * (1 - fraction)) / fraction)} left`
      : "";
  return `${label}: ${percent} (${amounts} of ${(totalBytes / MB).toFixed(1)} MB${note})${left}`;
}

export class ProgressLine {
  private readonly started = Date.now();
  private last = 0;
  private drawn = false;
  /** The latest amounts when they were not drawn (the line is redrawn at most four times a second). */
  private undrawn: ProgressAmounts | undefined;

  constructor(
    private readonly label: string,
    private readonly totalBytes?: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: ProgressAmounts): void {
    const now = Date.now();
    if (now - this.last < 250) {
      this.undrawn = done;
      return;
    }
    this.draw(done, now);
  }

  /** Draws the last amounts (the line ends as the work ended) and ends the line. */
  end(): void {
    if (this.undrawn) this.draw(this.undrawn, Date.now());
    if (this.drawn) this.out.write("\n");
  }

  private draw(done: ProgressAmounts, now: number): void {
    this.last = now;
    this.drawn = true;
    this.undrawn = undefined;
    // \x1b[K clears what a longer previous line left behind.
    this.out.write(`\r${formatProgress(this.label, done, now - this.started, this.totalBytes)}\x1b[K`);
  }
}
