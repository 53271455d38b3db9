import { once } from "node:events";
import { gzipSync } from "node:zlib";
import { ParallelGzip, type ParallelGzipOptions } from "../archive/parallel-gzip";
import {
  directoryHeader,
  END_OF_ARCHIVE,
  fileHeader,
  fileHeaderLength,
  padding,
} from "../archive/tar-entries";
import type { ArchiveHole, ArchiveUpload } from "../targets/target";

const GROUP_BYTES = 1024 * 1024;

/**
 * A gzip member holding `bytes` in stored (uncompressed) deflate blocks. Its length depends only on the
 * length of `bytes`, so a tar header gets room in the compressed stream before its content is known.
 */
export function storedMember(bytes: Buffer): Buffer {
  return gzipSync(bytes, { level: 0 });
}

export function storedMemberLength(length: number): number {
  return storedMember(Buffer.alloc(length)).length;
}

/** A tar entry being written whose size is known only at its end. */
export interface OpenEntry {
  /** Appends data (many small buffers are gathered into ~1 MiB writes). */
  write(parts: Buffer[]): Promise<void>;
  /** Ends the entry and fills in its header; returns its size. */
  close(): Promise<number>;
  /** What a later invocation needs to go on writing this entry (see `TarWriter.resumeFile`). */
  state(): OpenEntryState;
}

export interface OpenEntryState {
  path: string;
  hole: ArchiveHole;
  headerLength: number;
  size: number;
}

/** What a later invocation needs to go on with the tar. */
export interface TarState {
  directories: string[];
  tarOffset: number;
}

/** A place where a gzip member starts, and the tar bytes before it. */
export interface MemberBoundary {
  archiveOffset: number;
  tarOffset: number;
}

/**
 * Writes tar entries, compressed as gzip members on every core, to an archive upload, one entry after the
 * other, honouring backpressure. An entry of unknown size ends the current members, gets its header as a
 * stored member of fixed length in a hole of the upload, and its data starts new members: the tar bytes are
 * exactly those of an entry written with its size known, and the gzip stream stays a sequence of members.
 */
export class TarWriter {
  private readonly createdDirectories: Set<string>;
  private gzip!: ParallelGzip;
  private stored!: Promise<void>;
  private failure: unknown;
  private tarOffset: number;

  constructor(
    private readonly upload: ArchiveUpload,
    private readonly mtime: Date,
    private readonly gzipOptions?: ParallelGzipOptions,
    resume?: TarState,
  ) {
    this.createdDirectories = new Set(resume?.directories);
    this.tarOffset = resume?.tarOffset ?? 0;
    this.startMembers();
  }

  /** Tar bytes written so far. */
  get offset(): number {
    return this.tarOffset;
  }

  /** Ends the gzip members here, so that reading can start afresh at this point of the archive. */
  async boundary(): Promise<MemberBoundary> {
    await this.endMembers();
    const point = { archiveOffset: this.upload.size(), tarOffset: this.tarOffset };
    this.startMembers();
    return point;
  }

  /** The first failure to compress or store the archive (any later write reports it too). */
  get storeFailure(): unknown {
    return this.failure;
  }

  async directory(path: string): Promise<void> {
    if (this.createdDirectories.has(path)) return;
    this.createdDirectories.add(path);
    await this.write(directoryHeader(path, this.mtime));
  }

  async file(path: string, content: Buffer | Buffer[], size: number): Promise<void> {
    await this.write(fileHeader(path, size, this.mtime));
    const written = await this.writeGrouped(Buffer.isBuffer(content) ? [content] : content);
    if (written !== size) throw new Error(`${path}: wrote ${written} bytes, expected ${size}`);
    await this.write(padding(size));
  }

  async openFile(path: string): Promise<OpenEntry> {
    const headerLength = fileHeaderLength(path, this.mtime);
    await this.endMembers();
    const hole = await this.upload.reserve(storedMemberLength(headerLength));
    this.tarOffset += headerLength;
    this.startMembers();
    return this.resumeFile({ path, hole, headerLength, size: 0 });
  }

  /** An entry opened by an earlier invocation, whose header hole is still to be filled. */
  resumeFile(entry: OpenEntryState): OpenEntry {
    const { path, hole, headerLength } = entry;
    let size = entry.size;
    return {
      write: async (parts) => {
        size += await this.writeGrouped(parts);
      },
      close: async () => {
        await this.write(padding(size));
        const header = fileHeader(path, size, this.mtime);
        if (header.length !== headerLength) throw new Error(`${path}: header length changed with its size`);
        await this.upload.fill(hole, storedMember(header));
        return size;
      },
      state: () => ({ path, hole, headerLength, size }),
    };
  }

  /** Only right after `boundary()`: ends the (empty) members begun there and returns the state to go on from. */
  async suspend(): Promise<TarState> {
    await this.endMembers();
    return { directories: [...this.createdDirectories], tarOffset: this.tarOffset };
  }

  /** Ends the archive; every byte has then been handed to the upload. */
  async end(): Promise<void> {
    await this.write(END_OF_ARCHIVE);
    await this.endMembers();
  }

  /** Stops compressing after a failure: nothing more reaches the upload. */
  destroy(): void {
    this.gzip.destroy();
  }

  private startMembers(): void {
    const gzip = new ParallelGzip(this.gzipOptions);
    this.gzip = gzip;
    this.stored = (async () => {
      for await (const member of gzip) await this.upload.write(member as Buffer);
    })();
    this.stored.catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  private async endMembers(): Promise<void> {
    this.gzip.end();
    await this.stored.catch(() => undefined);
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Writes the parts in writes of about 1 MiB (under 2 MiB), so that each is small and the backpressure is
   * felt: small parts are gathered into one write (a copy), larger ones are written as they are or cut into
   * views (no copy).
   */
  private async writeGrouped(parts: Buffer[]): Promise<number> {
    let total = 0;
    let group: Buffer[] = [];
    let groupBytes = 0;
    const flush = async (): Promise<void> => {
      if (groupBytes === 0) return;
      await this.write(group.length === 1 ? group[0]! : Buffer.concat(group, groupBytes));
      group = [];
      groupBytes = 0;
    };
    for (const part of parts) {
      total += part.length;
      if (part.length < GROUP_BYTES / 2) {
        group.push(part);
        groupBytes += part.length;
        if (groupBytes >= GROUP_BYTES) await flush();
        continue;
      }
      await flush();
      let at = 0;
      for (; part.length - at >= 2 * GROUP_BYTES; at += GROUP_BYTES) {
        await this.write(part.subarray(at, at + GROUP_BYTES));
      }
      await this.write(at === 0 ? part : part.subarray(at));
    }
    await flush();
    return total;
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0) return;
    this.tarOffset += chunk.length;
    if (!this.gzip.write(chunk)) {
      // One listener per wait, removed when it resolves: waits never pile up on the stream.
      await Promise.race([once(this.gzip, "drain"), this.stored]).catch((error: unknown) => {
        this.failure ??= error;
      });
      if (this.failure !== undefined) throw this.failure;
    }
  }
}
