import { createHash } from "node:crypto";
import { ByteReader } from "./byte-reader";
import { documentRuns, type RunLimits } from "./bson-stream";
import type { CheckpointTrack } from "./checkpoints";
import { ArchiveError, type ArchiveEvent, type FileSegment } from "./events";
import { segmentChanged } from "./manifest-check";

/** Where in a .bson the read starts: its beginning, or the segment a resumed read starts at. */
export interface SegmentStart {
  segment: number;
  /** Bytes and documents of the file before that segment. */
  offset: number;
  documents: number;
}

export interface SegmentedFile {
  db: string;
  collection: string;
  file: string;
  /** The file's segments as the sidecar lists them (one, of its whole `sha256`, for a file without segments). */
  segments: readonly FileSegment[];
  /** Offset in the tar of the file's first byte. */
  dataOffset: number;
}

/**
 * A .bson of ours read against its sidecar: its byte stream is cut where the manifest's segments end (their
 * sums, known before reading) and each piece's SHA-256 and document count are checked as it ends, so a
 * mismatch names the segment and the check costs one hash over the bytes, as for a file of one segment. At
 * each segment start, the checkpoint there (if any) is met. Returns the file's document count.
 */
export async function* segmentedDocuments(
  body: AsyncIterable<Buffer>,
  file: SegmentedFile,
  start: SegmentStart,
  limits: RunLimits,
  track: CheckpointTrack,
): AsyncGenerator<ArchiveEvent, number> {
  const stored = new ByteReader(body);
  const count = file.segments.length;
  const where = { file: file.file };
  let offset = start.offset;
  let documents = start.documents;
  for (let index = start.segment; index < count; index += 1) {
    const segment = file.segments[index]!;
    // A resumed read's own checkpoint is behind the track already: only the ones after it are met.
    const reached = track.atSegment(file.dataOffset + offset, file.file, index);
    if (reached) yield reached;
    const hash = createHash("sha256");
    const piece = new ByteReader(hashedPiece(stored, segment.bytes, hash));
    let read = 0;
    try {
      for await (const run of documentRuns(piece, where, limits, false, documents)) {
        read += run.count;
        yield { type: "documents", db: file.db, collection: file.collection, documents: run };
      }
    } catch (error) {
      if (count > 1 && error instanceof ArchiveError && error.file === file.file) {
        throw new ArchiveError(`segment ${index} (of ${count}): ${error.reason}`, where);
      }
      throw error;
    }
    if (piece.position !== segment.bytes) {
      throw new ArchiveError(`ends after ${offset + piece.position} bytes, inside segment ${index}`, where);
    }
    if (hash.digest("hex") !== segment.sha256) throw segmentChanged(file.file, index, count);
    if (read !== segment.documents) {
      throw new ArchiveError(
        `segment ${index} (of ${count}) holds ${read} documents, the manifest says ${segment.documents}`,
        where,
      );
    }
    offset += segment.bytes;
    documents += read;
  }
  if (!(await stored.atEnd()))
    throw new ArchiveError(`is more than the ${offset} bytes the manifest says`, where);
  return documents;
}

/** The next `bytes` bytes of `stored` (fewer when it ends first), hashed as they pass. */
async function* hashedPiece(
  stored: ByteReader,
  bytes: number,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Buffer> {
  let left = bytes;
  while (left > 0) {
    const chunk = await stored.readSome(Math.min(left, 1 << 20));
    if (!chunk) return;
    left -= chunk.length;
    hash.update(chunk);
    yield chunk;
  }
}
