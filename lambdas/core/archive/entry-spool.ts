import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveError } from "./events";
import type { TarEntry } from "./tar-reader";

/** Default bound of the bytes kept on disk at once for `.bson` entries met before their metadata. */
export const DEFAULT_MAX_SPOOL_BYTES = 1024 * 1024 * 1024;

/** One tar entry kept on disk exactly as stored (still gzipped when it was): never larger than the archive. */
export interface SpooledEntry {
  file: string;
  size: number;
  gzipped: boolean;
  path: string;
  dir: string;
}

/**
 * The spools of one archive read, under one budget: a `.bson` that comes before its `.metadata.json` is kept
 * until the metadata says how to create the collection. Stored bytes are kept, not decompressed ones, so a
 * small hostile `.bson.gz` cannot fill the disk; the budget bounds the rest.
 */
export class EntrySpools {
  private used = 0;
  private readonly open = new Set<SpooledEntry>();

  constructor(
    private readonly maxBytes = DEFAULT_MAX_SPOOL_BYTES,
    private readonly tempDir = tmpdir(),
  ) {}

  async keep(entry: TarEntry, gzipped: boolean): Promise<SpooledEntry> {
    if (this.used + entry.size > this.maxBytes) {
      throw new ArchiveError(
        `comes before its .metadata.json, so it would be kept on disk until the metadata is read, but it is ` +
          `${formatBytes(entry.size)} and the spool limit is ${formatBytes(this.maxBytes)} ` +
          `(${formatBytes(this.used)} already spooled)`,
        { file: entry.path },
      );
    }
    const dir = await mkdtemp(join(this.tempDir, "atlas-ops-read-")).catch((error: Error) => {
      // Not a problem of the archive: the machine's temp directory (TMPDIR) is missing or read-only.
      throw new Error(
        `${entry.path} comes before its metadata and must be kept on disk, but the temp directory ` +
          `${this.tempDir} is not writable (set TMPDIR to a writable directory): ${error.message}`,
      );
    });
    const spooled: SpooledEntry = {
      file: entry.path,
      size: entry.size,
      gzipped,
      path: join(dir, "entry"),
      dir,
    };
    this.open.add(spooled);
    this.used += entry.size;
    try {
      // pipeline keeps an error listener on the file stream until it is closed: a body cut short while a
      // write is still pending must reject here, not surface later as an unhandled 'error' event.
      await pipeline(entry.body, createWriteStream(spooled.path));
    } catch (error) {
      await this.release(spooled);
      throw error;
    }
    return spooled;
  }

  /** The stored bytes again, removed from disk once read (or abandoned). */
  replay(spooled: SpooledEntry): Readable {
    const stream = createReadStream(spooled.path, { highWaterMark: 1 << 20 });
    stream.once("close", () => void this.release(spooled));
    return stream;
  }

  async release(spooled: SpooledEntry): Promise<void> {
    if (!this.open.delete(spooled)) return;
    this.used -= spooled.size;
    await rm(spooled.dir, { recursive: true, force: true });
  }

  async releaseAll(): Promise<void> {
    for (const spooled of [...this.open]) await this.release(spooled);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024 && bytes % (1024 * 1024 * 1024) === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 * 1024)
    return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  return `${bytes} bytes`;
}
