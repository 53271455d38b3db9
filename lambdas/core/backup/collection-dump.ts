import { createHash } from "node:crypto";
import type { MongoClient } from "mongodb";
import { DocumentsDigest } from "../archive/documents-digest";
import { MAX_DOCUMENT_BYTES } from "../archive/bson-walk";
import { RAW_DOCUMENTS_PER_BATCH, rawFind } from "../mongo/raw-cursor";

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
 * Documents per batch asked of the server. Read as commands (`rawFind`), a batch is one buffer with no object
 * per document, so its cost is its bytes; where the driver's cursor has to be used, it takes at most 1000.
 */
export const DOCUMENTS_PER_BATCH = RAW_DOCUMENTS_PER_BATCH;

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
    const source = rawFind(this.client, this.db, this.readFrom, {
      batchSize: this.options.batchSize ?? DOCUMENTS_PER_BATCH,
    });
    try {
      for (;;) {
        const next = await this.read(() => source.next());
        if (next.done) break;
        yield next.value.map((document) => this.take(document));
        this.report(false);
      }
      this.report(true);
    } finally {
      await source.return(undefined).catch(() => undefined);
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

  private take(document: Buffer): Buffer {
    // A view into the batch the driver received (not a copy): the batch holds little besides documents.
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
