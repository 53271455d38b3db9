import type { Collection, Document, MongoClient } from "mongodb";
import { DocumentsDigest, resumeDocumentsDigest } from "../archive/documents-digest";
import { MAX_DOCUMENT_BYTES } from "../archive/bson-walk";
import type { FileSegment } from "../archive/events";
import { SegmentHasher, type SegmentsState } from "../archive/segments";
import { RAW_DOCUMENTS_PER_BATCH, rawFind } from "../mongo/raw-cursor";
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
 * Documents per batch asked of the server. Read as commands (`rawFind`), a batch is one buffer with no object
 * per document, so its cost is its bytes; where the driver's cursor has to be used, it takes at most 1000.
 */
export const DOCUMENTS_PER_BATCH = RAW_DOCUMENTS_PER_BATCH;

/** One pass over a collection's documents, read raw (never decoded), checked, hashed and counted. */
export class CollectionReader {
  private readonly hasher: SegmentHasher;
  private readonly digest: DocumentsDigest;
  private bytes: number;
  private reported: number;
  /** The `_id` of the document that ended the last segment (taken there: a view would pin its whole batch). */
  private boundaryId: string | undefined;
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
   * The documents, a server batch at a time, each batch as one buffer of its documents laid end to end (as in
   * the `.bson`), cut where a segment ends (`atSegmentEnd` then says so). A batch's documents sit apart in the
   * server's reply (each behind its array key), so they are copied once here, and that copy is what is hashed
   * (one update per batch, not per document) and written. Stopping early closes the cursor.
   */
  async *batches(): AsyncGenerator<Buffer> {
    const resume = this.options.resume;
    const collection = this.client.db(this.db).collection(this.readFrom);
    const filter: Document = resume
      ? afterIdFilter(decodeId(resume.lastId), await this.read(() => knowsRareTypes(collection)))
      : {};
    const source = rawFind(this.client, this.db, this.readFrom, {
      filter,
      batchSize: this.options.batchSize ?? DOCUMENTS_PER_BATCH,
      ...(this.options.byId || resume ? { sort: { _id: 1 } } : {}),
    });
    try {
      for (;;) {
        const next = await this.read(() => source.next());
        if (next.done) break;
        let run: Buffer[] = [];
        let runBytes = 0;
        let toSegmentEnd = this.hasher.bytesToSegmentEnd;
        for (const document of next.value) {
          this.take(document);
          run.push(document);
          runBytes += document.length;
          if (runBytes >= toSegmentEnd) {
            yield this.seal(run, runBytes);
            run = [];
            runBytes = 0;
            toSegmentEnd = this.hasher.bytesToSegmentEnd;
          }
        }
        this.boundary = false;
        if (run.length > 0) yield this.seal(run, runBytes);
        this.report(false);
      }
      this.report(true);
    } finally {
      await source.return(undefined).catch(() => undefined);
    }
  }

  /** True when the batch just yielded ended a segment: a place where the read may stop and resume. */
  get atSegmentEnd(): boolean {
    return this.boundary;
  }

  /** Where the read stands; only at a segment end. */
  position(): ReadPosition {
    if (!this.boundary || this.boundaryId === undefined)
      throw new Error(`${this.namespace}: a read position exists only where a segment ends`);
    return {
      lastId: this.boundaryId,
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

  /** Checks, digests and counts one document (a view into the batch the driver received). */
  private take(document: Buffer): void {
    if (document.length > MAX_DOCUMENT_BYTES) {
      throw new Error(
        `${this.namespace}: document #${this.digest.documents + 1} is ${document.length} bytes, above the BSON limit of ${MAX_DOCUMENT_BYTES}`,
      );
    }
    this.digest.add(document);
    this.bytes += document.length;
  }

  /** The run's documents in one buffer, hashed into the current segment (which may end with the run). */
  private seal(run: Buffer[], runBytes: number): Buffer {
    const bytes = Buffer.concat(run, runBytes);
    this.boundary = this.hasher.addRun(bytes, run.length);
    if (this.boundary) this.boundaryId = encodeId(idOf(run.at(-1)!));
    return bytes;
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
): Promise<{ runs: Buffer[]; summary: CollectionSummary } | undefined> {
  const runs: Buffer[] = [];
  for await (const run of reader.batches()) {
    if (reader.bytesRead > limit) return undefined;
    runs.push(run);
  }
  return { runs, summary: reader.summary() };
}

/**
 * The collection's size as the server reports it (`collStats`: its documents' bytes), or undefined when the
 * server will not say. An estimate (it may lag behind writes): it only spares a collection known to be larger
 * than the read-ahead from being read ahead in part and then read again from the start.
 */
export async function reportedSize(
  client: MongoClient,
  db: string,
  collection: string,
): Promise<number | undefined> {
  try {
    const stats = await client.db(db).command({ collStats: collection });
    const size = Number(stats.size);
    return Number.isFinite(size) && size >= 0 ? size : undefined;
  } catch {
    return undefined;
  }
}
