import { availableParallelism } from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { gzip as gzipCallback, constants } from "node:zlib";

const gzip = promisify(gzipCallback);

export interface ParallelGzipOptions {
  /** Uncompressed bytes per gzip member (default 1 MiB; a write's last member takes up to twice that). */
  chunkBytes?: number;
  /** Members compressed at once on libuv's thread pool (default: cores + 2, so no core waits for work). */
  concurrency?: number;
  /** zlib level (default 6, as gzip and mongodump use). */
  level?: number;
}

/**
 * Gzip on every core: the input is cut into chunks, each compressed as its own gzip member by zlib's async API
 * (which runs on the thread pool), several in flight, emitted in input order. A sequence of gzip members is a
 * valid gzip file (RFC 1952), read by gunzip, `tar -xz` and Node's zlib alike.
 */
export class ParallelGzip extends Transform {
  private readonly chunkBytes: number;
  private readonly concurrency: number;
  private readonly level: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlight: Promise<Buffer>[] = [];

  constructor(options: ParallelGzipOptions = {}) {
    super();
    this.chunkBytes = options.chunkBytes ?? 1024 * 1024;
    this.concurrency = options.concurrency ?? availableParallelism() + 2;
    this.level = options.level ?? constants.Z_DEFAULT_COMPRESSION;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainFullChunks().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.pendingBytes > 0) this.startChunk(this.takePending());
    this.emitAll().then(() => callback(), callback);
  }

  private async drainFullChunks(): Promise<void> {
    while (this.pendingBytes >= this.chunkBytes) {
      const all = this.takePending();
      // Members of chunkBytes, the last one taking the rest (less than two chunks): nothing is left pending,
      // so no byte is copied a second time into the next member.
      let offset = 0;
      for (; all.length - offset >= 2 * this.chunkBytes; offset += this.chunkBytes) {
        this.startChunk(all.subarray(offset, offset + this.chunkBytes));
        await this.bound();
      }
      this.startChunk(offset === 0 ? all : all.subarray(offset));
      await this.bound();
    }
  }

  /** Bounded memory: waits for the oldest members before more than `concurrency` are in flight. */
  private async bound(): Promise<void> {
    while (this.inFlight.length >= this.concurrency) this.push(await this.inFlight.shift()!);
  }

  private takePending(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private startChunk(chunk: Buffer): void {
    const member = gzip(chunk, { level: this.level });
    member.catch(() => undefined); // awaited in order later; avoid an unhandled rejection meanwhile
    this.inFlight.push(member);
  }

  private async emitAll(): Promise<void> {
    while (this.inFlight.length > 0) this.push(await this.inFlight.shift()!);
  }
}
