/**
 * One progress line on a terminal (stderr), redrawn at most four times a second: amounts done, and where the
 * total is known (an archive's manifest, or the archive's size as stored), the percentage and the time left at
 * the rate so far. Quiet when stderr is not a terminal; commands with `--json` do not create one.
 */

/**
 * What a line's bytes count, one measure per line: the documents' data (against a manifest's totals or the
 * databases' size), or the archive's compressed bytes read (against its size as stored: a stock archive has no
 * manifest to give a total of the data).
 */
export type ProgressMeasure = "data" | "archive";

export interface ProgressAmounts {
  /** Bytes of the line's measure. */
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
  measure: ProgressMeasure = "data",
): string {
  const amounts = `${done.documents} documents, ${(done.bytes / MB).toFixed(1)} MB`;
  const note = done.note ? `, ${done.note}` : "";
  if (!totalBytes || totalBytes <= 0) {
    return `${label}: ${amounts}${measure === "archive" ? " of the archive read" : ""}${note}`;
  }
  const fraction = Math.min(1, done.bytes / totalBytes);
  const percent = `${Math.floor(fraction * 100)}%`;
  const left =
    fraction > 0 && fraction < 1 && elapsedMs > 0
      ? `, about ${duration(((elapsedMs / 1000) * (1 - fraction)) / fraction)} left`
      : "";
  const total = `${(totalBytes / MB).toFixed(1)} MB`;
  return measure === "archive"
    ? `${label}: ${percent} of the archive read (${amounts} of ${total} compressed${note})${left}`
    : `${label}: ${percent} (${amounts} of ${total}${note})${left}`;
}

export class ProgressLine {
  private readonly started = Date.now();
  private last = 0;
  private drawn = false;
  private failed = false;
  /** The latest amounts when they were not drawn (the line is redrawn at most four times a second). */
  private undrawn: ProgressAmounts | undefined;

  constructor(
    private readonly label: string,
    private readonly totalBytes?: number,
    private readonly measure: ProgressMeasure = "data",
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
    if (this.drawn) this.write("\n");
  }

  private draw(done: ProgressAmounts, now: number): void {
    this.last = now;
    this.undrawn = undefined;
    // \x1b[K clears what a longer previous line left behind.
    this.write(
      `\r${formatProgress(this.label, done, now - this.started, this.totalBytes, this.measure)}\x1b[K`,
    );
    this.drawn = true;
  }

  /**
   * The line is drawn from inside the backup, verify or restore: a terminal that cannot take it must not fail
   * the work, so the line goes quiet instead.
   */
  private write(text: string): void {
    if (this.failed) return;
    try {
      this.out.write(text);
    } catch {
      this.failed = true;
    }
  }
}

/** How far a read of an archive is (a verify, a restore). */
export interface ArchiveReadAmounts {
  documents: number;
  /** The documents' data. */
  bytes: number;
  collections: number;
  /** Compressed bytes read, from the start of the archive, and the archive's size as stored. */
  archiveBytesRead: number;
  archiveBytes?: number;
}

/**
 * The line of a read of an archive, with one measure chosen at the first amounts: given `dataTotal` (a
 * manifest's totals), the documents' data against it; without (a stock archive), the compressed bytes read
 * against the archive's size.
 */
export class ArchiveReadLine {
  private line: ProgressLine | undefined;

  constructor(private readonly label: string) {}

  update(amounts: ArchiveReadAmounts, dataTotal?: number): void {
    this.line ??=
      dataTotal === undefined
        ? new ProgressLine(this.label, amounts.archiveBytes, "archive")
        : new ProgressLine(this.label, dataTotal);
    const bytes = dataTotal === undefined ? amounts.archiveBytesRead : amounts.bytes;
    this.line.update({
      documents: amounts.documents,
      bytes,
      note: `${amounts.collections} collections done`,
    });
  }

  end(): void {
    this.line?.end();
  }
}
