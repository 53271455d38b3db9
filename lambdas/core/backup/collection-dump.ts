import { createHash } from "node:crypto";
import type { MongoClient } from "mongodb";
import { DocumentsDigest } from "../archive/documents-digest";
import { MAX_DOCUMENT_BYTES } from "../archive/bson-walk";

/** What the manifest says of a collection's `.bson`: counted and hashed as the documents pass. */
export interface CollectionSummary {
  documents: number;
  bytes: number;
  sha256: string;
  documentsDigest: string;
}

export interface ReadOptions {
  /** Documents per batch (default DOCUMENTS_PER_BATCH). */
  batchSize?: number;
  onDocuments?: (documents: number, bytes: number) => void;
}

/**
 * The driver turns every batch it holds into one parsed object per document (with its fields' offsets), kept
 * until the batch is consumed, so its heap grows with the documents per batch, not their bytes. The server's
 * default batch (up to 16 MiB: some 60,000 small documents), two at once with the read-ahead, took the heap to
 * ~310 MB against a fast server; 1000 documents keep it under ~50 MB. Large documents stay bounded by the
 * server's 16 MiB cap on a batch.
 */
export const DOCUMENTS_PER_BATCH = 1000;

/** One pass over a collection's documents, read raw (never decoded), checked, hashed and counted. */
export class CollectionReader {
  private readonly hash = createHash("sha256");
  private readonly digest = new DocumentsDigest();
  private bytes = 0;
  private reported = 0;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    private readonly readFrom: string,
    private readonly namespace: string,
    private readonly options: ReadOptions = {},
  ) {}

  /** The documents, a server batch at a time. Stopping early closes the cursor. */
  async *batches(): AsyncGenerator<Buffer[]> {
    const cursor = this.client
      .db(this.db)
      .collection(this.readFrom)
      .find({}, { raw: true, batchSize: this.options.batchSize ?? DOCUMENTS_PER_BATCH });
    try {
      // Asking for the next batch before handing on the current one keeps the server busy meanwhile.
      let more = await this.read(() => cursor.hasNext());
      while (more) {
        const batch = cursor.readBufferedDocuments() as unknown as Uint8Array[];
        const next = this.read(() => cursor.hasNext());
        next.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
        yield batch.map((raw) => this.take(raw));
        this.report(false);
        more = await next;
      }
      this.report(true);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  summary(): CollectionSummary {
    return {
      documents: this.digest.documents,
      bytes: this.bytes,
      sha256: this.hash.copy().digest("hex"),
      documentsDigest: this.digest.hex(),
    };
  }

  get bytesRead(): number {
    return this.bytes;
  }

  private take(raw: Uint8Array): Buffer {
    // A view into the batch the driver received (not a copy): the batch holds little besides documents.
    const document = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (document.length > MAX_DOCUMENT_BYTES) {
      throw new Error(
        `${this.namespace}: document #${this.digest.documents + 1} is ${document.length} bytes, above the BSON limit of ${MAX_DOCUMENT_BYTES}`,
      );
    }
    this.hash.update(document);
    this.digest.add(document);
    this.bytes += document.length;
    return document;
  }

  private report(final: boolean): void {
    if (!this.options.onDocuments) return;
    if (final || this.digest.documents - this.reported >= 10_000) {
      this.options.onDocuments(this.digest.documents, this.bytes);
      this.reported = this.digest.documents;
    }
  }

  /** Server errors name the collection being read: "connection closed" alone says nothing of where. */
  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`reading ${this.namespace} from the server failed: ${message}`, { cause: error });
    }
  }
}

/**
 * Reads a collection whole when it holds at most `limit` bytes, so that it can wait in memory for its turn in
 * the archive. A larger one is left (its cursor closed at once, never left idle) and later streamed instead.
 */
export async function readWhole(
  reader: CollectionReader,
  limit: number,
): Promise<{ documents: Buffer[]; summary: CollectionSummary } | undefined> {
  const documents: Buffer[] = [];
  for await (const batch of reader.batches()) {
    if (reader.bytesRead > limit) return undefined;
    for (const document of batch) documents.push(document);
  }
  return { documents, summary: reader.summary() };
}
