import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { directoryHeader, END_OF_ARCHIVE, fileHeader, padding } from "../archive/tar-entries";

/** Writes tar entries to a stream, honouring backpressure; entries are written one after the other. */
export class TarWriter {
  private readonly createdDirectories = new Set<string>();

  constructor(
    private readonly out: Writable,
    private readonly mtime: Date,
  ) {}

  async directory(path: string): Promise<void> {
    if (this.createdDirectories.has(path)) return;
    this.createdDirectories.add(path);
    await this.write(directoryHeader(path, this.mtime));
  }

  async file(path: string, content: Buffer | Buffer[] | Readable, size: number): Promise<void> {
    await this.write(fileHeader(path, size, this.mtime));
    let written = 0;
    if (Buffer.isBuffer(content)) {
      // Slices keep each write small so the compressor's backpressure is felt.
      for (let at = 0; at < content.length; at += 1024 * 1024) {
        await this.write(content.subarray(at, at + 1024 * 1024));
      }
      written = content.length;
    } else if (Array.isArray(content)) {
      // Many small documents: gathered into ~1 MiB writes.
      let group: Buffer[] = [];
      let groupBytes = 0;
      for (const part of content) {
        group.push(part);
        groupBytes += part.length;
        if (groupBytes >= 1024 * 1024) {
          await this.write(Buffer.concat(group, groupBytes));
          written += groupBytes;
          group = [];
          groupBytes = 0;
        }
      }
      await this.write(Buffer.concat(group, groupBytes));
      written += groupBytes;
    } else {
      for await (const chunk of content as AsyncIterable<Buffer>) {
        written += chunk.length;
        await this.write(chunk);
      }
    }
    if (written !== size) throw new Error(`${path}: wrote ${written} bytes, expected ${size}`);
    await this.write(padding(size));
  }

  async end(): Promise<void> {
    await this.write(END_OF_ARCHIVE);
    this.out.end();
  }

  private async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    if (this.out.destroyed) throw this.out.errored ?? new Error("archive stream closed");
    if (!this.out.write(chunk)) {
      await Promise.race([
        once(this.out, "drain"),
        once(this.out, "close").then(() => {
          throw this.out.errored ?? new Error("archive stream closed");
        }),
      ]);
    }
  }
}
