import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveError } from "./events";
import type { TarEntry } from "./tar-reader";

/** Default bound of the bytes kept at once (disk and memory) for `.bson` entries met before their metadata. */
export const DEFAULT_MAX_SPOOL_BYTES = 1024 * 1024 * 1024;
/**
 * Entries up to this size are kept in memory, while the memory spools stay under MEMORY_SPOOL_BYTES: a dump of
 * thousands of small collections without metadata files would otherwise cost a temp directory each.
 */
export const MEMORY_SPOOL_ENTRY_BYTES = 64 * 1024;
export const MEMORY_SPOOL_BYTES = 16 * 1024 * 1024;

/**
 * One tar entry kept exactly as stored (still gzipped when it was): never larger than the archive. Small ones
 * are kept in memory (`chunks`; none for an empty entry), the others on disk (`dir`/entry).
 */
export interface SpooledEntry {
  file: string;
  size: number;
  gzipped: boolean;
  kept: { in: "memory"; chunks: Buffer[] } | { in: "disk"; dir: string; path: string };
}

/**
 * The spools of one archive read, under one budget: a `.bson` that comes before its `.metadata.json` is kept
 * until the metadata says how to create the collection. Stored bytes are kept, not decompressed ones, so a
 * small hostile `.bson.gz` cannot fill the disk; the budget bounds the rest.
 */
export class EntrySpools {
  private used = 0;
  private inMemory = 0;
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
    if (entry.size <= MEMORY_SPOOL_ENTRY_BYTES && this.inMemory + entry.size <= MEMORY_SPOOL_BYTES) {
      return this.keepInMemory(entry, gzipped);
    }
    const dir = await mkdtemp(join(this.tempDir, "atlas-ops-read-")).catch((error: Error) => {
      // Not a problem of the archive: the machine's temp directory (TMPDIR) is missing or read-only.
      throw new Error(
        `${entry.path} comes before its metadata and must be kept on disk, but the temp directory ` +
          `${this.tempDir} is not writable (set TMPDIR to a writable directory): ${error.message}`,
      );
    });
    const path = join(dir, "entry");
    const spooled: SpooledEntry = {
      file: entry.path,
      size: entry.size,
      gzipped,
      kept: { in: "disk", dir, path },
    };
    this.open.add(spooled);
    this.used += entry.size;
    try {
      // pipeline keeps an error listener on the file stream until it is closed: a body cut short while a
      // write is still pending must reject here, not surface later as an unhandled 'error' event.
      await pipeline(entry.body, createWriteStream(path));
    } catch (error) {
      await this.release(spooled);
      throw error;
    }
    return spooled;
  }

  private async keepInMemory(entry: TarEntry, gzipped: boolean): Promise<SpooledEntry> {
    const chunks: Buffer[] = [];
    const spooled: SpooledEntry = {
      file: entry.path,
      size: entry.size,
      gzipped,
      kept: { in: "memory", chunks },
    };
    this.open.add(spooled);
    this.used += entry.size;
    this.inMemory += entry.size;
    try {
      // The body is read to its end even when empty: the tar reader moves on to the next entry after it.
      for await (const chunk of entry.body) chunks.push(chunk);
    } catch (error) {
      await this.release(spooled);
      throw error;
    }
    return spooled;
  }

  /** The stored bytes again, removed from disk once read (or abandoned). */
  replay(spooled: SpooledEntry): Readable {
    const stream =
      spooled.kept.in === "memory"
        ? Readable.from(spooled.kept.chunks)
        : createReadStream(spooled.kept.path, { highWaterMark: 1 << 20 });
    stream.once("close", () => void this.release(spooled));
    return stream;
  }

  async release(spooled: SpooledEntry): Promise<void> {
    if (!this.open.delete(spooled)) return;
    this.used -= spooled.size;
    if (spooled.kept.in === "memory") {
      this.inMemory -= spooled.size;
      spooled.kept.chunks.length = 0;
    } else await rm(spooled.kept.dir, { recursive: true, force: true });
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
