import { Header } from "tar";

/** A crafted tar entry: what the tests of hostile and odd archives put in one. */
export interface CraftedEntry {
  path: string;
  type?: string;
  data?: Buffer;
  linkpath?: string;
}

/** An uncompressed tar of the entries, in order, with the two zero blocks that end it. */
export function tarOf(entries: CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const block = Buffer.alloc(512);
    const data = entry.data ?? Buffer.alloc(0);
    new Header({
      path: entry.path,
      type: (entry.type ?? "File") as never,
      size: data.length,
      mode: 0o644,
      mtime: new Date(0),
      linkpath: entry.linkpath,
    }).encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** A buffer as a stream of 64 KiB chunks, the way a file or S3 body arrives. */
export async function* chunks(buffer: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < buffer.length; at += 64 * 1024) yield buffer.subarray(at, at + 64 * 1024);
}
