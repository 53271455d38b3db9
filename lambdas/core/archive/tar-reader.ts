import { Header, Pax, type HeaderData } from "tar";
import { ByteReader } from "./byte-reader";
import { ArchiveError } from "./events";
import { BLOCK } from "./tar-entries";

/**
 * Streaming tar walk. The `tar` package decodes each header (ustar, checksum, pax); the walk is ours because its
 * Parser pushes entries as events, while the archive reader pulls them one at a time with bounded memory.
 * Links, devices, FIFOs, absolute paths and `..` are refused before any of the entry's data is read.
 */
export interface TarEntry {
  path: string;
  size: number;
  /** The entry's data; must be consumed (or left: the walk skips the rest) before the next entry. */
  body: AsyncIterable<Buffer>;
  /** Offset in the tar of the entry's first header block (pax or long-name headers included). */
  headerOffset: number;
  /** Offset in the tar of the entry's first data byte. */
  dataOffset: number;
  /** Set on the first entry of a walk resumed inside it: this many bytes of its data came before. */
  resumedAt?: number;
}

/** Where a walk starts when it does not start at the tar's first byte (a read resumed at a checkpoint). */
export interface TarStart {
  /** Offset in the tar of the reader's first byte. */
  tarOffset: number;
  /** The reader starts inside this file's data, `offset` bytes into it. */
  inside?: { path: string; size: number; offset: number };
}

const MAX_METADATA_ENTRY = 1024 * 1024;

export async function* tarEntries(
  reader: ByteReader,
  start?: TarStart,
  /** Told the offset of every header as it is met (directories and the end marker too). */
  onHeader?: (offset: number) => void,
): AsyncGenerator<TarEntry> {
  const base = (start?.tarOffset ?? 0) - reader.position;
  let extended: HeaderData | undefined;
  let global: HeaderData | undefined;
  let longPath: string | undefined;
  if (start?.inside) {
    const { path, size, offset } = start.inside;
    const dataOffset = base + reader.position - offset;
    yield* fileData(reader, { path, size, headerOffset: -1, dataOffset }, offset, true);
  }
  // Where the entry being read began: its pax or long-name headers come first.
  let headerOffset: number | undefined;
  for (;;) {
    if (headerOffset === undefined) {
      headerOffset = base + reader.position;
      onHeader?.(headerOffset);
    }
    const block = await reader.read(BLOCK);
    if (!block) throw new ArchiveError("archive is truncated: the tar end marker is missing");
    if (block.every((byte) => byte === 0)) return;
    const header = new Header(block, 0, extended, global);
    const path = longPath ?? header.path ?? "";
    if (!header.cksumValid)
      throw new ArchiveError("tar header checksum mismatch (corrupted archive)", { file: path });
    const size = header.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0)
      throw new ArchiveError(`invalid entry size ${size}`, { file: path });
    extended = undefined;
    longPath = undefined;
    switch (header.type) {
      case "ExtendedHeader":
      case "GlobalExtendedHeader":
      case "NextFileHasLongPath":
      case "OldGnuLongPath": {
        if (size > MAX_METADATA_ENTRY) throw new ArchiveError(`tar ${header.type} entry of ${size} bytes`);
        const body = await readPadded(reader, size, path);
        const text = body.toString("utf8");
        if (header.type === "ExtendedHeader") extended = Pax.parse(text, undefined, false);
        else if (header.type === "GlobalExtendedHeader") global = Pax.parse(text, global, true);
        else longPath = text.replace(/\0+$/, "");
        continue;
      }
      case "NextFileHasLongLinkpath":
        await readPadded(reader, size, path);
        continue;
      case "Directory":
        checkPath(path);
        await readPadded(reader, size, path);
        headerOffset = undefined;
        continue;
      case "File":
      case "OldFile":
      case "ContiguousFile": {
        checkPath(path);
        const entry = { path, size, headerOffset, dataOffset: base + reader.position };
        headerOffset = undefined;
        yield* fileData(reader, entry, 0, false);
        continue;
      }
      default:
        throw new ArchiveError(
          `entry type ${header.type} is not allowed in a backup (only files and directories)`,
          { file: path },
        );
    }
  }
}

/** One file entry from `from` bytes into its data: the entry, then whatever the consumer left and the padding. */
async function* fileData(
  reader: ByteReader,
  entry: Omit<TarEntry, "body">,
  from: number,
  resumed: boolean,
): AsyncGenerator<TarEntry> {
  const { path, size } = entry;
  let remaining = size - from;
  const body = (async function* () {
    while (remaining > 0) {
      const chunk = await reader.readSome(Math.min(remaining, 1024 * 1024));
      if (!chunk) throw new ArchiveError("archive is truncated inside this entry", { file: path });
      remaining -= chunk.length;
      yield chunk;
    }
  })();
  yield { ...entry, body, ...(resumed ? { resumedAt: from } : {}) };
  // Whatever the consumer left unread is skipped, then the block padding.
  while (remaining > 0) {
    const chunk = await reader.readSome(Math.min(remaining, 1024 * 1024));
    if (!chunk) throw new ArchiveError("archive is truncated inside this entry", { file: path });
    remaining -= chunk.length;
  }
  if (size % BLOCK !== 0 && !(await reader.read(BLOCK - (size % BLOCK)))) {
    throw new ArchiveError("archive is truncated after this entry", { file: path });
  }
}

async function readPadded(reader: ByteReader, size: number, path: string): Promise<Buffer> {
  const padded = Math.ceil(size / BLOCK) * BLOCK;
  const data = padded === 0 ? Buffer.alloc(0) : await reader.read(padded);
  if (!data) throw new ArchiveError("archive is truncated inside this entry", { file: path });
  return data.subarray(0, size);
}

/** Entry names must stay inside the extraction directory. */
export function checkPath(path: string): void {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\")) {
    throw new ArchiveError("absolute path in archive", { file: path });
  }
  if (path.split(/[\\/]/).includes("..")) throw new ArchiveError('".." in archive path', { file: path });
  if (path.includes("\0")) throw new ArchiveError("NUL byte in archive path", { file: path });
}
