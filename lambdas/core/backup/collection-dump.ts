import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { once } from "node:events";
import type { MongoClient } from "mongodb";
import { DocumentsDigest } from "../archive/documents-digest";
import { MAX_DOCUMENT_BYTES } from "../archive/bson-walk";

/**
 * One collection's documents, read raw and held until the archive can take them. A tar entry needs its size
 * first, so a collection that outgrows the in-memory threshold is spooled to a temp file instead.
 */
export interface DumpedCollection {
  documents: number;
  bytes: number;
  sha256: string;
  documentsDigest: string;
  /** The `.bson` content, read once: the documents themselves, or a stream of the spool file. */
  open(): Readable | Buffer[];
  /** Removes the spool file, if any (idempotent). */
  dispose(): Promise<void>;
}

export interface DumpOptions {
  /** Collections up to this many bytes stay in memory (default 16 MiB). */
  memoryThreshold: number;
  tempDir?: string;
  /** Documents per batch (default: the server's choice). */
  batchSize?: number;
  onDocuments?: (documents: number, bytes: number) => void;
}

export async function dumpCollection(
  client: MongoClient,
  db: string,
  readFrom: string,
  namespace: string,
  options: DumpOptions,
): Promise<DumpedCollection> {
  const hash = createHash("sha256");
  const digest = new DocumentsDigest();
  let chunks: Buffer[] = [];
  let bytes = 0;
  let spool: { dir: string; path: string; stream: WriteStream } | undefined;
  const dispose = async (): Promise<void> => {
    if (!spool) return;
    spool.stream.destroy();
    await rm(spool.dir, { recursive: true, force: true });
  };

  try {
    // No batchSize: the server's default (16 MiB batches on MongoDB) keeps round trips few.
    const cursor = client.db(db).collection(readFrom).find({}, { raw: true, batchSize: options.batchSize });
    let reported = 0;
    // Asking for the next batch before handling the current one keeps the server busy while we hash and copy.
    let more = await cursor.hasNext();
    while (more) {
      const batch = cursor.readBufferedDocuments() as unknown as Uint8Array[];
      const next = cursor.hasNext();
      next.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      for (const raw of batch) {
        const document = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        if (document.length > MAX_DOCUMENT_BYTES) {
          throw new Error(
            `${namespace}: document #${digest.documents + 1} is ${document.length} bytes, above the BSON limit of ${MAX_DOCUMENT_BYTES}`,
          );
        }
        hash.update(document);
        digest.add(document);
        bytes += document.length;
        if (spool) {
          if (!spool.stream.write(document)) await once(spool.stream, "drain");
        } else {
          // A view into the batch the driver received (not a copy): the batch holds little besides documents.
          chunks.push(document);
          if (bytes > options.memoryThreshold) {
            const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), "atlas-ops-spool-"));
            const path = join(dir, "collection.bson");
            spool = { dir, path, stream: createWriteStream(path) };
            for (const chunk of chunks) spool.stream.write(chunk);
            chunks = [];
          }
        }
      }
      if (options.onDocuments && digest.documents - reported >= 10_000) {
        options.onDocuments(digest.documents, bytes);
        reported = digest.documents;
      }
      more = await next;
    }
    await cursor.close();
    if (spool) {
      spool.stream.end();
      await once(spool.stream, "close");
      if (spool.stream.errored) throw spool.stream.errored;
    }
    options.onDocuments?.(digest.documents, bytes);
  } catch (error) {
    await dispose();
    throw error;
  }

  const spooled = spool;
  const memory = chunks;
  return {
    documents: digest.documents,
    bytes,
    sha256: hash.digest("hex"),
    documentsDigest: digest.hex(),
    open: () => (spooled ? createReadStream(spooled.path, { highWaterMark: 1024 * 1024 }) : memory!),
    dispose,
  };
}
