import { BSON, type Document } from "./bson";
import { ByteReader } from "./byte-reader";
import { documentRuns, type RunLimits } from "./bson-stream";
import { checkDocument } from "./bson-walk";
import { Crc64 } from "./crc64";
import { ArchiveError, type ArchiveEvent, type SkippedContent } from "./events";
import { decodeMetadata } from "./metadata";

/** Little-endian 0x8199e26d, the first bytes of a `mongodump --archive` stream (mongo-tools archive spec). */
export const ARCHIVE_MAGIC = Buffer.from([0x6d, 0xe2, 0x99, 0x81]);
const TERMINATOR = -1;
/** `mongodump --archive --oplog` carries the oplog as the namespace with no database and collection "oplog". */
const OPLOG_NAMESPACE = ".oplog";

export function oplogSkipped(entries: number): string {
  return (
    `the oplog of a mongodump --oplog (${entries} entries): not a collection; mongorestore replays it only ` +
    "with --oplogReplay, which atlas-ops does not do (use the stock mongorestore --oplogReplay if you need it)"
  );
}

/**
 * Reads the mongodump archive format: magic, header, one metadata document per collection, a terminator, then
 * interleaved namespace segments (header, documents, terminator) and one EOF header per namespace.
 */
export async function* mongodumpArchiveEvents(
  reader: ByteReader,
  limits: RunLimits,
  onSkipped?: (skipped: SkippedContent) => void,
): AsyncGenerator<ArchiveEvent> {
  await reader.read(4);
  const header = await readControlDocument(reader, "archive header");
  if (header.version !== "0.1") {
    throw new ArchiveError(`unsupported mongodump archive version ${String(header.version)}`);
  }
  const open = new Map<string, number>();
  const checksums = new Map<string, Crc64>();
  let collections = 0;
  for (;;) {
    const peek = await reader.peek(4);
    if (peek.length < 4) throw new ArchiveError("archive is truncated in its collection list");
    if (peek.readInt32LE(0) === TERMINATOR) {
      await reader.read(4);
      break;
    }
    const entry = await readControlDocument(reader, "collection metadata");
    const db = String(entry.db);
    const collection = String(entry.collection);
    const namespace = `${db}.${collection}`;
    open.set(namespace, 0);
    checksums.set(namespace, new Crc64());
    if (namespace === OPLOG_NAMESPACE) continue;
    const metadata = decodeMetadata(String(entry.metadata ?? "{}"), namespace);
    collections += 1;
    yield { type: "collection-metadata", db, collection, metadata };
  }
  if (collections === 0) {
    throw new ArchiveError("archive holds nothing to restore: its collection list is empty");
  }
  while (!(await reader.atEnd())) {
    const segment = await readControlDocument(reader, "namespace header");
    const db = String(segment.db);
    const collection = String(segment.collection);
    const namespace = `${db}.${collection}`;
    const count = open.get(namespace);
    if (count === undefined) {
      throw new ArchiveError("documents for a namespace that is not in the archive's collection list", {
        namespace,
      });
    }
    if (segment.EOF === true) {
      const terminator = await reader.read(4);
      if (!terminator || terminator.readInt32LE(0) !== TERMINATOR) {
        throw new ArchiveError("namespace end is not followed by a terminator", { namespace });
      }
      const crc = checksums.get(namespace)!.value();
      const expected = typeof segment.CRC === "bigint" ? segment.CRC : BigInt(Number(segment.CRC ?? 0));
      if (crc !== expected) {
        throw new ArchiveError(`CRC-64 of the documents is ${crc}, the archive says ${expected}`, {
          namespace,
        });
      }
      open.delete(namespace);
      if (namespace === OPLOG_NAMESPACE) onSkipped?.({ namespace: "oplog", reason: oplogSkipped(count) });
      else yield { type: "collection-end", db, collection, documentCount: count };
      continue;
    }
    let seen = count;
    for await (const documents of documentRuns(reader, { namespace }, limits, true)) {
      seen += documents.count;
      // The CRC runs over the documents' bytes end to end, exactly what a run holds.
      checksums.get(namespace)!.update(documents.bytes);
      if (namespace !== OPLOG_NAMESPACE) yield { type: "documents", db, collection, documents };
    }
    open.set(namespace, seen);
  }
  if (open.size > 0) {
    throw new ArchiveError(`archive is truncated: no end marker for ${[...open.keys()].join(", ")}`);
  }
}

async function readControlDocument(reader: ByteReader, what: string): Promise<Document> {
  const lengthBytes = await reader.peek(4);
  if (lengthBytes.length < 4) throw new ArchiveError(`archive is truncated before the ${what}`);
  const length = lengthBytes.readInt32LE(0);
  if (length < 5 || length > 16 * 1024 * 1024) throw new ArchiveError(`${what} has invalid length ${length}`);
  const bytes = await reader.read(length);
  if (!bytes) throw new ArchiveError(`archive is truncated inside the ${what}`);
  const problem = checkDocument(bytes, 0, length);
  if (problem) throw new ArchiveError(`${what} is not valid BSON: ${problem}`);
  return BSON.deserialize(bytes, { useBigInt64: true });
}
