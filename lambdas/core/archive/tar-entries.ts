import { Header, Pax } from "tar";

/**
 * Tar framing for the writer. The `tar` package encodes headers (ustar fields, checksum, pax for long names);
 * we write the frames ourselves because its Pack reads entries from the file system, and ours come from
 * memory and from cursors whose size is known only when the collection has been read.
 */

export const BLOCK = 512;

type EntryType = "File" | "Directory";

function fields(path: string, size: number, mtime: Date, type: EntryType) {
  return { path, size, mtime, type, mode: type === "File" ? 0o644 : 0o755, uid: 0, gid: 0 };
}

/**
 * Whether the path needs a pax extended header. It depends on the path alone: a size beyond ustar's octal
 * field (8 GiB) is written base-256 in the ustar header (GNU tar, bsdtar and Go's archive/tar read it), so a
 * header's length is known before the entry's size is.
 */
function needsPax(path: string, mtime: Date, type: EntryType): boolean {
  return new Header(fields(path, 0, mtime, type)).encode(Buffer.alloc(BLOCK), 0);
}

function header(path: string, size: number, mtime: Date, type: EntryType): Buffer {
  const block = Buffer.alloc(BLOCK);
  new Header(fields(path, size, mtime, type)).encode(block, 0);
  if (!needsPax(path, mtime, type)) return block;
  // Paths longer than ustar can hold go in a pax extended header before the entry.
  const pax = new Pax({ path, mtime }).encode();
  const short = Buffer.alloc(BLOCK);
  new Header({ ...fields(path, size, mtime, type), path: path.slice(-99) }).encode(short, 0);
  return Buffer.concat([pax, short]);
}

export function fileHeader(path: string, size: number, mtime: Date): Buffer {
  return header(path, size, mtime, "File");
}

/** The length of a file entry's header, whatever its size turns out to be. */
export function fileHeaderLength(path: string, mtime: Date): number {
  return fileHeader(path, 0, mtime).length;
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
