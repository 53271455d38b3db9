import { Header, Pax } from "tar";

/**
 * Tar framing for the writer. The `tar` package encodes headers (ustar fields, checksum, pax for long names);
 * we write the frames ourselves because its Pack reads entries from the file system, and ours come from
 * memory, spool files and streams whose size is known only when the collection has been read.
 */

export const BLOCK = 512;

function header(path: string, size: number, mtime: Date, type: "File" | "Directory"): Buffer {
  const data = { path, size, mtime, type, mode: type === "File" ? 0o644 : 0o755, uid: 0, gid: 0 };
  const block = Buffer.alloc(BLOCK);
  const needPax = new Header(data).encode(block, 0);
  if (!needPax) return block;
  // Paths longer than ustar can hold go in a pax extended header before the entry.
  const pax = new Pax({ path, mtime, size }).encode();
  const short = Buffer.alloc(BLOCK);
  new Header({ ...data, path: path.slice(-99) }).encode(short, 0);
  return Buffer.concat([pax, short]);
}

export function fileHeader(path: string, size: number, mtime: Date): Buffer {
  return header(path, size, mtime, "File");
}

export function directoryHeader(path: string, mtime: Date): Buffer {
  return header(path.endsWith("/") ? path : `${path}/`, 0, mtime, "Directory");
}

/** Zero bytes that round an entry's data up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** Two zero blocks end a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
