import type { Collection, Document, MongoClient } from "mongodb";
import { DocumentsDigest, resumeDocumentsDigest } from "../archive/documents-digest";
import { MAX_DOCUMENT_BYTES } from "../archive/bson-walk";
import type { FileSegment } from "../archive/events";
import { SegmentHasher, type SegmentsState } from "../archive/segments";
import { afterIdFilter, decodeId, encodeId, idOf, RARE_TYPES } from "./resume-filter";

/** What the manifest says of a collection's `.bson`: counted and hashed as the documents pass. */
export interface CollectionSummary {
  documents: number;
  bytes: number;
  sha256?: string;
  segments?: FileSegment[];
  documentsDigest: string;
}

/** Where a read stopped at a segment boundary: what the next invocation needs to read on from there. */
export interface ReadPosition {
  /** The last `_id` read, as canonical Extended JSON. */
  lastId: string;
  hashed: SegmentsState;
  documentsDigest: string;
}

export interface ReadOptions {
  /** Documents per batch (default DOCUMENTS_PER_BATCH). */
  batchSize?: number;
  /** Read in `_id` order, so that a later invocation can resume after the last `_id` read. */
  byId?: boolean;
  /** Go on from a position an earlier invocation stopped at (implies `byId`). */
  resume?: ReadPosition;
  /** Bytes of a .bson segment (default SEGMENT_BYTES). */
  segmentBytes?: number;
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
  private readonly hasher: SegmentHasher;
  private readonly digest: DocumentsDigest;
  private bytes: number;
  private reported: number;
  private lastDocument: Buffer | undefined;
  private boundary = false;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    private readonly readFrom: string,
    private readonly namespace: string,
    private readonly options: ReadOptions = {},
  ) {
    const resume = options.resume;
    this.hasher = new SegmentHasher(options.segmentBytes, resume?.hashed);
    this.digest = resume
      ? resumeDocumentsDigest(resume.documentsDigest, resume.hashed.documents)
      : new DocumentsDigest();
    this.bytes = resume?.hashed.bytes ?? 0;
    this.reported = this.digest.documents;
  }

  /**
   * The documents, a server batch at a time, cut where a segment ends (`atSegmentEnd` then says so). Stopping
   * early closes the cursor.
   */
  async *batches(): AsyncGenerator<Buffer[]> {
    const resume = this.options.resume;
    const collection = this.client.db(this.db).collection(this.readFrom);
    const filter: Document = resume
      ? afterIdFilter(decodeId(resume.lastId), await this.read(() => knowsRareTypes(collection)))
      : {};
    const cursor = collection.find(filter, {
      raw: true,
      batchSize: this.options.batchSize ?? DOCUMENTS_PER_BATCH,
      ...(this.options.byId || resume ? { sort: { _id: 1 } } : {}),
    });
    try {
      // Asking for the next batch before handing on the current one keeps the server busy meanwhile.
      let more = await this.read(() => cursor.hasNext());
      while (more) {
        const batch = cursor.readBufferedDocuments() as unknown as Uint8Array[];
        const next = this.read(() => cursor.hasNext());
        next.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
        let run: Buffer[] = [];
        for (const raw of batch) {
          run.push(this.take(raw));
          if (this.boundary) {
            yield run;
            run = [];
          }
        }
        this.boundary = false;
        if (run.length > 0) yield run;
        this.report(false);
        more = await next;
      }
      this.report(true);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  /** True when the batch just yielded ended a segment: a place where the read may stop and resume. */
  get atSegmentEnd(): boolean {
    return this.boundary;
  }

  /** Where the read stands; only at a segment end. */
  position(): ReadPosition {
    if (!this.lastDocument) throw new Error(`${this.namespace}: no document read yet`);
    return {
      lastId: encodeId(idOf(this.lastDocument)),
      hashed: this.hasher.state(),
      documentsDigest: this.digest.hex(),
    };
  }

  summary(): CollectionSummary {
    return {
      documents: this.digest.documents,
      bytes: this.bytes,
      ...this.hasher.finish(),
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
    this.boundary = this.hasher.add(document);
    this.digest.add(document);
    this.bytes += document.length;
    this.lastDocument = document;
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

/** Whether the server knows the rare BSON types' `$type` aliases (MongoDB does; FerretDB refuses them). */
async function knowsRareTypes(collection: Collection): Promise<boolean> {
  try {
    await collection.findOne({ _id: { $type: RARE_TYPES as never } }, { projection: { _id: 1 } });
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 2 && /type/i.test((error as Error).message)) return false;
    throw error;
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
